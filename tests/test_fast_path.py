"""The fast path is a setting of the same loop: it must train what the eager float32 reference trains."""
import contextlib
import pytest
import torch
from zscore_kd.data import DeviceLoader
from zscore_kd.images import make_synthetic
from zscore_kd.models import get_model
from zscore_kd.runs import resolve_config
from zscore_kd.teachers import teacher_logits_fn
from zscore_kd.train import Learner, autocast_for
from zscore_kd.steps import EagerSteps, StepGraphs

DATA = make_synthetic(n_train=200, n_test=50, num_classes=10, num_superclasses=5)

def learners(tmp, **kw):
    base = dict(teacher='resnet8', student='resnet8', epochs=3, device='cpu', out_dir=str(tmp))
    return [Learner(resolve_config(method=m, logit_stand=s, **{**base, **kw}), 10)
            for m, s in (('kd', True), ('dkd', False))]

def train(ls, runner_cls, epochs=3, teacher_cache=False, **kw):
    torch.manual_seed(0)
    teacher = get_model('resnet8', 10).eval()
    c = ls[0].c
    fn = teacher_logits_fn(teacher, c, DATA.train_x, 1, False, autocast_for(c))
    runner = runner_cls(ls, fn, **kw)
    loader = DeviceLoader(DATA.train_x, DATA.train_y, 64, seed=0, channels_last=c.channels_last)
    losses = []
    for e in range(1, epochs + 1):
        for L in ls: L.begin_epoch(e)
        for b in loader.epoch(e):
            runner(ls, b)
            losses.append(ls[0].sums[0].item())
    return losses

class FakeStream:
    def wait_stream(self, other): pass

class FakeGraph:
    "Records a step instead of running it; replay re-runs it on the same static buffers, as a CUDA graph would."
    def __init__(self, fn): self.fn = fn
    def replay(self): self.fn()

class CPUGraphs(StepGraphs):
    "StepGraphs' bookkeeping (static buffers, warm-up, per-size capture, replay) with the CUDA primitives faked."
    def _new_stream(self): return FakeStream()
    def _main_stream(self): return FakeStream()
    def _on(self, stream): return contextlib.nullcontext()
    def _capture(self, fn, stream, owner): return FakeGraph(fn)

def test_graph_runner_trains_each_batch_exactly_once(tmp_path):
    eager, graphed = learners(tmp_path / 'a'), learners(tmp_path / 'b')
    train(eager, EagerSteps)
    runner_losses = train(graphed, CPUGraphs, warmup=1)
    for a, b in zip(eager, graphed):
        sa, sb = a.model.state_dict(), b.model.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), 'the graphed runner changed what was trained'
    assert len(runner_losses) == 3 * 4

def test_graph_runner_captures_per_batch_size(tmp_path):
    ls = learners(tmp_path)
    torch.manual_seed(0)
    teacher = get_model('resnet8', 10).eval()
    runner = CPUGraphs(ls, teacher_logits_fn(teacher, ls[0].c, DATA.train_x, 1, False, autocast_for(ls[0].c)),
                       warmup=1)
    loader = DeviceLoader(DATA.train_x, DATA.train_y, 64, seed=0)
    for e in (1, 2, 3):
        for L in ls: L.begin_epoch(e)
        for b in loader.epoch(e): runner(ls, b)
    assert sorted(k[1] for k in runner.graphs) == [8, 8, 8, 64, 64, 64]  # teacher + 2 students, for sizes 64 and 8

def test_channels_last_matches_reference(tmp_path):
    ref = train(learners(tmp_path / 'a'), EagerSteps, epochs=1)
    cl = train(learners(tmp_path / 'b', channels_last=True), EagerSteps, epochs=1)
    assert cl == pytest.approx(ref, rel=1e-4)

def test_teacher_cache_matches_online_teacher(tmp_path):
    ref = train(learners(tmp_path / 'a'), EagerSteps, epochs=1)
    cached = train(learners(tmp_path / 'b', teacher_cache=True), EagerSteps, epochs=1)
    assert cached == pytest.approx(ref, rel=1e-4)

def test_bf16_autocast_trains_close_to_fp32(tmp_path):
    ref = train(learners(tmp_path / 'a'), EagerSteps, epochs=1)
    bf16 = train(learners(tmp_path / 'b', precision='bf16'), EagerSteps, epochs=1)
    assert all(torch.isfinite(torch.tensor(bf16))) and bf16 == pytest.approx(ref, rel=0.05)

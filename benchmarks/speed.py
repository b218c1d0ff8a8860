#!/usr/bin/env python
"""Training speed of zscore_kd's fast path against the classic DataLoader path, measured in the same run.

    python benchmarks/speed.py --out benchmarks/results/h200     # every method, fast vs classic, on the GPU (~10 min)
    python benchmarks/speed.py --smoke                           # a CPU smoke run of every measurement

The workload is the paper's: resnet32x4 -> resnet8x4, batch 64, SGD, CIFAR-100-shaped data (50k train / 10k test;
random uint8 images, since content does not change the cost of a step). The classic path is what the official code
does: a torch DataLoader of PIL images through torchvision transforms (8 workers), eager float32, the teacher forward
every step. The fast path is the same trainer with data and augmentation on the GPU, bf16 autocast, channels_last,
whole-step CUDA graphs and (optionally) torch.compile. Every ratio divides two numbers measured by this run on this
machine. `check.py`, the one-command GPU check, is built from the measurements defined here.
"""
import argparse, contextlib, copy, json, math, platform, tempfile, time, traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from check import add_ratios, speed_table  # the tables the check prints too (benchmarks/check.py, no torch inside)
# the library, in one block (the names to port when modules move)
from zscore_kd.data import DeviceLoader, classic_loader
from zscore_kd.images import ImageData
from zscore_kd.models import get_model
from zscore_kd.runs import resolve_config, SPEED_FLAGS
from zscore_kd.train import Learner, autocast_for, evaluate, fit
from zscore_kd.teachers import teacher_logits_fn
from zscore_kd.steps import EagerSteps, StepGraphs

CIFAR_TRAIN = 50_000                      # images per CIFAR-100 training epoch
# The official code (the LS repository's tools/train.py, mdistiller-based), one H200, torch 2.11 cu130, 2026-11-26:
OFFICIAL_H200 = {'kd': 4_020, 'mlkd': 2_010}  # student images/s: KD+LS with 8 loader workers, MLKD+LS (two views)
FAST = dict(precision='bf16', channels_last=True, cuda_graphs=True)  # the fast path's flags (compile: on request)

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def random_data(n_train, n_test, device, num_classes=100, seed=0) -> ImageData:
    "CIFAR-shaped random uint8 images and labels, on `device`."
    g = torch.Generator().manual_seed(seed)
    img = lambda n: torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    lab = lambda n: torch.randint(0, num_classes, (n,), generator=g)
    return ImageData(img(n_train), lab(n_train), img(n_test), lab(n_test), num_classes, name='random').to(device)

class FakeGraphs(StepGraphs):
    "`StepGraphs` with the CUDA primitives faked (a 'graph' re-runs the recorded step): its bookkeeping on a CPU."
    def _new_stream(self): return SimpleNamespace(wait_stream=lambda other: None)
    def _main_stream(self): return self._new_stream()
    def _on(self, stream): return contextlib.nullcontext()
    def _capture(self, fn, stream, owner): return SimpleNamespace(replay=fn)

def make_runner(learners, teacher_fn, graphs: bool, device, warmup: int = 3):
    "The step runner: whole-step CUDA graphs when asked for (faked on a CPU), else the eager reference."
    if not graphs: return EagerSteps(learners, teacher_fn)
    return (StepGraphs if device.type == 'cuda' else FakeGraphs)(learners, teacher_fn, warmup=warmup)

def batches(loader, device, batch_size: int = None):
    "Batches forever (epoch 1, 2, ...), moved to `device`; with `batch_size`, only full ones (no new shape to capture)."
    e = 0
    while True:
        e += 1
        for b in (loader.epoch(e) if isinstance(loader, DeviceLoader) else loader):
            if batch_size is None or len(b['y']) == batch_size:
                yield {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in b.items()}

class GPUClock:
    "Seconds of GPU work between two CUDA events, the first recorded now: no host sync inside the timed window."
    def __init__(self):
        self.start, self.end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        self.start.record()
    def seconds(self) -> float:
        self.end.record(); self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3

class WallClock:
    "Wall seconds since now (the CPU, where every step runs synchronously)."
    def __init__(self): self.start = time.perf_counter()
    def seconds(self) -> float: return time.perf_counter() - self.start

@dataclass
class Bench:
    "What every measurement shares: device, data, the teacher, sizes and the time each measurement may take."
    device: torch.device
    data: ImageData                       # the speed rows' data (50k random images on the GPU)
    cache_data: ImageData                 # a smaller set for the teacher-cache rows (162 teacher forwards per image)
    teacher: torch.nn.Module              # the frozen teacher (random weights: they do not change the speed)
    tmp: str                              # run folders go here
    teacher_name: str = 'resnet32x4'
    student: str = 'resnet8x4'
    batch: int = 64
    seconds: float = 5.0                  # timed seconds per measurement (after warm-up)
    warmup: int = 12                      # untimed steps: cuDNN autotuning, compile, graph capture
    max_steps: int = 2000
    graph_warmup: int = 3                 # eager steps before a CUDA graph is captured
    workers: int = 8                      # classic path: DataLoader workers
    fast_opts: dict = None                # the fast path's flags (None: FAST)
    rows: int = 0

    def learners(self, method, stand, n=1, **opts):
        "`n` students of one configuration (several: λ_KD 9, 10, ... so that they differ), in a fresh folder."
        self.rows += 1
        cs = [resolve_config(method=method, logit_stand=stand, teacher=self.teacher_name, student=self.student,
                             epochs=240, batch_size=self.batch, device=str(self.device),
                             out_dir=f'{self.tmp}/r{self.rows}', kd_weight=9.0 + i if n > 1 else None, **opts)
              for i in range(n)]
        return [Learner(c, self.data.num_classes) for c in cs]

    def timed(self, runner, ls, it):
        "Warm up, then time steps for about `seconds`: (seconds per step, steps timed, warm-up seconds, peak GiB)."
        for L in ls: L.begin_epoch(1)
        t0 = time.perf_counter()
        for _ in range(self.warmup): runner(ls, next(it))  # cuDNN autotuning, graph capture, compile: all done here
        sync(self.device); warm = time.perf_counter() - t0
        cuda = self.device.type == 'cuda'
        if cuda: torch.cuda.reset_peak_memory_stats()
        clock = GPUClock() if cuda else WallClock()
        n, start = 0, time.perf_counter()
        while n < self.max_steps and (n < 3 or time.perf_counter() - start < self.seconds):
            runner(ls, next(it)); n += 1
        sec = clock.seconds() / n
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float('nan')
        return sec, n, warm, peak

    def setup(self, method, stand, fast=True, n=1, cache=False, compile=False):
        "Learners, the step runner and the endless batch stream of one configuration."
        data = self.cache_data if cache else self.data
        flags = (self.fast_opts or FAST) if fast else {}
        ls = self.learners(method, stand, n, teacher_cache=cache, compile=compile, **flags)
        c, strong = ls[0].c, ls[0].method.views == 2
        teacher = copy.deepcopy(self.teacher).to(memory_format=torch.channels_last) if fast else self.teacher
        fn = teacher_logits_fn(teacher, c, data.train_x, ls[0].method.views, False, autocast_for(c))
        if fast:  # the last partial batch is dropped: one batch size, so no capture or recompile in a timed window
            loader = DeviceLoader(data.train_x, data.train_y, self.batch, seed=0, strong=strong, drop_last=True,
                                  channels_last=c.channels_last)
        else: loader = classic_loader(data, batch_size=self.batch, num_workers=self.workers, strong=strong)
        runner = make_runner(ls, fn, fast, self.device, self.graph_warmup)
        return ls, runner, batches(loader, self.device, self.batch)

    def measure(self, name, method, stand, fast=True, n=1, cache=False, compile=False) -> dict:
        "One row: ms/step, student images/s, projected time of the recipe (240 epochs; MLKD 480), peak memory."
        ls, runner, it = self.setup(method, stand, fast, n, cache, compile)
        sec, steps, warm, peak = self.timed(runner, ls, it)
        c = ls[0].c
        test = DeviceLoader(self.data.test_x, self.data.test_y, 500, shuffle=False, augment=False,
                            channels_last=c.channels_last)
        sync(self.device); t0 = time.perf_counter(); evaluate(ls[0].model, test, autocast_for(c)); sync(self.device)
        eval_s, epochs = time.perf_counter() - t0, 480 if method == 'mlkd' else 240
        ips = self.batch * n / sec
        path = 'fast' if fast else f'classic ({self.workers} workers)'
        row = dict(name=name, method=method, logit_stand=stand, path=path, students=n, teacher_cache=cache,
                   compile=compile, ms_per_step=1e3 * sec, steps_timed=steps, warmup_s=warm,
                   student_images_per_s=ips, epochs=epochs, peak_gib=peak,
                   projected_minutes=epochs * (math.ceil(CIFAR_TRAIN / self.batch) * sec + eval_s * n) / 60,
                   x_official_h200=ips / OFFICIAL_H200['mlkd' if method == 'mlkd' else 'kd'])
        print(f"{name:<40} {row['ms_per_step']:8.2f} ms/step {ips:9,.0f} img/s "
              f"{row['projected_minutes']:8.1f} min/{epochs} ep "
              f"peak {peak:.2f} GiB  (warm-up {warm:.1f} s, {steps} steps timed)", flush=True)
        return row

    def step_losses(self, method, graphs: bool, steps: int, epochs: int = 2) -> list:
        "float32 per-step losses of one student over `epochs` short epochs, `steps` in all (epoch-set weights change)."
        torch.manual_seed(0)
        L = self.learners(method, True, cuda_graphs=graphs)[0]
        n = steps // epochs * self.batch
        x, y = self.data.train_x[:n], self.data.train_y[:n]
        fn = teacher_logits_fn(self.teacher, L.c, x, L.method.views, False, autocast_for(L.c))
        runner = make_runner([L], fn, graphs, self.device, self.graph_warmup)
        loader, losses = DeviceLoader(x, y, self.batch, seed=0, strong=L.method.views == 2), []
        for e in range(1, epochs + 1):
            L.begin_epoch(e)
            for b in loader.epoch(e): L.sums.zero_(); runner([L], b); losses.append(L.sums[0].item() / len(b['y']))
        return losses

    def equivalence(self, method, steps=24) -> dict:
        "CUDA-graph step vs eager step in float32, same batches: the largest relative difference of per-step losses."
        ref, graph = self.step_losses(method, False, steps), self.step_losses(method, True, steps)
        rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(graph, ref))
        print(f'{method.upper():<5} CUDA graph vs eager, fp32, {steps} steps over 2 epochs: '
              f'max relative loss difference {rel:.2e}', flush=True)
        return dict(method=method, steps=steps, max_rel_diff=rel, eager=ref, graph=graph)

    def profile(self, method='kd', stand=True, cache=False, compile=False, steps=10) -> dict:
        "torch.profiler over `steps` fast steps: GPU kernel time per step against wall time (launch- vs kernel-bound)."
        from torch.profiler import profile, ProfilerActivity
        ls, runner, it = self.setup(method, stand, True, 1, cache, compile)
        for L in ls: L.begin_epoch(1)
        for _ in range(self.warmup): runner(ls, next(it))
        cuda = self.device.type == 'cuda'
        sync(self.device); t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as p:
            for _ in range(steps): runner(ls, next(it))
            sync(self.device)
        wall = 1e3 * (time.perf_counter() - t0) / steps
        return summarize_profile(p.key_averages(), wall, steps, cuda)

def summarize_profile(events, wall_ms, steps, cuda) -> dict:
    "Kernel time (GPU) or op time (CPU) per step, its share of the wall time, and the five largest entries."
    dev = lambda e: getattr(e, 'self_device_time_total', None) or getattr(e, 'self_cuda_time_total', 0)
    if cuda: items = [(e.key, dev(e), e.count) for e in events if str(e.device_type).endswith('CUDA') and dev(e) > 0]
    else: items = [(e.key, e.self_cpu_time_total, e.count) for e in events if e.self_cpu_time_total > 0]
    items.sort(key=lambda t: -t[1])
    busy = sum(t for _, t, _ in items) / 1e3 / steps
    share = busy / wall_ms
    verdict = ('CPU (no GPU profile)' if not cuda else 'no kernel records (the profiler saw none)' if not items else
               'kernel-bound' if share >= 0.8 else 'launch-bound (the GPU idles between kernels)')
    kernels = sum(c for *_, c in items) / steps
    out = dict(wall_ms_per_step=wall_ms, busy_ms_per_step=busy, busy_share=share, kernels_per_step=kernels,
               verdict=verdict, top=[dict(name=k[:80], ms_per_step=t / 1e3 / steps) for k, t, _ in items[:5]])
    where = 'in GPU kernels' if cuda else 'in CPU ops'
    print(f"profile: {wall_ms:.2f} ms/step wall, {busy:.2f} ms/step {where} ({100 * share:.0f}%), "
          f"{out['kernels_per_step']:.0f} per step -> {verdict}", flush=True)
    for t in out['top']: print(f"   {t['ms_per_step']:7.3f} ms/step  {t['name']}", flush=True)
    return out

def accuracy(device, tmp, student, n_train, n_test, epochs, teacher_epochs, fast: dict) -> dict:
    "One ResNet-56 teacher (float32), then KD+LS students with speed='exact' and with `fast` (flags), same seed."
    data = dict(device=str(device), out_dir=f'{tmp}/acc', data_args=dict(n_train=n_train, n_test=n_test))
    t = fit(method='vanilla', student='resnet56', epochs=teacher_epochs, speed='exact', progress=False, **data)
    print(f"teacher resnet56: final {t['final']['top1']:.2f} ({teacher_epochs} epochs, {t['wall_time_s']:.0f} s)",
          flush=True)
    base = dict(method='kd', logit_stand=True, teacher='resnet56', student=student, epochs=epochs, **data,
                teacher_checkpoint=str(Path(t['run_dir']) / 'student_best.pth'))  # both students: this teacher
    out = {}
    for name, opts in (('exact', dict(speed='exact')), ('fast', fast)):
        r = fit(progress=False, **base, **opts)
        out[name] = dict(final=r['final']['top1'], best=r['best']['top1'], best_epoch=r['best']['epoch'],
                         wall_time_s=r['wall_time_s'], speed=r['config']['speed'],
                         **{k: r['config'][k] for k in SPEED_FLAGS})
        print(f"{name:<6} final {r['final']['top1']:6.2f}  best {r['best']['top1']:6.2f}  "
              f"({epochs} epochs, {r['wall_time_s']:.0f} s; "
              + ', '.join(f'{k}={r["config"][k]}' for k in SPEED_FLAGS) + ')', flush=True)
    return out

def make_bench(smoke: bool, tmp: str, seconds: float = 5.0, cache_images: int = 2560) -> Bench:
    "The paper's workload on the GPU (resnet32x4 -> resnet8x4, batch 64, 50k images); tiny on the CPU (`smoke`)."
    device = torch.device('cuda' if torch.cuda.is_available() and not smoke else 'cpu')
    torch.backends.cudnn.benchmark = True
    n_train, n_test = (CIFAR_TRAIN, 10_000) if not smoke else (256, 64)
    data = random_data(n_train, n_test, device)
    cache_data = random_data(cache_images if not smoke else 32, n_test, device, seed=1)
    tname, student = ('resnet32x4', 'resnet8x4') if not smoke else ('resnet8', 'resnet8')
    torch.manual_seed(0)
    teacher = get_model(tname, data.num_classes).to(device).eval()
    if not smoke: return Bench(device, data, cache_data, teacher, tmp, tname, student, seconds=seconds)
    # bf16 on a CPU is slow
    return Bench(device, data, cache_data, teacher, tmp, tname, student, batch=16, seconds=0.0, warmup=2, max_steps=3,
                 graph_warmup=1, workers=0, fast_opts=dict(channels_last=True, cuda_graphs=True))

def safely(measure, name: str, method: str, fast: bool = True) -> dict:
    "`measure()` (one row), or a row naming the exception instead: one failing configuration never stops the next."
    try: return measure()
    except Exception as e:
        traceback.print_exc()
        path = f"{'fast' if fast else 'classic'} (failed)"  # not a speed: whoever reads 'fast' rows skips it
        return dict(name=name, method=method, path=path, students=1, error=f'{type(e).__name__}: {e}'[:300])

def every_method(smoke: bool, compile: bool) -> list:
    "speed.py's rows: (name, method, logit_stand, options) of the classic path and of every method's fast path."
    rows = [('classic KD+LS', 'kd', True, dict(fast=False)), ('classic MLKD+LS', 'mlkd', True, dict(fast=False))]
    for m in ('kd', 'dkd', 'ctkd', 'mlkd'):
        for stand in (False, True):
            for comp in (False, True) if compile else (False,):
                rows.append((f"fast {m.upper()}{'+LS' if stand else ''}{', compiled' if comp else ''}", m, stand,
                             dict(compile=comp)))
    n = 8 if not smoke else 2
    return rows + [('fast KD+LS, teacher cache', 'kd', True, dict(cache=True)),
                   (f'fast KD+LS, {n} students', 'kd', True, dict(n=n)),
                   (f'fast KD+LS, {n} students, teacher cache', 'kd', True, dict(n=n, cache=True))]

def write_tables(out, b: Bench, rows: list):
    "speed.md and speed.json in `out` (None: print only), rewritten after every row so that an interruption keeps them."
    hw = torch.cuda.get_device_name() if b.device.type == 'cuda' else f'{platform.machine()} CPU'
    lines = [f'# Training speed on {hw} (torch {torch.__version__}), {b.teacher_name} -> {b.student}, '
             f'batch {b.batch}', '', *speed_table(add_ratios(rows))]
    if out is None: return print('\n'.join(lines))
    out.mkdir(parents=True, exist_ok=True)
    (out / 'speed.json').write_text(json.dumps(dict(hardware=hw, torch=torch.__version__, rows=rows), indent=1))
    (out / 'speed.md').write_text('\n'.join(lines) + '\n')

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', help='folder for speed.json and speed.md')
    ap.add_argument('--smoke', '--quick', action='store_true', help='tiny CPU run of every measurement')
    ap.add_argument('--seconds', type=float, default=5.0, help='timed seconds per measurement')
    ap.add_argument('--compile', action='store_true', help='also measure each fast row with torch.compile')
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        b = make_bench(a.smoke, tmp, a.seconds)
        for name, m, stand, kw in every_method(a.smoke, a.compile):
            rows.append(safely(lambda: b.measure(name, m, stand, **kw), name, m, kw.get('fast', True)))
            if a.out: write_tables(Path(a.out), b, rows)
    write_tables(None, b, rows)

if __name__ == '__main__':
    main()

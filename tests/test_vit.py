"""ViT students end to end: a KD+LS epoch of each through `fit` and through papermill (tiny images), the recipe family
and quirk switches in a real run, and the speed benchmark's CPU smoke mode."""
import json, subprocess, sys
from pathlib import Path

import papermill as pm
import pytest
import torch
from zscore_kd.runs import resolve_config
from zscore_kd.rundir import RunDir
from zscore_kd.train import fit

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(method='kd', logit_stand=True, teacher='resnet56', epochs=1, teacher_epochs=1, batch_size=32, device='cpu',
            data_args=dict(n_train=128, n_test=100), student_args=dict(img_size=32), preset=None)

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "One tiny KD+LS epoch of each student, sharing one on-the-fly teacher."
    out = tmp_path_factory.mktemp('runs')
    students = ('deit_ti', 't2t_vit_7', 'pit_ti', 'pvt_ti')
    return {s: fit(student=s, out_dir=str(out), progress=False, **TINY) for s in students}


@pytest.mark.parametrize('student', ['deit_ti', 't2t_vit_7', 'pit_ti', 'pvt_ti'])
def test_each_student_trains_an_epoch_with_the_adamw_family(runs, student):
    r = runs[student]
    assert r['final']['epoch'] == 1 and r['config']['optimizer'] == 'adamw' and r['config']['teacher_bn_train'] is True
    assert r['method']['logit_stand'] == 'zscore' and r['epochs'] == 1
    hist = RunDir(resolve_config(student=student, out_dir=str(Path(r['run_dir']).parent), **TINY)).history()
    assert len(hist) == 1 and torch.isfinite(torch.tensor(hist[0]['train_loss']))
    assert hist[0]['lr'] == pytest.approx(5e-4)  # 1 epoch: no warm-up (20 of 300 epochs, scaled), cosine starts at lr


def test_deit_trains_both_heads(runs):
    state = torch.load(Path(runs['deit_ti']['run_dir']) / 'student_final.pth', weights_only=True)['model']
    # zero-initialised, both moved
    assert state['head.weight'].abs().sum() > 0 and state['head_dist.weight'].abs().sum() > 0


def test_teacher_bn_switch_changes_the_run(tmp_path):
    a = fit(student='pit_ti', out_dir=str(tmp_path), progress=False, **TINY)
    b = fit(student='pit_ti', out_dir=str(tmp_path), progress=False, teacher_bn_train=False, **TINY)
    assert a['hash'] != b['hash'] and a['final']['top1'] >= 0 and b['config']['teacher_bn_train'] is False
    wa, wb = (torch.load(Path(r['run_dir']) / 'student_final.pth', weights_only=True)['model'] for r in (a, b))
    assert any(not torch.equal(wa[k], wb[k]) for k in wa), 'the teacher BN mode did not change the distillation'


def test_papermill_entry_notebook_trains_a_vit(tmp_path):
    out = tmp_path / 'vit.ipynb'
    params = dict(out_dir=str(tmp_path / 'runs'), student='pvt_ti', teacher='resnet56', epochs=1, teacher_epochs=1,
                  batch_size=32, data_args={'n_train': 128, 'n_test': 100}, student_args={'img_size': 32}, device='cpu')
    pm.execute_notebook(str(ROOT / 'nbs' / '10_train.ipynb'), str(out), parameters=params, kernel_name='python3',
                        cwd=str(ROOT / 'nbs'), progress_bar=False, execution_timeout=600)
    text = json.dumps(json.loads(out.read_text())['cells'][-1]['outputs'])
    assert '| final | 1 |' in text and '| best | 1 |' in text
    assert len(list((tmp_path / 'runs').glob('kd*-pvt_ti-*/result.json'))) == 1


def test_vit_speed_smoke(tmp_path):
    out = subprocess.run([sys.executable, 'benchmarks/vit_speed.py', '--smoke', '--out', str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    md, res = (tmp_path / 'results.md').read_text(), json.loads((tmp_path / 'results.json').read_text())
    for expected in ('| fast train step |', '| classic train step |', 'fast / classic', 'projected 300 epochs'):
        assert expected in md, expected
    assert res['ratio'] > 0 and set(res['projected_minutes']) == {'fast', 'classic'}

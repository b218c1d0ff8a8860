"""Paths resolve inside the repository whatever the working directory; 10_train exposes every RunConfig field."""
import dataclasses, json, os, shutil, subprocess, sys
from pathlib import Path

import papermill as pm

from zscore_kd.config import RunConfig
from zscore_kd.runs import resolve_config
from zscore_kd.rundir import RunDir
from zscore_kd.lineage import teacher_config

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(method='kd', teacher='resnet8', student='resnet8', epochs=1, teacher_epochs=1, device='cpu')
DATA = dict(n_train=256, n_test=128)


def test_train_notebook_has_one_parameter_per_runconfig_field():
    "`sweeps.command` hands any planned run to nbs/10_train.ipynb, so papermill must see every field there."
    params = set(pm.inspect_notebook(str(ROOT / 'nbs' / '10_train.ipynb')))
    as_field = {'gpus': 'world_size'}  # 10_train's gpus is the run's world size (the torchrun processes it launches)
    # force_reuse: a fit() option
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {'request'}  # request: what resolution was asked for
    assert {as_field.get(p, p) for p in params - {'force_reuse'}} == fields


def test_papermill_from_the_repository_root_writes_runs_inside_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'ZSCORE_KD_HOME'}
    c = resolve_config(**TINY, data_args=DATA, logit_stand=True)
    runs = [RunDir(c).path, RunDir(teacher_config(c)).path]
    fresh = [p for p in runs if not p.exists()]
    args = [a for k, v in TINY.items() for a in ('-p', k, str(v))]
    try:
        cmd = [sys.executable, '-m', 'papermill', 'nbs/10_train.ipynb', str(tmp_path / 'out.ipynb'), '-k', 'python3',
               *args, '-y', json.dumps({'data_args': DATA})]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
        assert RunDir(c).path.parent == ROOT / 'runs'
        written = json.loads((RunDir(c).path / 'config.json').read_text())
        assert (written['out_dir'], written['data_root'], written['teacher_root']) == tuple(
            str(ROOT / p) for p in ('runs', 'data', 'data/teachers'))
        assert (RunDir(c).path / 'result.json').is_file()
        assert not (ROOT.parent / 'runs' / RunDir(c).path.name).exists()
    finally:
        for p in fresh: shutil.rmtree(p, ignore_errors=True)


def test_zscore_kd_home_moves_runs_and_data(tmp_path):
    code = ("from zscore_kd.runs import resolve_config; c = resolve_config(method='vanilla'); "
            "print(c.out_dir, c.data_root, c.teacher_root)")
    (tmp_path / 'elsewhere').mkdir()
    env = {**os.environ, 'ZSCORE_KD_HOME': str(tmp_path), 'PYTHONPATH': str(ROOT)}
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path / 'elsewhere', capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    assert out == [str(tmp_path.resolve() / p) for p in ('runs', 'data', 'data/teachers')]

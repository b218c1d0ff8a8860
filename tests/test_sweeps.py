"""Sweeps and commands a notebook cannot hold: a planned run's own command, the process pool, submitit's executor."""
import subprocess
from pathlib import Path

from zscore_kd.sweeps import plan, command, run_local, run_submitit, status, stream_groups
from zscore_kd.rundir import RunDir, registry

ROOT = Path(__file__).resolve().parents[1]

def toy(tmp_path, **kw):
    return plan('main_T2', out_dir=str(tmp_path), device='cpu', **kw)

def test_each_command_trains_its_planned_run(tmp_path):
    planned = toy(tmp_path)
    teacher = next(p for p in planned if p.cell.method == 'teacher')
    student = next(p for p in planned if p.cell.row == 'KD+Ours')
    for p in (teacher, student):
        cmd = command(p)
        assert cmd.startswith('python -m zscore_kd '), cmd
        out = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        assert RunDir(p.config).finished and RunDir(p.config).result()['hash'] == RunDir(p.config).hash
    assert status(student) == 'finished'
    assert {r['folder'] for r in registry(tmp_path)} == {RunDir(p.config).path.name for p in (teacher, student)}

def test_process_pool_equals_in_process(tmp_path):
    configs = lambda out: [p.config for p in toy(out) if p.cell.row in ('KD', 'KD+Ours', 'MLKD', 'MLKD+Ours')]
    pooled, inline = configs(tmp_path / 'pool'), configs(tmp_path / 'inline')
    assert len(stream_groups(pooled)) == 2  # single-view and two-view students: two data streams
    a, b = run_local(pooled, workers=2), run_local(inline, workers=1)
    assert [(r['hash'], r['final'], r['best']) for r in a] == [(r['hash'], r['final'], r['best']) for r in b]

def test_submitit_local_executor(tmp_path):
    configs = [p.config for p in toy(tmp_path) if p.cell.row in ('KD', 'KD+Ours')]
    results = run_submitit(configs, tmp_path / 'submitit', cluster='local', timeout_min=10)
    assert [r['hash'] for r in results] == [RunDir(c).hash for c in configs]
    assert len(list((tmp_path / 'submitit').glob('*_log.out'))) == 2  # one job for the teacher, one for the group

def test_plan_for_a_gpu_on_a_cpu(tmp_path):
    pick = lambda planned: next(p for p in planned if p.cell.row == 'KD+Ours')
    cpu, gpu = pick(toy(tmp_path)), pick(plan('main_T2', out_dir=str(tmp_path), device='cuda'))
    assert gpu.config.device == 'cuda' and RunDir(gpu.config).hash != RunDir(cpu.config).hash
    assert '--device cuda' in command(gpu)

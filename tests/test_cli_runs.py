"""The command line's first answers: `--help` (and `runs --help`) import no torch, so they answer at once, and print the
option groups; `python -m zscore_kd runs` lists run folders with their status — one of each status here, the lock held
by this process while another lists them — and a run that stops with an error records it in `failed.json`."""
import dataclasses, json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
GROUPS = ('method', 'models', 'data', 'optimisation', 'speed', 'output', 'distributed')

def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)

def help_and_imports(argv: list) -> tuple:
    "What `main(argv)` prints for --help, and the torch modules imported by then (in a fresh process)."
    p = python(f"import sys\nfrom zscore_kd.cli import main\ntry: main({argv!r})\n"
               "except SystemExit as e: assert e.code == 0\n"
               "print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))[:3])")
    assert p.returncode == 0, p.stderr
    text, imported = p.stdout.rsplit('IMPORTED ', 1)
    return text, imported.strip()

def test_help_imports_no_torch_and_prints_the_groups():
    text, imported = help_and_imports(['--help'])
    assert imported == '[]', imported
    assert all(f'\n{g}:\n' in text for g in GROUPS), text
    words = ' '.join(text.split())
    assert '--logit-stand [{zscore,none,center_only,scale_only}]' in words and 'python -m zscore_kd runs:' in words

def test_runs_help_imports_no_torch():
    text, imported = help_and_imports(['runs', '--help'])
    assert imported == '[]', imported
    assert all(o in text for o in ('--out-dir DIR', '--table KEY', '--method NAME')), text

@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "Run folders of every status, written as the trainer writes them (no training): name -> expected status."
    from zscore_kd.rundir import RunDir, write_json
    from zscore_kd.sweeps import plan
    out = tmp_path_factory.mktemp('runs')
    finished, failed, stopped, running = (RunDir(p.config) for p in plan('main_T4', out_dir=str(out), device='cpu')[:4])
    for run in (finished, failed, stopped, running):
        write_json(run.path / 'config.json', {'hash': run.hash, **dataclasses.asdict(run.config)})
    epoch = dict(epoch=1, train_loss=4.5, test_loss=4.4, test_top1=12.5, test_top5=40.0)
    (finished.path / 'metrics.jsonl').write_text(json.dumps(epoch) + '\n')
    write_json(finished.path / 'result.json', dict(hash=finished.hash, config=dataclasses.asdict(finished.config),
                                                   final=dict(epoch=1, top1=12.5, top5=40.0),
                                                   best=dict(epoch=1, top1=13.25, top5=41.0), wall_time_s=2.0,
                                                   train_images_per_s=128.0))
    write_json(failed.path / 'failed.json', dict(error='TrainingDiverged', message='…', time='now'))
    old = out / f'kd-resnet8-{finished.hash}'  # an earlier version's name for the finished run
    old.mkdir(); (old / 'config.json').write_text((finished.path / 'config.json').read_text())
    foreign = out / 'kd-resnet8-0123456789ab'  # another version's settings
    foreign.mkdir(); write_json(foreign / 'config.json', {**json.loads(old.joinpath('config.json').read_text()),
                                                        'lr_warmup': 5})
    garbled = out / 'dkd-resnet8-resnet8-ba9876543210'
    garbled.mkdir(); (garbled / 'config.json').write_text('{"method": "dk')
    statuses = {finished.path.name: 'finished', failed.path.name: 'failed', stopped.path.name: 'stopped',
                running.path.name: 'running', old.name: 'stale', foreign.name: 'stale', garbled.name: 'stale'}
    return out, running, statuses

def test_runs_lists_each_status(folder):
    "Another process lists the folders while this one holds a run's lock: each row has the run's status."
    from zscore_kd.files import FolderLock
    out, running, statuses = folder
    with FolderLock(running.path):
        p = subprocess.run([sys.executable, '-m', 'zscore_kd', 'runs', '--out-dir', str(out)], capture_output=True,
                           text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f'{len(statuses)} runs in {out}' and lines[1].split() == [
        'run', 'method', 'τ', 'λ_KD', 'teacher', '→', 'student', 'data', 'seed', 'epochs', 'final', 'top-1', 'best',
        'top-1', 'status'], lines[:2]
    rows = {l.split()[0]: l for l in lines[3:]}
    assert {name: row.split()[-1] for name, row in rows.items()} == statuses
    finished = next(n for n, s in statuses.items() if s == 'finished')
    assert rows[finished].split()[-9:] == ['resnet8', '→', 'resnet8', 'synthetic', '0', '1/1', '12.50', '13.25',
                                           'finished']

def test_runs_filters(folder):
    from zscore_kd.analysis import run_rows
    out, _, statuses = folder
    readable = {n for n in statuses if not n.startswith(('kd-resnet8-0123', 'dkd-'))}  # a config this version reads
    assert {r['name'] for r in run_rows(out, table='main_T4')} == readable
    assert run_rows(out, table='main_T2') == []  # Table 2's toy runs are other pairs and recipes
    assert run_rows(out, method='dkd') == []  # the garbled config.json cannot say that it was a DKD run
    assert {r['method'].split('+')[0] for r in run_rows(out, method='kd')} == {'kd'}  # with any mode
    assert {r['method'] for r in run_rows(out, method='kd+zscore')} == {'kd+zscore'}

def test_runs_error_is_one_line():
    p = subprocess.run([sys.executable, '-m', 'zscore_kd', 'runs', '--table', 'main_T9'], capture_output=True,
                       text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "python -m zscore_kd: error: Unknown table 'main_T9' (did you mean 'main_T5'?); choose one of main_T1, "
        "main_T2, main_T3, main_T4, main_T5, supp_T1, supp_T2, supp_T3, supp_T4, supp_T5, supp_T6, supp_T7, fig2, "
        "fig3, fig4, fig5, figS1, figS2, figS3, figS3_vit."], p.stderr

def test_a_run_that_raises_is_marked_failed_until_tried_again(tmp_path):
    from zscore_kd.analysis import run_status
    from zscore_kd.rundir import RunDir
    from zscore_kd.runs import resolve_config
    from zscore_kd.train import TrainingDiverged, failure_recorded, fit
    config = resolve_config(epochs=1, teacher_epochs=1, data_args=dict(n_train=256, n_test=128), out_dir=str(tmp_path),
                            lr=1e30)
    with pytest.raises(TrainingDiverged): fit(config, progress=False)
    run = RunDir(config)
    record = json.loads((run.path / 'failed.json').read_text())
    assert record['error'] == 'TrainingDiverged' and record['message'].startswith('Training diverged in epoch 1 of')
    assert run_status(run.path, config) == 'failed'
    with failure_recorded([run]): pass  # the next attempt clears the mark
    assert run_status(run.path, config) == 'stopped' and not (run.path / 'failed.json').exists()

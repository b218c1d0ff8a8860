"""Every notebook passed `nbdev_test` and left no process-wide state changed, read from the log of that run.

`make test` runs plain `nbdev_test` first, with the hook of `.ci/leaks` on its path, which appends one line per
notebook to $ZSCORE_KD_NBTEST_LOG; here each notebook is one test. Run alone (without that variable), these tests
skip. The hook itself is tested on a small project of two notebooks, one of which leaks.
"""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOG = os.environ.get('ZSCORE_KD_NBTEST_LOG')
NOTEBOOKS = sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_passed_nbdev_test_without_leaks(name):
    if not LOG: pytest.skip('`make test` runs nbdev_test first and sets ZSCORE_KD_NBTEST_LOG')
    records = [json.loads(l) for l in Path(LOG).read_text().splitlines()] if Path(LOG).exists() else []
    record = next((r for r in reversed(records) if r['notebook'] == name), None)
    assert record is not None, f'{name} was not run by nbdev_test (see its output above)'
    assert record['ran'], f'{name} failed under nbdev_test (its error is printed above)'
    assert not record['leaks'], f"{name} leaves process state changed: {'; '.join(record['leaks'])}"

LEAKY = ("import torch\n", "torch.set_grad_enabled(False)  # and never put back\n")

def notebook(cells) -> dict:
    return {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [],
                       'source': list(c)} for i, c in enumerate(cells)],
            'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}

def test_the_hook_fails_a_leaking_notebook_and_logs_each(tmp_path):
    (tmp_path / 'nbs').mkdir(); shutil.copy(ROOT / 'settings.ini', tmp_path)
    (tmp_path / 'nbs' / 'a_leaks.ipynb').write_text(json.dumps(notebook([LEAKY])))
    (tmp_path / 'nbs' / 'b_clean.ipynb').write_text(json.dumps(notebook([("x = 1\n",)])))
    log = tmp_path / 'log.jsonl'
    env = {**os.environ, 'PYTHONPATH': str(ROOT / '.ci' / 'leaks'), 'ZSCORE_KD_NBTEST_LOG': str(log)}
    nbdev_test = str(Path(sys.executable).parent / 'nbdev_test')
    r = subprocess.run([nbdev_test, '--n_workers', '0'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and 'a_leaks.ipynb leaks grad mode: True -> False' in r.stderr, r.stdout + r.stderr
    records = {x['notebook']: x for x in map(json.loads, log.read_text().splitlines())}
    leaky, clean = records['a_leaks.ipynb'], records['b_clean.ipynb']
    assert leaky['ran'] and leaky['leaks'] and not clean['leaks']

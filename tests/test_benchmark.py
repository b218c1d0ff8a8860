"""The GPU check must run right the first time on a GPU: its CPU smoke mode executes every part at tiny sizes."""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ['tests', 'graphs', 'group', 'speed', 'accuracy', 'reproduce', 'imagenet', 'vit']

def check(out, *args, env=None):
    return subprocess.run([sys.executable, 'benchmarks/check.py', '--smoke', '--out', str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=env)

def test_check_smoke_runs_every_part(tmp_path):
    r = check(tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    rep = json.loads((tmp_path / 'check.json').read_text())
    assert (list(rep['parts']) == PARTS and rep['smoke'] and rep['torch'] and rep['date']
            and rep['command'].startswith('python benchmarks/check.py --smoke'))
    for name, p in rep['parts'].items():
        assert p['status'] in ('PASS', 'not present') or p['status'].startswith('MISSED'), (name, p)
    assert set(rep['parts']['graphs']['methods']) == {'kd', 'dkd', 'mlkd', 'ctkd'}
    assert rep['parts']['group']['max_rel_train_loss_diff'] == 0  # eager on the CPU: bit for bit
    speed = rep['parts']['speed']
    assert [r['name'] for r in speed['rows']][:2] == ['classic KD+LS', 'classic MLKD+LS'] and len(speed['goals']) == 4
    assert all(r['x_classic'] > 0 and r['projected_minutes'] > 0 for r in speed['rows']) and speed['profile']['top']
    acc = rep['parts']['accuracy']['runs']  # result.json records the preset and what it resolved to
    assert (acc['exact']['speed'], acc['exact']['precision'], acc['fast']['speed'],
            acc['fast']['precision']) == ('exact', 'fp32', 'fast', 'bf16')
    md = (tmp_path / 'check.md').read_text()
    assert '| part | status | result | s |' in md and '| fast KD+LS, 2 students, teacher cache |' in md
    assert 'Profile of one step' in md and '## 20_reproduce (toy slice of Table 4)' in md and 'CPU smoke mode' in md
    assert (tmp_path / '20_main_T4_toy.ipynb').exists()

def test_check_reports_a_timeout_and_a_crash_and_runs_the_next_part(tmp_path):
    env = {**os.environ, 'ZSCORE_KD_CHECK_FAULT': 'graphs:hang,tests:crash,group:crash'}
    r = check(tmp_path, '--only', 'graphs,tests,group', '--budget', '10', env=env)
    assert r.returncode == 1, r.stdout[-3000:]
    rep = json.loads((tmp_path / 'check.json').read_text())
    parts = rep['parts']
    assert list(parts) == ['graphs', 'tests', 'group'] and rep['budget_s'] == 10
    assert parts['graphs']['status'] == 'TIMEOUT' and parts['graphs']['seconds'] < 30
    for name in ('tests', 'group'):
        assert parts[name]['status'] == 'CRASH' and any(f'injected crash of part {name}' in l
                                                        for l in parts[name]['tail'])
    md = (tmp_path / 'check.md').read_text()
    assert ("| 1a the notebooks' gpu cells + tests/test_fast_path.py | CRASH |" in md and 'Traceback' in md
            and '| TIMEOUT |' in md)

def test_check_refuses_an_unknown_part(tmp_path):
    r = check(tmp_path, '--only', 'speed,sped')
    assert r.returncode != 0 and 'Unknown part(s) sped; choose from tests, graphs' in r.stderr

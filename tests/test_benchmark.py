"""The GPU check must yield evidence the first time it meets a GPU: its CPU smoke mode runs the parts at tiny sizes,
a failing row or part never drops the later ones, and a command killed half-way keeps what it measured."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import check  # noqa: E402  (the check's own helpers: no torch inside)

# the parts that run in the check's processes; the notebooks' gpu cells, the ImageNet and the ViT benchmark run in
# subprocesses whose smoke modes their own tests cover (tests/test_imagenet.py, test_vit.py) and the rehearsal runs
IN_PROCESS = ['env', 'graphs', 'speed', 'accuracy', 'group', 'compiled', 'reproduce']

def check_cmd(out, *args, env=None, **kw):
    cmd = [sys.executable, 'benchmarks/check.py', '--smoke', '--out', str(out), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, **kw)

def test_check_smoke_keeps_every_row_after_a_failing_one(tmp_path):
    faults = {'ZSCORE_KD_CHECK_FAULT': 'speed/fast KD+LS:crash;graphs/dkd:crash'}
    p = check_cmd(tmp_path, '--only', ','.join(IN_PROCESS), env=faults)
    out = p.communicate(timeout=600)[0]
    assert p.returncode == 1, out[-4000:]  # the two injected failures
    rep = json.loads((tmp_path / 'check.json').read_text())
    parts = rep['parts']
    assert list(parts) == IN_PROCESS and rep['smoke'] and rep['finished'] and rep['commit']
    assert rep['command'].startswith('python benchmarks/check.py --smoke')
    for name in set(IN_PROCESS) - {'graphs', 'speed'}: assert parts[name]['status'] == 'PASS', (name, parts[name])
    graphs = parts['graphs']  # DKD failed; the methods after it still ran
    assert graphs['status'] == 'FAIL' and graphs['methods']['dkd'] is None
    assert 'injected crash' in graphs['errors']['dkd']
    assert all(graphs['methods'][m] == 0 for m in ('kd', 'mlkd', 'ctkd'))  # eager on the CPU: bit for bit
    rows = {r['name']: r for r in parts['speed']['rows']}
    assert list(rows)[:2] == ['classic KD+LS', 'classic MLKD+LS'] and len(rows) == 7
    assert 'injected crash' in rows['fast KD+LS']['error'] and parts['speed']['status'] == 'FAIL'
    assert all(r['x_classic'] > 0 and r['projected_minutes'] > 0 for n, r in rows.items() if n != 'fast KD+LS')
    assert parts['speed']['profile']['top']
    assert parts['group']['max_rel_train_loss_diff'] == 0  # eager on the CPU: bit for bit
    acc = parts['accuracy']['runs']  # one teacher for both; result.json records the preset and what it resolved to
    assert (acc['exact']['speed'], acc['exact']['precision'], acc['fast']['speed'],
            acc['fast']['precision']) == ('exact', 'fp32', 'fast', 'bf16')
    assert '9 of 9 runs finished' in parts['reproduce']['summary'] and 'KD+Ours' in parts['reproduce']['table']
    md = (tmp_path / 'check.md').read_text()
    assert '| part | status | result | s |' in md and '| fast KD+LS, 2 students, teacher cache |' in md
    assert '| fast KD+LS | fast (failed) | ERROR: RuntimeError: injected crash' in md and 'State: complete' in md
    assert 'Profile of one step' in md and '## 20_reproduce (toy slice of Table 4)' in md and 'CPU smoke mode' in md
    assert 'teacher resnet56' in (tmp_path / 'check.log').read_text()
    from zscore_kd.sweeps import benchmark_speeds  # the sweep planner reads a GPU check's speeds, failed rows skipped
    (tmp_path / 'gpu').mkdir(); (tmp_path / 'gpu' / 'check.json').write_text(json.dumps({**rep, 'smoke': False}))
    speeds = benchmark_speeds.__wrapped__(str(tmp_path))  # ((device, family), Speed) per fast single-student row
    fast = [r for r in rows.values() if r['path'] == 'fast' and r['students'] == 1]  # a failed row's path says so
    assert fast and sorted(s.images_per_s for _, s in speeds) == sorted(r['student_images_per_s'] for r in fast)
    assert {device[1] for (device, _), _ in speeds} == {parts['env']['hardware']}

def test_a_killed_check_keeps_what_it_measured(tmp_path):
    "A hang times out, a crash is reported with its traceback, and a kill of the whole command keeps the files."
    faults = {'ZSCORE_KD_CHECK_FAULT': 'graphs:hang;tests:crash;group:hang'}
    p = check_cmd(tmp_path, '--only', 'env,graphs,tests,group', '--part-limit', '4', env=faults,
                  start_new_session=True)
    report = tmp_path / 'check.json'
    try:
        for _ in range(1200):  # until the last part runs
            time.sleep(0.1)
            if report.exists() and 'group' in json.loads(report.read_text())['parts']: break
        os.killpg(p.pid, signal.SIGKILL)  # as a machine's time limit would, the parts' processes included
    finally: p.communicate(timeout=60)
    rep = json.loads(report.read_text())
    parts = rep['parts']
    assert [parts[n]['status'] for n in ('env', 'graphs', 'tests', 'group')] == ['PASS', 'TIMEOUT', 'CRASH', 'running']
    assert not rep['finished'] and parts['graphs']['seconds'] < 30
    assert any('injected crash of tests' in l for l in parts['tests']['tail'])
    md = (tmp_path / 'check.md').read_text()
    assert "| 1a the notebooks' gpu cells + tests marked gpu | CRASH |" in md and 'Traceback' in md
    assert '| TIMEOUT |' in md and '**in progress**' in md and '1c fit_group' in md.split('**in progress**')[1]
    assert 'injected crash of tests' in (tmp_path / 'check.log').read_text()

def test_check_refuses_an_unknown_part(tmp_path):
    p = check_cmd(tmp_path, '--only', 'speed,sped')
    out = p.communicate(timeout=60)[0]
    assert p.returncode != 0 and 'Unknown part(s) sped; choose from env, graphs' in out

def test_the_gpu_part_finds_the_gpu_cells_and_tests():
    assert {'04c_data.ipynb', '05a_optim.ipynb'} <= {nb.name for nb in check.gpu_notebooks()}
    assert 'test_precision.py' in {f.name for f in check.gpu_tests()}

def test_the_budget_leaves_every_later_part_its_minimum():
    "Deadlines follow the expected seconds, never pass the budget's end, and keep the later parts' minimum for them."
    parts, start = list(check.PARTS), time.time()
    end = start + check.BUDGET
    deadlines = [check.deadline_of(i, parts, start, end, 300) for i in range(len(parts))]
    assert deadlines == sorted(deadlines) and deadlines[-1] == end
    late = start - 200  # the setup took 200 s of a 450-s budget: the parts shrink, the last keeps its 30 s
    squeezed = [check.deadline_of(i, parts, start, late + check.BUDGET, 300) for i in range(len(parts))]
    assert squeezed[-1] - squeezed[-2] >= check.PARTS['reproduce'].minimum and squeezed[-1] == late + check.BUDGET

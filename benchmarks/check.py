#!/usr/bin/env python
"""The GPU check: correctness, speed, accuracy and the headless path of zscore_kd on one GPU, with one summary.

    bash benchmarks/run_on_gpu.sh check [--budget SECONDS]   # a GPU machine without a package index (wheelhouse)
    python benchmarks/check.py [--budget SECONDS]            # a machine where `make setup` installed the project
    python benchmarks/check.py --smoke                       # every part at tiny sizes on the CPU (CI runs this)

Parts, in order of value, each in its own process with its own time limit (a crash or a timeout is reported with the
tail of its output, and the next part still runs): 1a the `#| gpu` notebook cells and tests/test_fast_path.py;
1b the CUDA-graph step equals the eager step in float32 (KD, DKD, MLKD, CTKD); 1c students trained together
(`fit_group`) equal the same students trained alone; 2 speed, classic vs fast path; 3 accuracy, bf16 fast vs
float32 exact; 4 `20_reproduce` headless on the device; 5 the ImageNet loader and ViT benchmarks, when present.
`--budget` shortens the measurements (never the summary). Results: <out>/check.md and check.json, where <out> is
--out, else $OUT/results/<gpu>/ when $OUT is set, else benchmarks/results/<gpu>/ (a smoke run writes only to --out).
"""
import argparse, collections, datetime, json, os, platform, shutil, signal, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = {  # name: (title, share of the budget)
    'tests': ('1a the notebooks\' gpu cells + tests/test_fast_path.py', 0.16),
    'graphs': ('1b CUDA-graph step = eager step (fp32)', 0.08),
    'group': ('1c fit_group = each student alone', 0.07),
    'speed': ('2 speed: classic vs fast path', 0.33),
    'accuracy': ('3 accuracy: fast bf16 vs exact fp32', 0.14),
    'reproduce': ('4 headless: 20_reproduce on the device', 0.08),
    'imagenet': ('5a ImageNet loader benchmark', 0.06),
    'vit': ('5b ViT benchmark', 0.06)}
# per method: (minutes for 240 epochs, × classic); students: img/s
GOALS = {'kd': (4.0, 12.0), 'kd_cache': (3.0, 16.0), 'mlkd': (None, 6.0), 'students': 100_000}

class Report:
    "A part's result, rewritten atomically at every change, so that a part killed at its time limit keeps what it had."
    def __init__(self, path):
        self.path, self.d = Path(path), dict(status='running', summary='', lines=[])
    def __setitem__(self, k, v): self.d[k] = v; self.save()
    def __getitem__(self, k): return self.d[k]
    def line(self, s: str): print(s, flush=True); self.d['lines'].append(s); self.save()
    def save(self):
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.d, indent=1, default=str)); tmp.replace(self.path)

def sh(cmd, rep: Report, timeout: float, cwd=ROOT, label=None) -> bool:
    "Run `cmd`, echo its output, note its outcome in `rep`; True when it exits 0."
    label = label or ' '.join(map(str, cmd[:4]))
    try: r = subprocess.run(list(map(str, cmd)), cwd=cwd, capture_output=True, text=True, timeout=max(timeout, 5))
    except subprocess.TimeoutExpired: rep.line(f'TIMEOUT after {timeout:.0f} s: {label}'); return False
    out = (r.stdout + r.stderr).strip()
    print(out[-6000:], flush=True)
    last = out.splitlines()[-1] if out else ''
    rep.line(f"{'ok  ' if r.returncode == 0 else 'FAIL'} {label}: {last[:160]}")
    return r.returncode == 0

def device_name(smoke: bool) -> str:
    import torch
    return torch.cuda.get_device_name() if torch.cuda.is_available() and not smoke else f'{platform.machine()} CPU'

# ---- 1a: the GPU-only notebook cells and the fast-path tests ---------------------------------------------------------

def gpu_notebooks(folder=ROOT / 'nbs') -> list:
    "The notebooks with at least one `#| gpu` cell."
    gpu = lambda c: ''.join(c['source']).lstrip().replace('#|gpu', '#| gpu').startswith('#| gpu')
    has = lambda nb: any(c['cell_type'] == 'code' and gpu(c) for c in json.loads(nb.read_text())['cells'])
    return sorted(nb for nb in folder.glob('[!_]*.ipynb') if has(nb))

def smoke_notebook(folder: Path) -> Path:
    "A two-cell notebook whose `#| gpu` cell leaves a file: shows on a CPU that `--flags gpu` runs those cells."
    cell = lambda src: dict(cell_type='code', execution_count=None, id=f'{abs(hash(src)) % 16**8:08x}', metadata={},
                            outputs=[], source=src)
    cells = [cell('x = 1'), cell("#| gpu\nopen('gpu_cell_ran', 'w').write(str(x))")]
    nb = dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)
    (folder / 'gpu_smoke.ipynb').write_text(json.dumps(nb))
    return folder / 'gpu_smoke.ipynb'

def part_tests(a, rep):
    beside = Path(sys.executable).parent / 'nbdev_test'  # the environment's own, also when it is not on PATH
    nbdev_test = str(beside) if beside.exists() else shutil.which('nbdev_test')
    if nbdev_test is None:
        raise RuntimeError('nbdev_test is not on PATH: install the dev tools (make setup, or the wheelhouse).')
    nbs = gpu_notebooks() if not a.smoke else [smoke_notebook(Path(a.work))]
    rep['notebooks'] = [nb.name for nb in nbs]
    ok = all([sh([nbdev_test, '--flags', 'gpu', '--n_workers', '0', '--path', nb], rep, a.left(),
                 label=f'nbdev_test --flags gpu {nb.name}') for nb in nbs])
    if a.smoke: ok &= (Path(a.work) / 'gpu_cell_ran').exists()
    pytest = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests/test_fast_path.py']
    if a.smoke: pytest += ['-k', 'channels_last']
    ok &= sh(pytest, rep, a.left(), label='pytest tests/test_fast_path.py')
    outcome = lambda l: l[5:].split(':')[0] + (' ok' if l.startswith('ok') else ' FAILED')
    rep['status'], rep['summary'] = ('PASS' if ok else 'FAIL'), '; '.join(outcome(l) for l in rep['lines'])

# ---- 1b, 1c: CUDA graphs and concurrent students change nothing ------------------------------------------------------

def part_graphs(a, rep):
    import torch
    from speed import make_bench
    b = make_bench(a.smoke, a.work)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True  # the same kernels on both sides
    steps, worst = 24 if not a.smoke else 4, {}  # two epochs of 12 (smoke: 2) batches
    for m in ('kd', 'dkd', 'mlkd', 'ctkd'):
        r = b.equivalence(m, steps)
        worst[m] = r['max_rel_diff']; rep['methods'] = worst
    ok = all(v <= 1e-3 for v in worst.values())
    rep['status'] = 'PASS' if ok else 'FAIL'
    diffs = ', '.join(f'{m.upper()} {v:.1e}' for m, v in worst.items())
    rep['summary'] = f'{steps} steps over 2 epochs, max rel. loss diff {diffs} (pass: ≤ 1e-3)'

def part_group(a, rep):
    import torch
    from zscore_kd.runs import resolve_config
    from zscore_kd.rundir import RunDir
    from zscore_kd.train import fit, fit_group
    cuda = torch.cuda.is_available() and not a.smoke
    data_args = dict(n_train=2048, n_test=512) if cuda else dict(n_train=128, n_test=100)
    base = dict(teacher='resnet32x4' if cuda else 'resnet8', student='resnet8x4' if cuda else 'resnet8',
                logit_stand=True, epochs=3 if cuda else 1, teacher_epochs=1, device='cuda' if cuda else 'cpu',
                out_dir=f'{a.work}/group', data_args=data_args, channels_last=cuda, cuda_graphs=cuda)
    cs = [resolve_config(method=m, **base) for m in (('kd', 'dkd', 'ctkd') if cuda else ('kd', 'ctkd'))]
    alone = []
    for c in cs:  # alone first; then their folders go (the teacher run stays) and the same runs train together
        fit(c, progress=False); alone.append(RunDir(c).history()); shutil.rmtree(RunDir(c).path)
    fit_group(cs, progress=False)
    together = [RunDir(c).history() for c in cs]
    pairs = [(x, y) for h, g in zip(together, alone) for x, y in zip(h, g)]  # (together, alone) per run and epoch
    rel = max(abs(x['train_loss'] - y['train_loss']) / abs(y['train_loss']) for x, y in pairs)
    top1 = max(abs(x['test_top1'] - y['test_top1']) for x, y in pairs)
    rep['max_rel_train_loss_diff'], rep['max_test_top1_diff'] = rel, top1
    rep['status'] = 'PASS' if rel <= 1e-3 and len(together[0]) == base['epochs'] else 'FAIL'
    methods = ', '.join(c.method.upper() for c in cs)
    rep['summary'] = (f"{methods} (+LS) {base['epochs']} epochs, together vs alone: "
                      f"max rel. train-loss diff {rel:.1e}, max test top-1 diff {top1:.2f} points (pass: loss ≤ 1e-3)")
    print(rep['summary'], flush=True)

# ---- 2: speed --------------------------------------------------------------------------------------------------------

def goals(rows: list) -> list:
    "Each goal against the best row that serves it: met or missed, and by how much."
    best = lambda f: max((r for r in rows if f(r)), key=lambda r: r['student_images_per_s'], default=None)
    one = lambda m, cache: lambda r: (r['path'] == 'fast' and r['method'] == m and r['students'] == 1
                                      and r['teacher_cache'] == cache)
    out = []
    for key, label, r in (('kd', 'KD+LS, 240 epochs', best(one('kd', False))),
                          ('kd_cache', 'KD+LS with the teacher cache', best(one('kd', True))),
                          ('mlkd', 'MLKD+LS', best(one('mlkd', False)))):
        if r is None or r.get('x_classic') is None:
            out.append(dict(goal=label, met=None, text='not measured')); continue
        minutes, ratio = GOALS[key]
        met = r['x_classic'] >= ratio and (minutes is None or r['projected_minutes'] <= minutes)
        time_goal = f", {r['projected_minutes']:.1f} min (goal ≤ {minutes:g} min)" if minutes else ''
        text = f"{r['x_classic']:.1f}× classic (goal ≥ {ratio:g}×)" + time_goal
        if not met and r['x_classic'] < ratio:
            text += f"; missed by {100 * (1 - r['x_classic'] / ratio):.0f}% of the ratio"
        elif not met: text += '; missed on time'
        out.append(dict(goal=label, row=r['name'], met=met, text=text))
    r = best(lambda r: r['path'] == 'fast' and r['students'] > 1)
    if r is None: out.append(dict(goal='concurrent students', met=None, text='not measured'))
    else:
        met = r['student_images_per_s'] >= GOALS['students'] and r['students'] >= 8
        ips = r['student_images_per_s']
        text = f"{ips:,.0f} student img/s (goal ≥ {GOALS['students']:,} with 8)"
        if not met: text += f"; missed by {100 * (1 - ips / GOALS['students']):.0f}%"
        out.append(dict(goal=f"{r['students']} concurrent students", row=r['name'], met=met, text=text))
    return out

def part_speed(a, rep):
    from speed import make_bench, add_ratios, speed_table
    b = make_bench(a.smoke, a.work, seconds=min(5.0, max(1.0, a.seconds / 30)))
    n, rows = (8 if not a.smoke else 2), []
    plan = [('classic KD+LS', 'kd', dict(fast=False)), ('classic MLKD+LS', 'mlkd', dict(fast=False)),
            ('fast KD+LS', 'kd', {}), ('fast KD+LS, teacher cache', 'kd', dict(cache=True)),
            ('fast MLKD+LS', 'mlkd', {}),
            (f'fast KD+LS, {n} students', 'kd', dict(n=n)),
            (f'fast KD+LS, {n} students, teacher cache', 'kd', dict(n=n, cache=True))]
    compiled = [('fast KD+LS, teacher cache, compiled', 'kd', dict(cache=True, compile=True)),
                ('fast KD+LS, compiled', 'kd', dict(compile=True)),
                (f'fast KD+LS, {n} students, teacher cache, compiled', 'kd', dict(n=n, cache=True, compile=True)),
                ('fast MLKD+LS, compiled', 'mlkd', dict(compile=True))]
    def record(name, m, kw):
        rows.append(b.measure(name, m, True, **kw)); rep['rows'] = add_ratios(rows); rep['goals'] = goals(rows)
        single_kd = [r for r in rows if r['path'] == 'fast' and r['students'] == 1 and r['method'] == 'kd']
        best = max(single_kd, key=lambda r: r['student_images_per_s'], default=None)
        missed = [x for x in rep['goals'] if x['met'] is False]
        rep['status'] = 'PASS' if not missed else f"MISSED {len(missed)} of {len(rep['goals'])} goals"
        head = (best and f"best single KD+LS: {best['name']}, {best['student_images_per_s']:,.0f} img/s, "
                         f"{best['x_classic']:.1f}× classic, {best['projected_minutes']:.1f} min / 240 ep; " or '')
        verdict = lambda x: 'met' if x['met'] else 'MISSED' if x['met'] is False else '–'
        rep['summary'] = head + '; '.join(f"{x['goal']}: {verdict(x)}" for x in rep['goals'])
        return best
    for name, m, kw in plan: best = record(name, m, kw)
    if rep['status'] != 'PASS' or a.smoke:  # where the time of the fastest uncompiled step goes
        print(f"profile of one step: {best['name']}", flush=True)
        rep['profile'] = dict(row=best['name'], **b.profile('kd', True, best['teacher_cache'], best['compile']))
    for name, m, kw in compiled if not a.smoke else []:  # no compile on a CPU: slow there, and not the path under test
        if a.left() < 120: rep.line(f'skipped (time budget): {name} and the later compiled rows'); break
        record(name, m, kw)
    print('\n'.join(speed_table(rows)), flush=True)

# ---- 3: accuracy -----------------------------------------------------------------------------------------------------

def part_accuracy(a, rep):
    import torch
    from speed import accuracy
    cuda = torch.cuda.is_available() and not a.smoke
    epochs = int(min(30, max(4, a.seconds / 5))) if cuda else 1
    if cuda: sizes = dict(teacher='resnet32x4', student='resnet8x4', n_train=10_000, n_test=5_000)
    else: sizes = dict(teacher='resnet8', student='resnet8', n_train=128, n_test=100)
    fast = dict(speed='fast') if cuda else dict(speed='fast', precision='bf16')  # a CPU's fast is float32
    res = accuracy(torch.device('cuda' if cuda else 'cpu'), a.work, **sizes, epochs=epochs,
                   teacher_epochs=max(1, epochs // 2), fast=fast)
    rep['runs'], rep['sizes'], rep['epochs'] = res, sizes, epochs
    (e, f) = res.values()
    df, db = f['final'] - e['final'], f['best'] - e['best']
    ok = abs(df) <= 2.0 and abs(db) <= 2.0 and (a.smoke or e['best'] > 5.0)
    rep['status'] = 'PASS' if ok else 'FAIL'
    rep['summary'] = (f"{epochs} epochs, {sizes['n_train']:,} synthetic images: "
                      f"exact final {e['final']:.2f} / best {e['best']:.2f}, "
                      f"fast final {f['final']:.2f} / best {f['best']:.2f} "
                      f"(Δ {df:+.2f} / {db:+.2f}; pass: |Δ| ≤ 2 points); "
                      f"fast = {f['precision']}, channels_last {f['channels_last']}, CUDA graphs {f['cuda_graphs']}, "
                      f"compile {f['compile']}, cache {f['teacher_cache']}")
    print(rep['summary'], flush=True)

# ---- 4: the headless path; 5: the other benchmarks -------------------------------------------------------------------

def part_reproduce(a, rep):
    import torch
    cuda = torch.cuda.is_available() and not a.smoke
    runs, out_nb = Path(a.work) / 'runs', Path(a.out_dir) / '20_main_T4_toy.ipynb'
    gpu_flags = dict(precision='bf16', channels_last=True, cuda_graphs=True) if cuda else {}
    train = dict(epochs=2, teacher_epochs=2, **gpu_flags)
    cmd = [sys.executable, '-m', 'papermill', 'nbs/20_reproduce.ipynb', out_nb, '-k', 'python3',
           '-p', 'table', 'main_T4', '-p', 'scale', 'toy', '-p', 'device', 'cuda' if cuda else 'cpu',
           '-p', 'out_dir', runs, '-y', json.dumps(dict(train_args=train))]
    if a.smoke: cmd += ['-p', 'run', 'False']  # a dry run: tests/test_reproduce.py trains this slice on the CPU already
    rep['command'] = ' '.join(map(str, cmd))
    ok = sh(cmd, rep, a.left(), label='papermill 20_reproduce main_T4 (toy slice: teacher group + 8 students)')
    md = runs / 'tables' / 'main_T4_toy.md'
    if md.exists():
        text = md.read_text(); print(text, flush=True); rep['table'] = text
    finished = len(list(runs.glob('*/result.json')))
    ok = ok and md.exists() and finished == (0 if a.smoke else 9)
    rep['status'] = 'PASS' if ok else 'FAIL'
    rep['summary'] = (f"{finished} of 9 runs finished ({train['epochs']} epochs{', dry run' if a.smoke else ''}), "
                      f"table {'rendered' if md.exists() else 'MISSING'}")

SHORTER = {'imagenet_loader.py': ['--images', '4000'], 'vit_speed.py': ['--steps', '30']}  # inside the check's budget

def external(script: str):
    "A part that runs another benchmark, shortened, when it exists; a smoke run only compiles it (its test runs that)."
    def part(a, rep):
        path = ROOT / 'benchmarks' / script
        if not path.exists():
            rep['status'], rep['summary'] = 'not present', f'benchmarks/{script} does not exist'; return
        if a.smoke:  # compiles; the script's own test runs its --smoke mode
            compile(path.read_text(), str(path), 'exec')
            rep['status'] = 'PASS'
            rep['summary'] = f'smoke: {script} is present and compiles (its own test runs its --smoke mode)'; return
        usage = subprocess.run([sys.executable, path, '--help'], capture_output=True, text=True, cwd=ROOT,
                               timeout=120).stdout
        out = Path(a.out_dir) / path.stem
        shorter = zip(SHORTER[script][::2], SHORTER[script][1::2])
        cmd = [sys.executable, path, '--out', out] + [x for flag, v in shorter if flag in usage for x in (flag, v)]
        if '--budget' in usage: cmd += ['--budget', f'{max(30, a.left() - 15):.0f}']
        rep['command'] = ' '.join(map(str, cmd))
        ok = sh(cmd, rep, a.left(), label=f'benchmarks/{script}')
        md = sorted(out.glob('*.md')) if out.exists() else []
        rep['results'] = {p.name: p.read_text() for p in md}
        rep['status'] = 'PASS' if ok else 'FAIL'
        files = ', '.join(p.name for p in md)
        rep['summary'] = rep['lines'][-1][5:] + (f" (results: {path.stem}/{files})" if md else '')
    return part

RUN = dict(tests=part_tests, graphs=part_graphs, group=part_group, speed=part_speed, accuracy=part_accuracy,
           reproduce=part_reproduce, imagenet=external('imagenet_loader.py'), vit=external('vit_speed.py'))

# ---- running the parts, and the summary ------------------------------------------------------------------------------

def run_part(name: str, a, deadline: float) -> dict:
    "Run part `name` in its own process until `deadline`; its report (CRASH or TIMEOUT with the output's tail if so)."
    jf, t0 = Path(a.work) / f'{name}.json', time.time()
    cmd = [sys.executable, __file__, '--part', name, '--json', jf, '--work', Path(a.work) / name,
           '--out-dir', a.out_dir, '--deadline', f'{deadline:.0f}', '--seconds', f'{PARTS[name][1] * a.budget:.0f}']
    if a.smoke: cmd += ['--smoke']
    print(f"\n=== {PARTS[name][0]} (limit {deadline - t0:.0f} s)", flush=True)
    p = subprocess.Popen(list(map(str, cmd)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    tail = collections.deque(maxlen=25)
    def pump():
        for line in p.stdout: print('  ' + line, end='', flush=True); tail.append(line.rstrip())
    reader = threading.Thread(target=pump, daemon=True); reader.start()
    try: p.wait(timeout=max(deadline - time.time(), 1)); timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.wait(); timed_out = True
    reader.join(timeout=10)
    rep = json.loads(jf.read_text()) if jf.exists() else dict(summary='', lines=[])
    rep['seconds'] = time.time() - t0
    if timed_out or p.returncode != 0:
        rep['status'] = 'TIMEOUT' if timed_out else 'CRASH'
        rep['tail'] = list(tail)[-15:]
        rep['summary'] = (rep.get('summary') or '') + f" [{rep['status'].lower()}: {tail[-1] if tail else 'no output'}]"
    return rep

def environment(smoke: bool) -> dict:
    import torch
    smi = lambda q: subprocess.run(['nvidia-smi', f'--query-gpu={q}', '--format=csv,noheader'], capture_output=True,
                                   text=True).stdout.strip()
    git = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    driver = smi('driver_version') if shutil.which('nvidia-smi') else None
    return dict(date=now, hardware=device_name(smoke), torch=torch.__version__, cuda=torch.version.cuda, driver=driver,
                python=platform.python_version(), git_commit=git or None)

def summary_md(meta: dict, reps: dict) -> str:
    "The check's report: what ran where, one line per part, then the details."
    from speed import speed_table
    cell = lambda s: str(s).replace('|', '/').replace('\n', ' ')
    ran = (f"`{meta['command']}` — {meta['date']}; torch {meta['torch']} (CUDA {meta['cuda']}), "
           f"driver {meta['driver']}, Python {meta['python']}, commit {meta['git_commit']}; "
           f"wall {meta['wall_s']:.0f} s, budget {meta['budget_s']:.0f} s"
           + (' (CPU smoke mode: tiny sizes, the numbers say nothing)' if meta['smoke'] else ''))
    out = [f"# GPU check: {meta['hardware']}", '', ran, '', '| part | status | result | s |', '|---|---|---|---|']
    out += [f"| {PARTS[n][0]} | {r['status']} | {cell(r.get('summary', ''))} | {r['seconds']:.0f} |"
            for n, r in reps.items()]
    sp = reps.get('speed', {})
    if sp.get('rows'): out += ['', '## Speed', '', *speed_table(sp['rows'])]
    met = lambda g: 'yes' if g['met'] else 'NO' if g['met'] is False else '–'
    if sp.get('goals'): out += ['', '| goal | row | met | |', '|---|---|---|---|'] + [
        f"| {g['goal']} | {g.get('row', '')} | {met(g)} | {g['text']} |" for g in sp['goals']]
    if sp.get('profile'):
        p = sp['profile']
        out += ['', f"Profile of one step ({p['row']}): {p['wall_ms_per_step']:.2f} ms wall, "
                f"{p['busy_ms_per_step']:.2f} ms busy ({100 * p['busy_share']:.0f}%), "
                f"{p['kernels_per_step']:.0f} kernels/ops per step: **{p['verdict']}**. Largest: "
                + '; '.join(f"{t['name']} {t['ms_per_step']:.3f} ms" for t in p['top'])]
    if reps.get('reproduce', {}).get('table'):
        out += ['', '## 20_reproduce (toy slice of Table 4)', '', reps['reproduce']['table']]
    for n, r in reps.items():
        if r.get('tail'): out += ['', f"## {PARTS[n][0]}: {r['status']}", '', '```', *r['tail'], '```']
    return '\n'.join(out) + '\n'

def results_dir(a) -> Path:
    "--out; else $OUT/results/<gpu> or benchmarks/results/<gpu>; a smoke run writes nowhere but --out."
    if a.out: return Path(a.out)
    if a.smoke: return None
    slug = '-'.join(device_name(False).lower().replace('nvidia', '').split()) or 'gpu'
    return (Path(os.environ['OUT']) / 'results' if os.environ.get('OUT') else ROOT / 'benchmarks' / 'results') / slug

def one_part(a):
    "Inside a part's process: run it, and record a crash with its traceback."
    import traceback
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    Path(a.work).mkdir(parents=True, exist_ok=True)
    a.left = lambda: a.deadline - time.time()
    rep = Report(a.json)
    # the tests inject faults as part:crash or part:hang
    fault = dict(f.split(':') for f in os.environ.get('ZSCORE_KD_CHECK_FAULT', '').split(',') if f)
    try:
        if fault.get(a.part) == 'crash': raise RuntimeError(f'injected crash of part {a.part} (ZSCORE_KD_CHECK_FAULT)')
        if fault.get(a.part) == 'hang': time.sleep(3600)
        RUN[a.part](a, rep)
    except Exception as e:
        traceback.print_exc(); rep['error'] = f'{type(e).__name__}: {e}'; sys.exit(1)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='every part at tiny sizes on the CPU')
    ap.add_argument('--budget', type=float,
                    help='seconds for all parts together (default 420; the measurements shrink to fit)')
    ap.add_argument('--out', help='folder for check.md, check.json and the parts\' files')
    ap.add_argument('--only', help='comma-separated parts: ' + ', '.join(PARTS))
    for internal in ('--part', '--json', '--work', '--out-dir'): ap.add_argument(internal, help=argparse.SUPPRESS)
    ap.add_argument('--deadline', type=float, help=argparse.SUPPRESS)
    ap.add_argument('--seconds', type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part: return one_part(a)
    smoke_limit, a.budget = a.smoke and a.budget is None, a.budget or 420.0  # smoke: 10 min a part unless --budget
    parts = a.only.split(',') if a.only else list(PARTS)
    if unknown := set(parts) - set(PARTS):
        sys.exit(f"Unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}.")
    t0, out = time.time(), results_dir(a)
    with tempfile.TemporaryDirectory(prefix='zscore_kd_check_') as work:
        a.work, a.out_dir = work, str(out or Path(work) / 'out')
        Path(a.out_dir).mkdir(parents=True, exist_ok=True)
        reps, share = {}, 0.0
        for name in parts:
            share += PARTS[name][1] / sum(PARTS[p][1] for p in parts)
            if smoke_limit: deadline = time.time() + 600
            else: deadline = max(t0 + share * a.budget, time.time() + min(30.0, a.budget))
            reps[name] = run_part(name, a, deadline)
    command = os.environ.get('CHECK_COMMAND') or 'python benchmarks/check.py ' + ' '.join(sys.argv[1:])
    meta = dict(command=command, **environment(a.smoke),
                budget_s=a.budget, smoke=a.smoke, wall_s=time.time() - t0)
    md = summary_md(meta, reps)
    print('\n' + md)
    if out:
        (out / 'check.json').write_text(json.dumps(dict(**meta, parts=reps), indent=1, default=str))
        (out / 'check.md').write_text(md)
        print(f'written: {out}/check.md, check.json')
    passed = lambda r: r['status'] in ('PASS', 'not present') or r['status'].startswith('MISSED')
    sys.exit(0 if all(passed(r) for r in reps.values()) else 1)

if __name__ == '__main__':
    main()

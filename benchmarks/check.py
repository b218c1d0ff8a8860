#!/usr/bin/env python
"""The GPU check: correctness, speed, accuracy and the headless path of zscore_kd on one GPU, in one short slot.

    bash benchmarks/run_on_gpu.sh check [--budget SECONDS]   # a GPU machine without a package index (wheelhouse)
    python benchmarks/check.py [--budget SECONDS]            # a machine where `make setup` installed the project
    python benchmarks/check.py --smoke                       # every part at tiny sizes on the CPU (CI runs this)

Parts, in order of value, each in its own process (forked from one that imported torch and the library once) with
its own time limit: 0 the environment; 1b the CUDA-graph step equals the eager step in float32 (KD, DKD, MLKD, CTKD);
2 speed, classic vs fast path (plain rows, the teacher cache, 8 students); 3 accuracy, bf16 fast vs float32 exact
students of one teacher; 1c students trained together (`fit_group`) equal the same students alone; 1a the notebooks'
`#| gpu` cells and the tests marked `gpu`; 5a the ImageNet loader and 5b the ViT benchmarks (no compile); 2c the
compiled speed rows, as time allows; 4 the toy slice of Table 4 trained through the sweep library on the device.
The budget (--budget, default 450 s) counts from the command's start ($CHECK_STARTED, set by run_on_gpu.sh).
A part that crashes or runs out of time is reported with the tail of its output, and the next part still runs; one
failing row or method inside a part never drops the later ones. After every part (and while one runs, as its
figures come in) <out>/check.md and check.json are rewritten and <out>/check.log holds everything printed: a command
killed at its limit keeps everything measured so far. <out> is --out, else $OUT when set, else
benchmarks/results/<gpu>/ (a smoke run writes only to --out or $OUT).
"""
import argparse, collections, ctypes, datetime, json, math, multiprocessing, os, platform, shutil, signal, subprocess
import sys, tempfile, threading, time, traceback
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))  # speed.py, which the parts measure with
Part = collections.namedtuple('Part', 'title expected minimum')  # seconds on one H100/H200: expected, and at least
PARTS = {
    'env': Part('0 environment', 10, 5),
    'graphs': Part('1b CUDA-graph step = eager step (fp32)', 35, 20),
    'speed': Part('2 speed: classic vs fast path', 110, 40),
    'accuracy': Part('3 accuracy: fast bf16 vs exact fp32, one teacher', 60, 30),
    'group': Part('1c fit_group = each student alone', 35, 20),
    'tests': Part("1a the notebooks' gpu cells + tests marked gpu", 35, 20),
    'imagenet': Part('5a ImageNet loader benchmark', 45, 20),
    'vit': Part('5b ViT benchmark (no compile)', 40, 20),
    'compiled': Part('2c speed: compiled rows, as time allows', 40, 0),
    'reproduce': Part('4 headless: Table 4 toy slice through the sweep library', 40, 30)}
BUDGET = 450.0  # seconds from the command's start: with the summary, the whole command ends within 8 minutes
# per method: (minutes for 240 epochs, × classic); students: img/s
GOALS = {'kd': (4.0, 12.0), 'kd_cache': (3.0, 16.0), 'mlkd': (None, 6.0), 'students': 100_000}

def library() -> SimpleNamespace:
    "The zscore_kd names the parts call, imported here only (the one block to port when modules move)."
    from zscore_kd.runs import resolve_config
    from zscore_kd.rundir import RunDir
    from zscore_kd.train import fit, fit_group
    from zscore_kd.sweeps import plan, run_local
    from zscore_kd.tables import write_table
    return SimpleNamespace(**locals())

# ---- inside a part's process -----------------------------------------------------------------------------------------

class Report:
    "A part's result, rewritten atomically at every change: the check reads it while the part runs, and after a kill."
    def __init__(self, path):
        self.path, self.d = Path(path), dict(status='running', summary='', lines=[])
    def __setitem__(self, k, v): self.d[k] = v; self.save()
    def __getitem__(self, k): return self.d[k]
    def get(self, k, default=None): return self.d.get(k, default)
    def line(self, s: str): print(s, flush=True); self.d['lines'].append(s); self.save()
    def save(self):
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.d, indent=1, default=str)); tmp.replace(self.path)

def inject(a, item: str):
    "The fault a test injected for this part or item: ZSCORE_KD_CHECK_FAULT='graphs:hang;speed/fast KD+LS:crash'."
    if a.faults.get(item) == 'crash': raise RuntimeError(f'injected crash of {item} (ZSCORE_KD_CHECK_FAULT)')
    if a.faults.get(item) == 'hang': time.sleep(3600)

def guarded(a, rep, item: str, fn):
    "fn(), or None once its exception is recorded in `rep['errors']`: the part goes on with its next item."
    try:
        inject(a, f'{a.part}/{item}')
        return fn()
    except Exception as e:
        traceback.print_exc()
        rep['errors'] = {**rep.get('errors', {}), item: f'{type(e).__name__}: {e}'[:300]}
        rep.line(f'ERROR {item}: {rep["errors"][item][:160]}')

def sh(cmd, rep: Report, timeout: float, label: str) -> bool:
    "Run `cmd` in its own session (killed with its children at `timeout`), echo its output; True when it exits 0."
    p = subprocess.Popen(list(map(str, cmd)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    last = collections.deque(maxlen=1)
    def pump():
        for line in p.stdout:
            print(line, end='', flush=True)
            if line.strip(): last.append(line.strip())
    reader = threading.Thread(target=pump, daemon=True); reader.start()
    try: p.wait(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.wait(); reader.join(5)
        rep.line(f'TIMEOUT after {timeout:.0f} s: {label}'); return False
    reader.join(5)
    rep.line(f"{'ok  ' if p.returncode == 0 else 'FAIL'} {label}: {(last[0] if last else '')[:160]}")
    return p.returncode == 0

def on_gpu(a) -> bool:
    import torch
    return torch.cuda.is_available() and not a.smoke

def part_env(a, rep):
    import torch, importlib.metadata as md
    cuda = torch.cuda.is_available()
    def version(name):
        try: return md.version(name)
        except md.PackageNotFoundError: return None
    smi = nvidia_smi('name,memory.total,driver_version')
    rep.d.update(torch=torch.__version__, cuda=torch.version.cuda, cuda_available=cuda, cpus=os.cpu_count(),
                 hardware=torch.cuda.get_device_name() if cuda and not a.smoke else f'{platform.machine()} CPU',
                 driver=smi.split(', ')[-1] if smi else None, nvidia_smi=smi or None,
                 cudnn=torch.backends.cudnn.version() if cuda else None,
                 packages={m: version(m) for m in ('torchvision', 'numpy', 'nbdev', 'pytest', 'timm', 'papermill')})
    missing = [m for m, v in rep['packages'].items() if v is None]
    rep['status'] = 'PASS' if cuda or a.smoke else 'FAIL'
    rep['summary'] = (f"{rep['hardware']}, torch {rep['torch']} (CUDA {rep['cuda']}), driver {rep['driver']}, "
                      f"{rep['cpus']} CPUs" + (f"; missing: {', '.join(missing)}" if missing else '')
                      + ('' if rep['status'] == 'PASS' else '; no CUDA device: run with --smoke on a CPU'))

def nvidia_smi(query: str) -> str:
    "nvidia-smi's answer to `query` (CSV, no header), or '' where it is missing or fails."
    try: return subprocess.run(['nvidia-smi', f'--query-gpu={query}', '--format=csv,noheader'], capture_output=True,
                               text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError): return ''

# ---- 1a: the GPU-only notebook cells and tests -----------------------------------------------------------------------

def gpu_notebooks(folder=ROOT / 'nbs') -> list:
    "The notebooks with at least one `#| gpu` cell."
    gpu = lambda c: ''.join(c['source']).lstrip().replace('#|gpu', '#| gpu').startswith('#| gpu')
    has = lambda nb: any(c['cell_type'] == 'code' and gpu(c) for c in json.loads(nb.read_text())['cells'])
    return sorted(nb for nb in folder.glob('[!_]*.ipynb') if has(nb))

def gpu_tests(folder=ROOT / 'tests') -> list:
    "The test files with tests marked `gpu` (they skip without CUDA; CI runs the rest of the suite on CPUs)."
    return sorted(f for f in folder.glob('test_*.py') if 'mark.gpu' in f.read_text())

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
        raise RuntimeError('nbdev_test is not on PATH: install the dev tools (make setup, or carry the wheelhouse).')
    nbs = gpu_notebooks() if not a.smoke else [smoke_notebook(Path(a.work))]
    rep['notebooks'], rep['test_files'] = [nb.name for nb in nbs], [f.name for f in gpu_tests()]
    ok = all([sh([nbdev_test, '--flags', 'gpu', '--n_workers', '0', '--path', nb], rep, a.left() - 5,
                 f'nbdev_test --flags gpu {nb.name}') for nb in nbs])
    if a.smoke: ok &= (Path(a.work) / 'gpu_cell_ran').exists()
    if gpu_tests():
        pytest = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', 'gpu', *gpu_tests()]
        ok &= sh(pytest, rep, a.left() - 5, 'pytest -m gpu ' + ' '.join(rep['test_files']))
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
        r = guarded(a, rep, m, lambda: b.equivalence(m, steps))
        worst[m] = r['max_rel_diff'] if r else None; rep['methods'] = worst
    ok = all(v is not None and v <= 1e-3 for v in worst.values())
    rep['status'] = 'PASS' if ok else 'FAIL'
    diffs = ', '.join(f'{m.upper()} ' + (f'{v:.1e}' if v is not None else 'ERROR') for m, v in worst.items())
    rep['summary'] = f'{steps} steps over 2 epochs, max rel. loss diff {diffs} (pass: ≤ 1e-3)'

def part_group(a, rep):
    lib, cuda = library(), on_gpu(a)
    data_args = dict(n_train=2048, n_test=512) if cuda else dict(n_train=128, n_test=100)
    base = dict(teacher='resnet32x4' if cuda else 'resnet8', student='resnet8x4' if cuda else 'resnet8',
                logit_stand=True, epochs=3 if cuda else 1, teacher_epochs=1, device='cuda' if cuda else 'cpu',
                out_dir=f'{a.work}/group', data_args=data_args, channels_last=cuda, cuda_graphs=cuda)
    cs = [lib.resolve_config(method=m, **base) for m in (('kd', 'dkd', 'ctkd') if cuda else ('kd', 'ctkd'))]
    alone = []
    for c in cs:  # alone first; then their folders go (the teacher run stays) and the same runs train together
        lib.fit(c, progress=False); alone.append(lib.RunDir(c).history()); shutil.rmtree(lib.RunDir(c).path)
    lib.fit_group(cs, progress=False)
    together = [lib.RunDir(c).history() for c in cs]
    pairs = [(x, y) for h, g in zip(together, alone) for x, y in zip(h, g)]  # (together, alone) per run and epoch
    rel = max(abs(x['train_loss'] - y['train_loss']) / abs(y['train_loss']) for x, y in pairs)
    top1 = max(abs(x['test_top1'] - y['test_top1']) for x, y in pairs)
    rep['max_rel_train_loss_diff'], rep['max_test_top1_diff'] = rel, top1
    rep['status'] = 'PASS' if rel <= 1e-3 and len(together[0]) == base['epochs'] else 'FAIL'
    methods = ', '.join(c.method.upper() for c in cs)
    rep['summary'] = (f"{methods} (+LS) {base['epochs']} epochs, together vs alone: "
                      f"max rel. train-loss diff {rel:.1e}, max test top-1 diff {top1:.2f} points "
                      "(pass: loss ≤ 1e-3)")
    print(rep['summary'], flush=True)

# ---- 2: speed --------------------------------------------------------------------------------------------------------

def add_ratios(rows: list) -> list:
    "× the classic path of the same method (KD for every one-view method), measured in this run."
    ok = [r for r in rows if 'error' not in r]
    base = {r['method']: r['student_images_per_s'] for r in ok if r['path'].startswith('classic')}
    for r in rows:
        b = base.get('mlkd' if r['method'] == 'mlkd' else 'kd')
        if 'error' not in r: r['x_classic'] = r['student_images_per_s'] / b if b else None
    return rows

def speed_table(rows: list) -> list:
    "Markdown lines of the speed rows (a failed row says why)."
    heads = ('configuration', 'path', 'ms/step', 'student img/s', '× classic (this run)', '× official (H200)',
             'projected time', 'peak GiB', 'warm-up s')
    lines = ['| ' + ' | '.join(heads) + ' |', '|---|---|---|---|---|---|---|---|---|']
    fmt = lambda v, f: '–' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, f)
    cell = lambda s: str(s).replace('|', '/').replace('\n', ' ')
    return lines + [f"| {r['name']} | {r['path']} | ERROR: {cell(r['error'])} | | | | | | |" if 'error' in r else
                    f"| {r['name']} | {r['path']} | {r['ms_per_step']:.2f} | {r['student_images_per_s']:,.0f} | "
                    f"{fmt(r.get('x_classic'), '.1f')} | {r['x_official_h200']:.2f} | "
                    f"{r['projected_minutes']:.1f} min / {r['epochs']} ep | {fmt(r['peak_gib'], '.2f')} | "
                    f"{r['warmup_s']:.1f} |" for r in rows]

def goals(rows: list) -> list:
    "Each goal against the best row that serves it: met or missed, and by how much."
    rows = [r for r in rows if 'error' not in r]
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

def speed_status(rows: list) -> tuple:
    "(status, summary) of speed rows: PASS when every goal is met, else how many were missed; errors counted."
    gs, bad = goals(add_ratios(rows)), [r['name'] for r in rows if 'error' in r]
    missed = [g for g in gs if g['met'] is False]
    ok = [r for r in rows if 'error' not in r]
    single = [r for r in ok if r['path'] == 'fast' and r['students'] == 1 and r['method'] == 'kd']
    best = max(single, key=lambda r: r['student_images_per_s'], default=None)
    head = (f"best single KD+LS: {best['name']}, {best['student_images_per_s']:,.0f} img/s, "
            f"{best['x_classic'] or 0:.1f}× classic, {best['projected_minutes']:.1f} min / 240 ep; " if best else '')
    verdict = lambda g: 'met' if g['met'] else 'MISSED' if g['met'] is False else '–'
    status = 'FAIL' if bad else 'PASS' if not missed else f'MISSED {len(missed)} of {len(gs)} goals'
    errors = f"; {len(bad)} row(s) failed: {', '.join(bad)}" if bad else ''
    return status, head + '; '.join(f"{g['goal']}: {verdict(g)}" for g in gs) + errors

def measure_rows(a, rep, b, plan: list, seconds_each: float, summarize=speed_status):
    "Measure `plan`'s rows in order while `seconds_each` remain; each row is written to `rep` as soon as it is done."
    from speed import safely
    for name, m, kw in plan:
        if not a.smoke and a.left() < seconds_each:
            rep.line(f'skipped (time budget): {name} and the rows after it'); break
        def measure(name=name, m=m, kw=kw):
            inject(a, f'{a.part}/{name}')
            return b.measure(name, m, True, **kw)
        rep['rows'] = rep.get('rows', []) + [safely(measure, name, m, kw.get('fast', True))]
        rep['status'], rep['summary'] = summarize(rep['rows'])

def compiled_status(rows: list) -> tuple:
    "(status, summary) of the compiled rows: each one's speed (the goals are judged over all speed rows)."
    text = lambda r: f"ERROR {r['error'][:80]}" if 'error' in r else f"{r['student_images_per_s']:,.0f} img/s"
    return ('FAIL' if any('error' in r for r in rows) else 'PASS'), '; '.join(f"{r['name']}: {text(r)}" for r in rows)

def part_speed(a, rep):
    from speed import make_bench
    b = make_bench(a.smoke, a.work, seconds=min(5.0, max(1.0, a.seconds / 25)))
    n = 8 if not a.smoke else 2
    plan = [('classic KD+LS', 'kd', dict(fast=False)), ('classic MLKD+LS', 'mlkd', dict(fast=False)),
            ('fast KD+LS', 'kd', {}), ('fast MLKD+LS', 'mlkd', {}),
            ('fast KD+LS, teacher cache', 'kd', dict(cache=True)),
            (f'fast KD+LS, {n} students', 'kd', dict(n=n)),
            (f'fast KD+LS, {n} students, teacher cache', 'kd', dict(n=n, cache=True))]
    measure_rows(a, rep, b, plan, seconds_each=8)
    fast = [r for r in rep['rows'] if r['path'] == 'fast' and r['students'] == 1 and 'error' not in r]
    best = max(fast, key=lambda r: r['student_images_per_s'], default=None)
    if best and (rep['status'] != 'PASS' or a.smoke) and (a.smoke or a.left() > 15):  # where a step's time goes
        print(f"profile of one step: {best['name']}", flush=True)
        profile = lambda: b.profile(best['method'], True, best['teacher_cache'], best['compile'])
        rep['profile'] = {'row': best['name'], **(guarded(a, rep, 'profile', profile) or {})}

def part_compiled(a, rep):
    if a.smoke:  # compiling on a CPU is slow there, and not the path under test
        rep['status'], rep['summary'] = 'PASS', 'smoke: no compiled rows on a CPU'; return
    from speed import make_bench
    b = make_bench(a.smoke, a.work, seconds=3.0)
    plan = [('fast KD+LS, teacher cache, compiled', 'kd', dict(cache=True, compile=True)),
            ('fast KD+LS, compiled', 'kd', dict(compile=True)),
            ('fast KD+LS, 8 students, teacher cache, compiled', 'kd', dict(n=8, cache=True, compile=True)),
            ('fast MLKD+LS, compiled', 'mlkd', dict(compile=True))]
    measure_rows(a, rep, b, plan, seconds_each=60, summarize=compiled_status)  # a compile takes about a minute
    if not rep.get('rows'): rep['status'], rep['summary'] = 'PASS', 'no time left for a compiled row'
    if a.vit_compile and a.left() > 90:  # opt-in: the ViT step compiled
        status, summary = rep['status'], rep['summary']
        external('vit_speed.py', ['--steps', '30'])(a, rep)
        vit_ok = rep['status'] == 'PASS'
        rep['status'] = status if vit_ok else 'FAIL'
        rep['summary'] = f"{summary}; ViT compiled: {'ok' if vit_ok else 'FAILED'}"

# ---- 3: accuracy -----------------------------------------------------------------------------------------------------

def part_accuracy(a, rep):
    import torch
    from speed import accuracy
    cuda = on_gpu(a)
    epochs = int(min(30, max(4, a.seconds / 5))) if cuda else 1
    sizes = dict(student='resnet20', n_train=10_000, n_test=5_000) if cuda else dict(student='resnet8', n_train=128,
                                                                                      n_test=100)
    fast = dict(speed='fast') if cuda else dict(speed='fast', precision='bf16')  # a CPU's fast is float32
    res = accuracy(torch.device('cuda' if cuda else 'cpu'), a.work, **sizes, epochs=epochs,
                   teacher_epochs=max(1, epochs // 2), fast=fast)
    rep['runs'], rep['sizes'], rep['epochs'] = res, sizes, epochs
    (e, f) = res.values()
    df, db = f['final'] - e['final'], f['best'] - e['best']
    ok = abs(df) <= 2.0 and abs(db) <= 2.0 and (a.smoke or e['best'] > 5.0)
    rep['status'] = 'PASS' if ok else 'FAIL'
    rep['summary'] = (f"resnet56 → {sizes['student']}, one teacher, {epochs} epochs, {sizes['n_train']:,} synthetic "
                      f"images: exact final {e['final']:.2f} / best {e['best']:.2f}, "
                      f"fast final {f['final']:.2f} / best {f['best']:.2f} "
                      f"(Δ {df:+.2f} / {db:+.2f}; pass: |Δ| ≤ 2 points); "
                      f"fast = {f['precision']}, channels_last {f['channels_last']}, CUDA graphs {f['cuda_graphs']}, "
                      f"compile {f['compile']}, cache {f['teacher_cache']}")
    print(rep['summary'], flush=True)

# ---- 4: the headless path; 5: the other benchmarks -------------------------------------------------------------------

def part_reproduce(a, rep):
    "Table 4's toy slice (a teacher, then 8 students in one group) planned, trained and rendered by the library."
    lib, cuda, runs = library(), on_gpu(a), Path(a.work) / 'runs'
    train = (dict(epochs=2, teacher_epochs=2, precision='bf16', channels_last=True, cuda_graphs=True) if cuda
             else dict(epochs=1, teacher_epochs=1, data_args=dict(n_train=128, n_test=64)))
    planned = lib.plan('main_T4', 'toy', out_dir=str(runs), device='cuda' if cuda else 'cpu', **train)
    configs = [p.config for p in planned if p.config is not None]
    rep['train_args'], rep['students'] = train, len(configs)
    lib.run_local(configs)
    paths = lib.write_table(planned, runs / 'tables', 'main_T4_toy',
                            'Table 4, toy slice on synthetic data (stand-in models): the pipeline, not the numbers.')
    rep['table'] = paths['md'].read_text(); print(rep['table'], flush=True)
    finished = len(list(runs.glob('*/result.json')))
    rep['status'] = 'PASS' if finished == len(configs) + 1 else 'FAIL'
    rep['summary'] = (f"{finished} of {len(configs) + 1} runs finished (teacher + {len(configs)} students, "
                      f"{train['epochs']} epochs, {'bf16, channels_last, CUDA graphs' if cuda else 'CPU'}), "
                      f"table rendered")

SHORTER = {'imagenet_loader.py': ['--images', '4000'], 'vit_speed.py': ['--steps', '30', '--no-compile']}

def external(script: str, args=None):
    "A part that runs another benchmark (shortened; smoke: its --smoke mode); its rows are kept when it times out."
    def part(a, rep):
        path, out = ROOT / 'benchmarks' / script, Path(a.work) / Path(script).stem
        cmd = [sys.executable, path, '--out', out] + (['--smoke'] if a.smoke else args or SHORTER[script])
        rep['command'] = ' '.join(map(str, cmd))
        ok = sh(cmd, rep, a.left() - 10, f'benchmarks/{script}')  # 10 s to keep what it wrote before a timeout
        md = sorted(out.glob('*.md')) if out.exists() else []
        rep['results'] = {**rep.get('results', {}), **{f'{path.stem}/{p.name}': p.read_text() for p in md}}
        rep['status'] = 'PASS' if ok else 'FAIL'
        rep['summary'] = f"{'ok' if ok else rep['lines'][-1]}; {headline(out) or 'no results written'}"
    return part

def headline(out: Path) -> str:
    "A sub-benchmark's key figures, from the JSON it wrote: its ratios and projected minutes."
    for f in sorted(out.glob('*.json')) if out.exists() else []:
        d = json.loads(f.read_text())
        minutes = {f'{k} min / 300 ep': v for k, v in (d.get('projected_minutes') or {}).items()}
        figures = {**d.get('ratios', {}), **({'fast / classic': d['ratio']} if d.get('ratio') else {}), **minutes}
        return ', '.join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in figures.items())
    return ''

RUN = dict(env=part_env, graphs=part_graphs, speed=part_speed, accuracy=part_accuracy, group=part_group,
           tests=part_tests, imagenet=external('imagenet_loader.py'), vit=external('vit_speed.py'),
           compiled=part_compiled, reproduce=part_reproduce)

def child(name: str, opts: dict, log: str, report: str):
    "A part's process: its own session (killed with its children), its output in `log`, its report in `report`."
    os.setsid()
    try: ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: it ends with the forkserver, hence the check
    except (OSError, AttributeError): pass
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1); os.dup2(fd, 2)
    for stream in (sys.stdout, sys.stderr): stream.reconfigure(line_buffering=True)
    a = SimpleNamespace(**opts, part=name)
    a.left = lambda: a.deadline - time.time()
    rep = Report(report)
    try:
        inject(a, name)
        RUN[name](a, rep)
    except Exception as e:
        traceback.print_exc(); rep['error'] = f'{type(e).__name__}: {e}'; sys.stdout.flush(); os._exit(1)
    sys.stdout.flush(); os._exit(0)

# ---- the parent: runs the parts, keeps the results -------------------------------------------------------------------

class Results:
    "check.md, check.json and check.log in the results folder, rewritten (the log: appended) as the parts report."
    def __init__(self, out, meta: dict):
        self.out, self.meta, self.parts, self.pending, self.current = out, meta, {}, [], None
        if out: Path(out).mkdir(parents=True, exist_ok=True)
    def say(self, text: str):
        "Print `text` and append it to check.log (held back until the folder is known)."
        print(text, flush=True); self.pending.append(text + '\n')
        if self.out:
            with open(Path(self.out) / 'check.log', 'a') as f: f.write(''.join(self.pending))
            self.pending = []
    def set_out(self, out):
        self.out = out; Path(out).mkdir(parents=True, exist_ok=True); self.say(f'results: {out}')
    def save(self):
        "Rewrite check.json and check.md with all reported so far (atomically: a kill leaves the last whole one)."
        self.meta['wall_s'] = time.time() - self.meta['started']
        if not self.out: return
        for name, text in (('check.json', json.dumps(dict(**self.meta, parts=merged(self.parts)), indent=1,
                                                       default=str)), ('check.md', summary_md(self.meta, self.parts))):
            tmp = Path(self.out) / (name + '.tmp')
            tmp.write_text(text); tmp.replace(Path(self.out) / name)

def merged(parts: dict) -> dict:
    "The parts as reported, the compiled rows also among the speed rows (where the sweep planner looks for speeds)."
    parts = {k: dict(v) for k, v in parts.items()}
    if 'compiled' in parts and 'speed' in parts:
        parts['speed']['rows'] = parts['speed'].get('rows', []) + parts['compiled'].get('rows', [])
    return parts

def run_part(name: str, a, deadline: float, res: Results, server) -> dict:
    "Run part `name` until `deadline`, following its output; its report (CRASH or TIMEOUT with the output's tail)."
    log, jf, t0 = Path(a.work) / f'{name}.log', Path(a.work) / f'{name}.json', time.time()
    opts = dict(smoke=a.smoke, work=str(Path(a.work) / name), deadline=deadline, seconds=deadline - t0,
                vit_compile=a.vit_compile, faults=a.faults)
    Path(opts['work']).mkdir(parents=True, exist_ok=True); log.touch()
    res.say(f"\n=== {PARTS[name].title} (limit {deadline - t0:.0f} s)")
    res.parts[name] = dict(status='running', summary='', seconds=0.0); res.save()
    p = server.Process(target=child, args=(name, opts, str(log), str(jf)))
    p.start()
    res.current = p
    seen, pos, timed_out = 0.0, 0, False
    def follow(final=False):
        nonlocal seen, pos
        with open(log, 'rb') as f: f.seek(pos); chunk = f.read()
        if not final: chunk = chunk[:chunk.rfind(b'\n') + 1]  # whole lines only while the part writes
        pos += len(chunk)
        for line in chunk.decode(errors='replace').splitlines(): res.say('  ' + line)
        if jf.exists() and jf.stat().st_mtime != seen:  # new figures: into check.json and check.md now
            seen = jf.stat().st_mtime
            res.parts[name] = {**read_report(jf), 'seconds': time.time() - t0}; res.save()
    while p.exitcode is None:
        p.join(timeout=0.5); follow()
        if p.exitcode is None and time.time() > deadline:
            kill(p); timed_out = True
    follow(final=True)
    rep = {**read_report(jf), 'seconds': time.time() - t0}
    if timed_out or p.exitcode != 0:
        tail = log.read_text(errors='replace').splitlines()[-15:]
        rep['status'], rep['tail'] = ('TIMEOUT' if timed_out else 'CRASH'), tail
        rep['summary'] = (rep.get('summary') or '') + f" [{rep['status'].lower()}: {tail[-1] if tail else 'no output'}]"
    return rep

def read_report(path: Path) -> dict:
    try: return json.loads(path.read_text())
    except (OSError, ValueError): return dict(status='running', summary='', lines=[])

def kill(p):
    "End a part's process and everything it started (its session)."
    try: os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError: pass
    try: p.kill()
    except (ProcessLookupError, AttributeError): pass
    p.join(10)

def summary_md(meta: dict, reps: dict) -> str:
    "The check's report: what ran where, one line per part, then the details."
    cell = lambda s: str(s).replace('|', '/').replace('\n', ' ')
    env = reps.get('env', {})
    ran = (f"`{meta['command']}` — {meta['date']}; torch {env.get('torch')} (CUDA {env.get('cuda')}), "
           f"driver {env.get('driver')}, Python {meta['python']}, commit {meta['commit']} ({meta['commit_from']}); "
           f"wall {meta['wall_s']:.0f} s, " + (f"budget {meta['budget_s']:.0f} s from the command's start"
                                                if meta['budget_s'] else 'no budget')
           + (' (CPU smoke mode: tiny sizes, the numbers say nothing)' if meta['smoke'] else ''))
    running = [PARTS[n].title for n, r in reps.items() if r.get('status') == 'running']
    state = ('complete' if meta.get('finished') else
             f"**in progress** (a cut-off command stopped here): {', '.join(running) or 'between parts'}")
    out = [f"# GPU check: {env.get('hardware', 'unknown hardware')}", '', ran, '', f'State: {state}', '',
           '| part | status | result | s |', '|---|---|---|---|']
    out += [f"| {PARTS[n].title} | {r['status']} | {cell(r.get('summary', ''))} | {r.get('seconds', 0):.0f} |"
            for n, r in reps.items()]
    rows = merged(reps).get('speed', {}).get('rows') or reps.get('compiled', {}).get('rows', [])
    if rows:
        met = lambda g: 'yes' if g['met'] else 'NO' if g['met'] is False else '–'
        out += ['', '## Speed', '', *speed_table(add_ratios(rows)), '', '| goal | row | met | |', '|---|---|---|---|']
        out += [f"| {g['goal']} | {g.get('row', '')} | {met(g)} | {g['text']} |" for g in goals(rows)]
    if (p := reps.get('speed', {}).get('profile')) and 'verdict' in p:
        out += ['', f"Profile of one step ({p['row']}): {p['wall_ms_per_step']:.2f} ms wall, "
                f"{p['busy_ms_per_step']:.2f} ms busy ({100 * p['busy_share']:.0f}%), "
                f"{p['kernels_per_step']:.0f} kernels/ops per step: **{p['verdict']}**. Largest: "
                + '; '.join(f"{t['name']} {t['ms_per_step']:.3f} ms" for t in p['top'])]
    for n in ('imagenet', 'vit', 'compiled'):
        for key, text in reps.get(n, {}).get('results', {}).items(): out += ['', f'## {key}', '', text]
    if reps.get('reproduce', {}).get('table'):
        out += ['', '## 20_reproduce (toy slice of Table 4)', '', reps['reproduce']['table']]
    for n, r in reps.items():
        if r.get('tail') or r.get('errors'):
            errors = [f'{k}: {v}' for k, v in r.get('errors', {}).items()]
            out += ['', f"## {PARTS[n].title}: {r['status']}", '', '```', *errors, *r.get('tail', []), '```']
    return '\n'.join(out) + '\n'

def commit() -> tuple:
    "(commit, where it came from): git; else $ZSCORE_KD_COMMIT or wh312/COMMIT, written before the tree travelled."
    try:
        git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, timeout=10)
        head, dirty = git('rev-parse', 'HEAD'), git('status', '--porcelain', '--untracked-files=no')
        if head.returncode == 0: return head.stdout.strip() + ('-dirty' if dirty.stdout.strip() else ''), 'git'
    except (OSError, subprocess.SubprocessError): pass
    if os.environ.get('ZSCORE_KD_COMMIT'): return os.environ['ZSCORE_KD_COMMIT'], 'ZSCORE_KD_COMMIT'
    if (f := ROOT / 'wh312' / 'COMMIT').is_file(): return f.read_text().strip(), 'wh312/COMMIT'
    return 'unknown', 'no git, ZSCORE_KD_COMMIT or wh312/COMMIT'

def results_dir(a, hardware: str):
    "--out; else $OUT; else benchmarks/results/<gpu> (a smoke run: nowhere)."
    if a.out or os.environ.get('OUT'): return Path(a.out or os.environ['OUT'])
    if a.smoke: return None
    slug = '-'.join(hardware.lower().replace('nvidia', '').split()) or 'gpu'
    return ROOT / 'benchmarks' / 'results' / slug

def deadline_of(i: int, parts: list, start: float, end: float, part_limit: float) -> float:
    "Part i's deadline: its share of the time left at `start`, at least its minimum, leaving the later ones theirs."
    if end is None: return time.time() + part_limit
    expected = [PARTS[p].expected for p in parts]
    planned = start + sum(expected[:i + 1]) / sum(expected) * (end - start)
    later = sum(PARTS[p].minimum for p in parts[i + 1:])
    return min(end - later, max(planned, time.time() + PARTS[parts[i]].minimum))

def forkserver():
    "A process that imports torch and the library once, from which each part is forked; 'spawn' if CUDA got in."
    ctx = multiprocessing.get_context('forkserver')
    ctx.set_forkserver_preload(['__main__', 'torch', 'speed', 'zscore_kd.sweeps', 'zscore_kd.tables'])
    try:  # the imports happen now, before any part's clock starts
        probe = ctx.Process(target=cuda_untouched); probe.start(); probe.join()
        if probe.exitcode == 0: return ctx
    except (OSError, EOFError) as e: print(f'forkserver failed ({e}); each part starts afresh', flush=True)
    return multiprocessing.get_context('spawn')

def cuda_untouched():
    "Exit 0 in a forked process whose parent had not initialized CUDA (else CUDA would fail in every part)."
    import torch
    sys.exit(1 if torch.cuda.is_initialized() or torch.cuda._is_in_bad_fork() else 0)

def arguments():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--smoke', action='store_true', help='every part at tiny sizes on the CPU')
    ap.add_argument('--budget', type=float, help=f"seconds from the command's start for all parts (default "
                                                  f"{BUDGET:.0f}; smoke: none); the measurements shrink to fit")
    ap.add_argument('--out', help='folder for check.md, check.json and check.log')
    ap.add_argument('--only', help='comma-separated parts, run in the order given: ' + ', '.join(PARTS))
    ap.add_argument('--vit-compile', action='store_true', help='also time the ViT step compiled, if time remains')
    ap.add_argument('--part-limit', type=float, default=300.0, help='seconds per part without a budget (smoke)')
    a = ap.parse_args()
    a.parts = a.only.split(',') if a.only else list(PARTS)
    if unknown := set(a.parts) - set(PARTS):
        sys.exit(f"Unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}.")
    a.faults = dict(f.rsplit(':', 1) for f in os.environ.get('ZSCORE_KD_CHECK_FAULT', '').split(';') if ':' in f)
    a.budget = a.budget or (None if a.smoke else BUDGET)
    return a

def run_all(a, res: Results):
    "The parts in order, each until its deadline; the results folder is known once the environment part named the GPU."
    server = forkserver()
    start, end = time.time(), res.meta['started'] + a.budget if a.budget else None
    with tempfile.TemporaryDirectory(prefix='zscore_kd_check_') as work:
        a.work = work
        for i, name in enumerate(a.parts):
            deadline = deadline_of(i, a.parts, start, end, a.part_limit)
            if end and deadline - time.time() < 5:  # the compiled rows are optional; any other part is missing
                status = 'PASS' if PARTS[name].minimum == 0 else 'SKIPPED'
                res.parts[name] = dict(status=status, summary='no time left in the budget', seconds=0.0)
                res.say(f'\n=== {PARTS[name].title}: skipped, no time left in the budget'); res.save(); continue
            res.parts[name] = run_part(name, a, deadline, res, server); res.current = None
            if name == 'env' and res.out is None and not a.smoke:
                res.set_out(results_dir(a, res.parts['env'].get('hardware', '')))
            res.save()
            if name == 'env' and res.parts['env']['status'] != 'PASS' and not a.smoke:
                return res.say('no CUDA device here: the other parts are skipped (run with --smoke on a CPU)')

def main():
    a = arguments()
    t0 = float(os.environ.get('CHECK_STARTED', time.time()))  # the command's start (run_on_gpu.sh sets it)
    sha, source = commit()
    meta = dict(command=os.environ.get('CHECK_COMMAND') or 'python benchmarks/check.py ' + ' '.join(sys.argv[1:]),
                date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                python=platform.python_version(), commit=sha, commit_from=source, budget_s=a.budget or 0.0,
                smoke=a.smoke, started=t0, finished=False)
    res = Results(results_dir(a, '') if a.out or os.environ.get('OUT') else None, meta)
    def stop(signum, frame):  # stopped from outside: end the running part, keep what is there, exit
        if res.current is not None: kill(res.current)
        res.say(f'stopped by signal {signum}'); res.save(); os._exit(128 + signum)
    signal.signal(signal.SIGTERM, stop); signal.signal(signal.SIGINT, stop)
    run_all(a, res)
    meta['finished'] = True; res.save()
    res.say('\n' + summary_md(meta, res.parts))
    if res.out: res.say(f'written: {res.out}/check.md, check.json, check.log')
    passed = lambda r: r['status'] in ('PASS', 'not present') or r['status'].startswith('MISSED')
    sys.exit(0 if all(passed(r) for r in res.parts.values()) else 1)

if __name__ == '__main__':
    main()

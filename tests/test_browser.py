"""`nbs/30_explore.ipynb` in a real browser: headless JupyterLab on loopback, driven by Chromium through Playwright.

Run all cells in a 1280×800 window, check that Fig. 2's panel fits it with its legend, then use every control as a
user would: drag τ with the mouse, type out-of-range values, move K, student × and student +, pick another pair,
flip the std toggle, page through Fig. 3, pick a finished run from the menu, load a vanilla run and a folder that is
not a run (both runs are trained here, tiny, in a temp folder). After each step, once the kernel settles, the
figure's own title (shown in the readout) must match the controls, and the plot's pixels must have changed. Then
bursts: for every slider, rapid mouse drags and typed values, and quick runs of dropdown and toggle changes; after
each burst, once idle (kernel idle and no plot marked as behind its controls), the plot's title, the readout and
the controls must agree: 0 stale states allowed (a screenshot of each goes to the artifacts). Any browser console
error or JupyterLab log-console entry fails the test. Finally the notebook is saved from Lab and must carry the
controls' last values as widget state, which nbconvert's HTML keeps. Screenshots go to `test-artifacts/`
(gitignored; CI keeps them as artifacts).
"""
import contextlib, json, os, random, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = '/usr/bin/chromium'
ARTIFACTS = ROOT / 'test-artifacts'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']
IDLE = "() => /\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')"
PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
RUN_ENDED = ("""() => { const p = (%s)(), idle = (%s)();  // no cell queued or running, at least one ran
                       return idle && p.length > 0 && !p.includes('[*]:') && p.some(t => /^\\[\\d+\\]:$/.test(t)); }"""
             % (PROMPTS, IDLE))
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'  # where a traceback is shown
# settled: the kernel idle and no plot marked as behind its controls (zscore_kd.panels.BEHIND), for 0.4 s in a row
SETTLED = ("""() => { const now = performance.now(), plots = [...document.querySelectorAll('.zkd-plot')],
                       calm = (%s)() && plots.every(p => !p.classList.contains('zkd-behind'));
                       if (!calm) { window.zkdCalmSince = null; return false; }
                       window.zkdCalmSince = window.zkdCalmSince || now;
                       return now - window.zkdCalmSince > 400; }""" % IDLE)
HAS_OPTION = "([el, p]) => [...el.options].some(o => new RegExp(p).test(o.text.replace(/\\u00a0/g, ' ')))"
STD_NAMES = {'Bessel, ddof=1 (code)': 'Bessel std (ddof=1, official code)',
             'population, ddof=0 (paper)': 'population std (ddof=0, paper)'}  # toggle label -> title's words
# at its default level: output no cell claimed (e.g. from a widget callback), errors
LOG_ENTRIES = '.jp-LogConsolePanel .jp-OutputArea-child'
TRAIN = """import glob, json, sys
from zscore_kd.train import fit
r = fit(method='kd', logit_stand=False, teacher='resnet8', student='resnet8', epochs=1, teacher_epochs=1, seed=1,
        device='cpu', data_args=dict(n_train=128, n_test=32), out_dir=sys.argv[1], progress=False)
print(json.dumps(dict(kd=r['run_dir'], vanilla=glob.glob(sys.argv[1] + '/vanilla-*')[0])))"""

if not Path(CHROMIUM).exists() and os.environ.get('ZSCORE_KD_REQUIRE_BROWSER', '') in ('', '0'):
    pytest.skip(f'{CHROMIUM} is missing (make browser installs it; set ZSCORE_KD_REQUIRE_BROWSER=1 to fail instead)',
                allow_module_level=True)
# noqa: E402  (after the skip: a missing browser needs no playwright)
from playwright.sync_api import sync_playwright, TimeoutError as PlaywrightTimeout

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def descendants(pid: int) -> list:
    "Pids of every process below `pid` (the server's kernels), read from /proc."
    children = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try: ppid = int(stat.read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError): continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), []); found += kids; todo += kids
    return found

@pytest.fixture
def runs(tmp_path):
    "A tiny KD run and its vanilla teacher run, trained in a background process while JupyterLab starts."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    proc = subprocess.Popen([sys.executable, '-c', TRAIN, str(tmp_path / 'extra-runs')], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    def result() -> dict:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f'training the tiny runs failed: {err[-2000:]}'
        return json.loads(out.strip().splitlines()[-1])
    yield result
    if proc.poll() is None: proc.kill(); proc.wait()

@pytest.fixture
def lab(tmp_path):
    "JupyterLab on a random loopback port, serving a temp copy of the notebook (autosave must not touch nbs/)."
    root = tmp_path / 'root'; (root / 'nbs').mkdir(parents=True)
    shutil.copy(ROOT / 'nbs' / '30_explore.ipynb', root / 'nbs')
    settings = tmp_path / 'app-settings'; settings.mkdir()
    # as `make setup` writes them: no "Jupyter news" pop-up; save widget state with the notebook
    (settings / 'overrides.json').write_text(json.dumps({
        '@jupyterlab/apputils-extension:notification': {'fetchNews': 'false'},
        '@jupyter-widgets/jupyterlab-manager:plugin': {'saveState': True}}))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', f'--LabApp.app_settings_dir={settings}',
           f'--LabApp.user_settings_dir={tmp_path / "user-settings"}',
           f'--LabApp.workspaces_dir={tmp_path / "workspaces"}']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'JUPYTER_RUNTIME_DIR': str(tmp_path / 'runtime'),
           'ZSCORE_KD_HOME': str(root)}
    env.pop('MPLBACKEND', None)  # the kernel's inline backend must embed the figures
    log = open(tmp_path / 'jupyter.log', 'w')
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f'http://127.0.0.1:{port}'
        deadline = time.time() + 60
        while True:
            try: urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=1); break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f'JupyterLab did not start: {(tmp_path / "jupyter.log").read_text()[-2000:]}')
                time.sleep(0.2)
        yield dict(url=url, token=token, root=root)
    finally:
        kernels = descendants(server.pid)
        os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try: server.wait(timeout=15)
        except subprocess.TimeoutExpired: os.killpg(server.pid, signal.SIGKILL); server.wait()
        for pid in kernels:  # kernels run in their own sessions: kill any the server left behind
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
        log.close()

def text(locator) -> str:
    return locator.text_content().strip()  # textContent: innerText is empty for cells scrolled out of view

def settle(page):
    "Wait until the kernel is idle and no plot is marked as behind its controls, for 0.4 s in a row."
    page.evaluate('window.zkdCalmSince = null')
    page.wait_for_function(SETTLED, polling=50, timeout=60000)

class Panel:
    "One widget panel of the notebook: its controls, its status/readout line and its plot."
    def __init__(self, page, root, line: str):
        self.page, self.root, self.line, self.plot = (page, root, root.locator(line).first,
                                                      root.locator('.zkd-plot img').first)

    def slider(self, label: str):
        return self.root.locator('.widget-slider', has=self.page.locator('.widget-label', has_text=label)).first

    def box(self, label: str):
        "The number box beside the slider labelled `label`."
        slider = self.page.locator('.widget-slider', has=self.page.locator('.widget-label', has_text=label))
        row = self.root.locator('.widget-hbox', has=slider).last  # the innermost row: slider and box
        return row.locator('.widget-text input').first

    def value(self, label: str) -> float:
        "The value the browser's slider holds (its hidden readout, which the frontend keeps up to date)."
        return float(text(self.slider(label).locator('.widget-readout')).replace('−', '-'))

    def pixels(self) -> bytes:
        "A screenshot of the plot, once the picture its src names is decoded and painted."
        self.plot.scroll_into_view_if_needed()
        self.page.evaluate("el => el.decode().then(() => new Promise(r => requestAnimationFrame(() => "
                           "requestAnimationFrame(r))))",
                           self.plot.element_handle())
        shot = self.plot.screenshot()
        return shot

    def wait(self, pattern: str, old_pixels: bytes = None, name: str = None) -> str:
        "Wait until the line matches `pattern` and the panels settle; check the plot changed; save a screenshot."
        try:
            self.page.wait_for_function("([el, p]) => new RegExp(p).test(el.textContent)",
                                        arg=[self.line.element_handle(), pattern],
                                        timeout=60000)
        except PlaywrightTimeout:
            raise AssertionError(f'{name or "line"}: {text(self.line)!r} does not match {pattern!r}') from None
        settle(self.page)
        if old_pixels is not None:  # the line is set after the plot, so the plot's src is the new picture's by now
            assert self.pixels() != old_pixels, f'the plot did not change ({name})'
        if name: self.pixels(); self.root.screenshot(path=str(ARTIFACTS / f'explore-{name}.png'))
        return text(self.line)

def drag(page, slider, fraction: float, steps: int = 12):
    "Drag a slider's handle with the mouse to `fraction` of its track, in small steps as a hand would."
    handle, track = slider.locator('.noUi-handle').first, slider.locator('.noUi-target').first
    handle.scroll_into_view_if_needed()
    box, rail = handle.bounding_box(), track.bounding_box()
    x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    page.mouse.move(x, y); page.mouse.down()
    page.mouse.move(rail['x'] + fraction * rail['width'], y, steps=steps); page.mouse.up()

def title_tau(line: str) -> float:
    return float(re.match(r'τ = ([\d.]+)', line).group(1))

# What a panel shows, read in one go: each slider's value (its hidden readout) and box, the dropdowns' and toggle's
# choices, the first line of the readout/status, and the plot's title.
SHOWN = """root => {
    const first = el => { const d = document.createElement('div');
                          d.innerHTML = (el?.querySelector('.widget-html-content')?.innerHTML || '').split('<br>')[0];
                          return d.textContent.trim(); };
    const sliders = {};
    for (const s of root.querySelectorAll('.widget-slider'))
        sliders[s.querySelector('.widget-label').textContent.split(' (')[0]] =
            [s.querySelector('.widget-readout').textContent.replace('−', '-'),
             s.parentElement.querySelector('.widget-text input').value];
    return {sliders, menus: [...root.querySelectorAll('.widget-dropdown select')]
                                .map(s => s.selectedOptions[0]?.text.replace(/\u00a0/g, ' ')),
            toggle: root.querySelector('.widget-toggle-button.mod-active')?.textContent.trim(),
            line: first(root.querySelector('.widget-html:not(.zkd-plot)')),
            plot: root.querySelector('.zkd-plot img')?.title ?? '(the plot has no title)'};
}"""

def boxes_differ(shown: dict) -> list:
    "The sliders whose box does not hold the slider's value (the box has 3 decimals, a log slider's readout 3 digits)."
    return [k for k, (v, box) in shown['sliders'].items() if abs(float(box) - float(v)) > 0.006 * max(1, abs(float(v)))]

def toy_differences(toy) -> list:
    "How the toy panel's readout and plot title differ from the title its controls call for (empty: they agree)."
    s = toy.root.evaluate(SHOWN)
    v = {k: float(value) for k, (value, _) in s['sliders'].items()}
    preset, shift = s['menus'][0], v['student +']
    k = 4 if preset.startswith('Fig. 2') else int(v['K classes'])
    title = (f"τ = {v['τ']:g}, {preset} (K = {k}), student × {v['student ×']:.3g} {'−' if shift < 0 else '+'} "
             f"{abs(shift):g}  ·  {STD_NAMES[s['toggle']]}")
    return ([f'readout {s["line"]!r} ≠ controls {title!r}'] * (s['line'] != title)
            + [f'plot title {s["plot"]!r} ≠ controls {title!r}'] * (s['plot'] != title)
            + [f'box ≠ slider: {boxes_differ(s)}'] * bool(boxes_differ(s)))

def fig3_differences(fig3) -> list:
    "How Fig. 3's status line and plot title differ from its controls: image, std, the run picked (empty: agree)."
    s = fig3.root.evaluate(SHOWN)
    image, run = int(float(s['sliders']['image'][0])), s['menus'][0]
    method = run.split(', τ ')[0] if ', τ ' in run else None  # the menu's label starts with the method
    line, std = s['line'], STD_NAMES[s['toggle']]
    return ([f'status {line!r} ≠ plot title {s["plot"]!r}'] * (line != s['plot'])
            + [f'status {line!r} is not image #{image}'] * (f'; image #{image} of ' not in line)
            + [f'status {line!r} is not {std}'] * (not line.endswith(std))
            + [f'status {line!r} is not the run picked, {run!r}'] * bool(method and f': {method}, ' not in line)
            + [f'box ≠ slider: {boxes_differ(s)}'] * bool(boxes_differ(s)))

class Bursts:
    "Bursts of control changes; after each, once settled, every panel must agree with its controls (else: stale)."
    def __init__(self, page, toy, fig3, seed: int = 0):
        self.page, self.toy, self.fig3, self.rnd, self.stale, self.count = page, toy, fig3, random.Random(seed), [], 0

    def check(self, panel, name: str):
        "Once settled, compare both panels with their controls; a stale state is kept, with a screenshot of `panel`."
        settle(self.page)
        self.count += 1
        wrong = toy_differences(self.toy) + fig3_differences(self.fig3)
        if wrong:
            self.stale.append(f'{name}: {"; ".join(wrong)}')
            panel.root.evaluate("el => el.scrollIntoView({block: 'start'})")
            self.page.screenshot(path=str(ARTIFACTS / f'explore-stale-{len(self.stale):02d}-{name}.png'))

    def slider(self, panel, label: str, typed, n: int = 20, per_burst: int = 10):
        "`n` rapid mouse drags, then `n` typed values (`typed(rnd)` makes one), in bursts of `per_burst`."
        slider, box = panel.slider(label), panel.box(label).element_handle()
        slider.scroll_into_view_if_needed()
        handle, rail = slider.locator('.noUi-handle').first, slider.locator('.noUi-target').first.bounding_box()
        for kind in ('drag', 'type') * (n // per_burst):
            for _ in range(per_burst):
                if kind == 'type': box.fill(str(typed(self.rnd))); box.press('Enter'); continue
                grip = handle.bounding_box()
                x, y = grip['x'] + grip['width'] / 2, grip['y'] + grip['height'] / 2
                self.page.mouse.move(x, y); self.page.mouse.down()
                self.page.mouse.move(rail['x'] + self.rnd.random() * rail['width'], y, steps=5)
                self.page.mouse.up()
            self.check(panel, f'{label}-{kind}')

    def choices(self, changes: list, n: int = 10):
        "`n` changes in quick succession, each one of `changes` (functions of the random generator)."
        for _ in range(n): self.rnd.choice(changes)(self.rnd)
        self.check(self.toy, 'choices')

def test_explore_notebook_in_jupyterlab(lab, runs):
    assert Path(CHROMIUM).exists(), f'{CHROMIUM} is missing and ZSCORE_KD_REQUIRE_BROWSER is set: run `make browser`'
    ARTIFACTS.mkdir(exist_ok=True)
    committed = json.loads((ROOT / 'nbs' / '30_explore.ipynb').read_text())
    assert 'widgets' not in committed['metadata'] and all(not c.get('outputs') for c in committed['cells']), \
        'the committed notebook carries outputs or widget state: run `make export`'
    start, problems = time.time(), []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={'width': 1280, 'height': 800})
        page.on('console', lambda m: m.type == 'error' and problems.append(f'console error: {m.text}'))
        page.on('pageerror', lambda e: problems.append(f'page error: {e}'))
        try:
            page.goto(f"{lab['url']}/lab/tree/nbs/30_explore.ipynb?token={lab['token']}")
            page.wait_for_selector('.jp-NotebookPanel', timeout=60000)
            page.wait_for_function(IDLE, timeout=60000)  # kernel connected: a Run All sent earlier is lost
            page.click('.lm-MenuBar-itemLabel:text-is("Run")')
            page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
            # Run All stops at a failing cell, so this ends either way
            page.wait_for_function(RUN_ENDED, timeout=120000)
            tracebacks = lambda: [t for t in page.locator(STDERR).all_text_contents() if 'Traceback' in t]
            ran = all(p != '[ ]:' for p in page.evaluate(PROMPTS))
            assert ran and not tracebacks(), f'a cell failed: {[t[-600:] for t in tracebacks()]}'
            print(f'run all: {time.time() - start:.1f} s')

            # Fig. 2 panel: it fits the notebook's view at 1280×800, legend (the plot's bottom) included
            toy = Panel(page, page.locator('.widget-vbox', has=page.locator('.widget-dropdown')).first, '.widget-html')
            line = toy.wait(r'^τ = 2, Fig\. 2: S1 \(K = 4\), student × 1 \+ 0  ·  Bessel std', name='start')
            assert 'KD 0.1729, KD + Z-score 0.0880' in line, line
            toy.root.evaluate("el => el.scrollIntoView({block: 'start'})"); toy.pixels()
            panel = toy.root.bounding_box()
            view = page.locator('.jp-NotebookPanel .jp-WindowedPanel-outer').bounding_box()  # the notebook's view
            page.screenshot(path=str(ARTIFACTS / 'explore-fig2-at-1280x800.png'))
            assert panel['height'] <= view['height'], f'Fig. 2 panel: {panel["height"]} px tall, view {view["height"]}'
            assert not page.locator('.jp-toast-message, .Toastify__toast').count(), 'a notification covers the plots'
            controls = toy.root.locator('.widget-slider, .widget-text, .widget-dropdown, .widget-toggle-buttons')
            tips = controls.evaluate_all("els => els.map(e => e.title || e.querySelector('[title]')?.title || '')")
            assert len(tips) == 10 and all(tips), f'every control needs a tooltip: {tips}'
            assert text(toy.slider('τ').locator('.widget-label')) == 'τ (0.25–8)'

            # τ dragged with the mouse: once idle, the title's τ is the box's value (and not 2 any more)
            before = toy.pixels()
            drag(page, toy.slider('τ'), 0.45)
            tau = toy.value('τ')  # where the browser's slider ended
            print(f'τ dragged to {tau}')
            line = toy.wait(rf'^τ = {tau:g},', before, 'tau-dragged')
            assert tau > 2 and title_tau(line) == tau == float(toy.box('τ').input_value()), (tau, line)

            # τ typed out of range: clamped to 8, and said
            before = toy.pixels()
            toy.box('τ').fill('20'); toy.box('τ').press('Enter')
            line = toy.wait(r'^τ = 8,.*τ = 20 is outside 0\.25–8: clamped to 8\.', before, 'tau-clamped')
            assert toy.box('τ').input_value() == '8'

            # the pair dropdown: a random pair of K = 10 classes; then K typed, student × by keyboard,
            # student + dragged
            before = toy.pixels()
            toy.root.locator('.widget-dropdown select').select_option('random')
            toy.wait(r'^τ = 8, random \(K = 10\)', before, 'pair')
            before = toy.pixels()
            toy.box('K classes').fill('12'); toy.box('K classes').press('Enter')
            toy.wait(r'^τ = 8, random \(K = 12\)', before, 'K')
            handle = toy.slider('student ×').locator('.noUi-handle').first
            for scale in ('1.12', '1.26'):  # one key press = one step of 0.05 in log10
                before = toy.pixels()
                handle.press('ArrowRight')
                toy.wait(rf'student × {re.escape(scale)} \+', before, 'scale')
            assert toy.box('student ×').input_value() == '1.259', toy.box('student ×').input_value()
            before = toy.pixels()
            drag(page, toy.slider('student +'), 0.2)
            shift = toy.value('student +')
            print(f'student + dragged to {shift}')
            line = toy.wait(rf'student × 1\.26 − {-shift:g}  ·', before, 'shift')
            assert shift < 0 and float(toy.box('student +').input_value()) == shift, line

            # the std toggle: the toy panel's title and Fig. 3's status both follow it
            fig3 = Panel(page, page.locator('.widget-vbox', has=page.locator('.widget-button')).first, '.widget-html')
            fig3.wait(r'^kd\+zscore-resnet8-resnet8-\w+: kd \+ Z-score, resnet8 → resnet8; image #0 of \d+ '
                      r'.*Bessel std')
            before, before3 = toy.pixels(), fig3.pixels()
            toy.root.locator('.widget-toggle-button', has_text='population, ddof=0 (paper)').click()
            toy.wait(r'·  population std \(ddof=0, paper\)', before, 'std')
            fig3.wait(r'image #0 of \d+ .*population std \(ddof=0, paper\)', before3, 'fig3-std')

            # Fig. 3 pager: the next image by keyboard, then an index typed past the end
            before = fig3.pixels()
            fig3.slider('image').locator('.noUi-handle').first.press('ArrowRight')
            fig3.wait(r'; image #1 of \d+', before, 'fig3-next')
            last = int(re.search(r'image #1 of (\d+)', text(fig3.line)).group(1)) - 1
            before = fig3.pixels()
            fig3.box('image').fill('100000'); fig3.box('image').press('Enter')
            fig3.wait(rf'image #{last} of .*image = 100000 is outside 0–{last}: clamped to {last}\.', before,
                      'fig3-clamped')

            # the menu of finished runs: the notebook's own run; ↻ adds a KD run copied into runs/ (its vanilla
            # teacher, copied too, is not listed); picking it loads it
            made = runs()
            menu = fig3.root.locator('.widget-dropdown select').first
            options = lambda: [t.replace('\xa0', ' ') for t in menu.locator('option').all_text_contents()]
            assert re.fullmatch(r'kd \+ Z-score, τ 2, resnet8 → resnet8, top-1 \d+\.\d\d%', options()[1]), options()
            for run in (made['kd'], made['vanilla']): shutil.copytree(run, lab['root'] / 'runs' / Path(run).name)
            fig3.root.locator('button:text-is("↻")').click()
            kd_label = r'kd, τ 4, resnet8 → resnet8, top-1 \d+\.\d\d%'
            page.wait_for_function(HAS_OPTION, arg=[menu.element_handle(), kd_label], timeout=30000)
            labels = options()
            assert len(labels) == 3 and labels[0] == 'pick a finished run (2 in runs/)', labels
            before = fig3.pixels()
            menu.select_option(index=next(i for i, label in enumerate(labels) if re.fullmatch(kd_label, label)))
            kd_line = rf'^{Path(made["kd"]).name}: kd, resnet8 → resnet8; image #0 of 32 '
            fig3.wait(kd_line, before, 'load-run')
            # a vanilla run and a folder that is not a run, typed: refused in one sentence each, under the line
            # that still says which run is shown
            path, load = (fig3.root.locator('.widget-text input[type="text"]').first,
                          fig3.root.locator('button:text-is("Load")'))
            shown = fig3.plot.get_attribute('src')
            path.fill(made['vanilla']); load.click()
            fig3.wait(kd_line + rf'.*{Path(made["vanilla"]).name} is a vanilla run \(no teacher\); Fig\. 3 compares a '
                      r'teacher with its student')
            assert fig3.plot.get_attribute('src') == shown, 'a refused run must leave the plot as it was'
            path.fill('/no/such/run'); load.click()
            fig3.wait(kd_line + r'.*/no/such/run is not a run folder \(it has no config\.json\)', name='load-errors')
            assert not tracebacks() and 'Traceback' not in text(fig3.root)

            # the notebook saved from Lab keeps the controls' last values, and nbconvert's HTML carries them
            saved_path = lab['root'] / 'nbs' / '30_explore.ipynb'
            saved_before = saved_path.stat().st_mtime_ns  # Lab may have autosaved earlier values already
            page.click('.lm-TabBar-tabLabel:text-is("30_explore.ipynb")')
            page.keyboard.press('Control+s')
            deadline = time.time() + 30
            while saved_path.stat().st_mtime_ns == saved_before and time.time() < deadline: time.sleep(0.2)
            time.sleep(0.5)  # the file may still be being written
            widgets = json.loads(saved_path.read_text())['metadata']['widgets']
            state = widgets['application/vnd.jupyter.widget-state+json']['state']
            values = {(m['model_name'], m['state'].get('description')): m['state'].get('value') for m in state.values()}
            tau = values.get(('FloatSliderModel', 'τ (0.25–8)'))
            k = values.get(('IntSliderModel', 'K classes (2–100)'))
            assert tau == 8 and k == 12, \
                {k: v for k, v in values.items() if v is not None}
            assert any(m['model_name'] == 'DropdownModel' and m['state'].get('index') == 3 for m in state.values())
            html = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', '--stdout',
                                   str(saved_path)],
                                  capture_output=True, text=True, timeout=120, check=True).stdout
            embedded = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html,
                                 re.S)
            assert embedded, 'nbconvert HTML without the widget state'
            rendered = json.loads(embedded.group(1))['state']
            assert any(m['model_name'] == 'FloatSliderModel' and m['state'].get('value') == 8
                       for m in rendered.values())

            # bursts: every slider dragged and typed into rapidly, then dropdowns and toggles changed in quick
            # succession; once settled after each burst, no panel may be behind its controls
            bursts_start, bursts = time.time(), Bursts(page, toy, fig3)
            n_images = int(re.search(r'image #\d+ of (\d+)', text(fig3.line)).group(1))
            typed = {'τ': lambda r: round(r.uniform(0.1, 9), 2), 'K classes': lambda r: r.randint(1, 110),  # some
                     'student ×': lambda r: round(10 ** r.uniform(-1.1, 1.1), 3),  # outside the range: clamped
                     'student +': lambda r: round(r.uniform(-6, 6), 1)}
            for label, value in typed.items(): bursts.slider(toy, label, value)
            bursts.slider(fig3, 'image', lambda r: r.randint(0, n_images + 5))
            pairs, runs_menu = toy.root.locator('.widget-dropdown select'), menu
            bursts.choices([lambda r: pairs.select_option(r.choice(['Fig. 2: S1', 'Fig. 2: S2', 'random',
                                                                    'same shape, smaller range'])),
                            lambda r: toy.root.locator('.widget-toggle-button').nth(r.randrange(2)).click(),
                            lambda r: runs_menu.select_option(index=r.randrange(1, 3))])
            print(f'bursts: {bursts.count} checks in {time.time() - bursts_start:.1f} s, {len(bursts.stale)} stale')
            assert not bursts.stale, f'{len(bursts.stale)} stale states of {bursts.count}: {bursts.stale}'

            page.click('.lm-MenuBar-itemLabel:text-is("View")')
            page.click('.lm-Menu-itemLabel:text-is("Show Log Console")')
            page.wait_for_selector('.jp-LogConsolePanel', timeout=30000)  # it lists what was logged before it opened
            entries = page.locator(LOG_ENTRIES).all_text_contents()
            page.screenshot(path=str(ARTIFACTS / 'explore-log-console.png'))
            assert not entries, f'JupyterLab log console: {entries}'
            assert not problems, problems
        except Exception:
            with contextlib.suppress(Exception): page.screenshot(path=str(ARTIFACTS / 'explore-failure.png'))
            raise
        finally:
            browser.close()
    print(f'browser test: {time.time() - start:.1f} s after the server was up')

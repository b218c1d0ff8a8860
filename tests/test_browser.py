"""`nbs/30_explore.ipynb` in a real browser: JupyterLab (headless, loopback) driven by Debian's Chromium through Playwright.

Run all cells, move the τ slider with the keyboard, check that the readout and the plot change; type a folder that is
not a run and check the one-sentence error; page to the next test image. Screenshots go to `test-artifacts/`.
"""
import contextlib, json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = '/usr/bin/chromium'
ARTIFACTS = ROOT / 'test-artifacts'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']
IDLE = "() => /\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')"
PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
RUN_ENDED = """() => { const p = (%s)(), idle = (%s)();  // no cell queued or running, at least one ran
                      return idle && p.length > 0 && !p.includes('[*]:') && p.some(t => /^\\[\\d+\\]:$/.test(t)); }""" % (PROMPTS, IDLE)
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'  # where a traceback is shown

if not Path(CHROMIUM).exists() and os.environ.get('ZSCORE_KD_REQUIRE_BROWSER', '') in ('', '0'):
    pytest.skip(f'{CHROMIUM} is missing (make browser installs it; set ZSCORE_KD_REQUIRE_BROWSER=1 to fail instead)',
                allow_module_level=True)
from playwright.sync_api import sync_playwright  # noqa: E402  (after the skip: a missing browser needs no playwright)

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
def lab(tmp_path):
    "JupyterLab on a random loopback port, serving a temp copy of the notebook (autosave must not touch nbs/)."
    root = tmp_path / 'root'; (root / 'nbs').mkdir(parents=True)
    shutil.copy(ROOT / 'nbs' / '30_explore.ipynb', root / 'nbs')
    settings = tmp_path / 'app-settings'; settings.mkdir()
    (settings / 'overrides.json').write_text(json.dumps(  # hide the "Jupyter news" toast
        {'@jupyterlab/apputils-extension:notification': {'fetchNews': 'false', 'checkForUpdates': False}}))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', f'--LabApp.app_settings_dir={settings}',
           f'--LabApp.user_settings_dir={tmp_path / "user-settings"}', f'--LabApp.workspaces_dir={tmp_path / "workspaces"}']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'JUPYTER_RUNTIME_DIR': str(tmp_path / 'runtime')}
    env.pop('MPLBACKEND', None)  # the kernel's inline backend must embed the figures
    log = open(tmp_path / 'jupyter.log', 'w')
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f'http://127.0.0.1:{port}'
        deadline = time.time() + 30
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

def slider(page, label: str):
    "The ipywidgets slider whose description is `label`."
    return page.locator('.widget-slider', has=page.locator('.widget-label', has_text=label)).first

def shoot(page, panel, name: str):
    "Scroll `panel` to the top of the notebook, wait for the kernel, and save a screenshot to test-artifacts/."
    panel.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_function(IDLE, timeout=30000); page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / name))

def wait_new_src(page, img, old_src: str):
    "Wait until the image widget `img` shows another picture (a new blob URL), then for the kernel to settle."
    page.wait_for_function("([el, s]) => el.src && el.src !== s", arg=[img.element_handle(), old_src], timeout=30000)
    page.wait_for_function(IDLE, timeout=30000); page.wait_for_timeout(300)  # let the last redraw land

def text(locator) -> str:
    return locator.text_content().strip()  # textContent: innerText is empty for cells scrolled out of view

def test_explore_notebook_in_jupyterlab(lab):
    assert Path(CHROMIUM).exists(), f'{CHROMIUM} is missing and ZSCORE_KD_REQUIRE_BROWSER is set: run `make browser`'
    ARTIFACTS.mkdir(exist_ok=True)
    start = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        try:
            page.goto(f"{lab['url']}/lab/tree/nbs/30_explore.ipynb?token={lab['token']}")
            page.wait_for_selector('.jp-NotebookPanel', timeout=60000)
            page.wait_for_function(IDLE, timeout=60000)  # kernel connected: a Run All sent earlier is lost
            page.click('.lm-MenuBar-itemLabel:text-is("Run")'); page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
            page.wait_for_function(RUN_ENDED, timeout=90000)  # Run All stops at a failing cell, so this ends either way
            tracebacks = lambda: [t for t in page.locator(STDERR).all_text_contents() if 'Traceback' in t]
            assert all(p != '[ ]:' for p in page.evaluate(PROMPTS)) and not tracebacks(), f'a cell failed: {[t[-600:] for t in tracebacks()]}'

            # Fig. 2 panel: τ from 2.00 to 3.00 with four arrow presses (step 0.25)
            tau = slider(page, 'τ (tau)')
            toy = page.locator('.widget-vbox', has=tau).first
            plot, readout = toy.locator('img.widget-image').first, toy.locator('.widget-html').first
            page.wait_for_function("el => el.src && el.naturalWidth > 0", arg=plot.element_handle(), timeout=30000)
            src, line = plot.get_attribute('src'), text(readout)
            assert text(tau.locator('.widget-readout')) == '2.00'
            assert line.startswith('τ = 2: KD 0.1729, KD + Z-score 0.0880'), line
            shoot(page, toy, 'explore-before.png')
            handle = tau.locator('.noUi-handle').first
            handle.click()  # focuses the handle without moving it
            for _ in range(4): handle.press('ArrowRight')
            wait_new_src(page, plot, src)
            assert text(tau.locator('.widget-readout')) == '3.00'
            assert plot.get_attribute('src') != src, 'the plot did not change'
            assert text(readout).startswith('τ = 3: KD ') and text(readout) != line, text(readout)
            shoot(page, toy, 'explore-after.png')

            # Fig. 3 panel: the next test image, then a folder that is not a run
            pager = page.locator('.widget-vbox', has=page.locator('.widget-text', has_text='run folder')).first
            status, fig3, image = pager.locator('.widget-html').first, pager.locator('img.widget-image').first, slider(page, 'image')
            assert text(status).startswith('showing kd-resnet8-'), text(status)
            src = fig3.get_attribute('src')
            image.locator('.noUi-handle').first.click(); image.locator('.noUi-handle').first.press('ArrowRight')
            wait_new_src(page, fig3, src)
            assert text(image.locator('.widget-readout')) == '1'
            pager.locator('.widget-text input').fill('/no/such/run'); pager.locator('button:text-is("Load")').click()
            page.wait_for_function("el => el.textContent.includes('is not a run folder')", arg=status.element_handle(), timeout=30000)
            assert text(status) == '/no/such/run is not a run folder (it has no config.json); pass a folder under runs/ written by fit().'
            assert not tracebacks() and 'Traceback' not in text(pager)
            shoot(page, pager, 'explore-error.png')
        except Exception:
            with contextlib.suppress(Exception): page.screenshot(path=str(ARTIFACTS / 'explore-failure.png'))
            raise
        finally:
            browser.close()
    print(f'browser test: {time.time() - start:.1f} s after the server was up')

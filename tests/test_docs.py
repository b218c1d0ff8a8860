"""`make docs` without quarto: the static pages `.ci/docs.py --static` writes, read as text and in Chromium.

The site is built once into a temp folder. Every notebook must have a page, linked from the index under its title;
no page may show front matter, a `#|` line, a hidden cell or a `default_exp` cell; exported code is shown under a
`show_doc`-style heading; quarto's `echo`, `output` and `include: false` are applied (on a small notebook written
here). Then Debian's Chromium (driven by Playwright; nothing is downloaded, every request off the disk is refused)
opens the index, follows the link to the Z-score page and checks its title, headings and code.
"""
import importlib.util, json, os, re, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = '/usr/bin/chromium'
NOTEBOOKS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))

class Page(HTMLParser):
    "A page's visible text (no <head>, <style>, <script> or heading anchors ¶), its links, its headings and their ids."
    BLOCKS = {'p', 'div', 'br', 'li', 'pre', 'tr', 'h1', 'h2', 'h3', 'h4'}
    def __init__(self, path: Path):
        super().__init__()
        self.lines, self.links, self.headings, self.ids = [''], {}, [], set()
        self.open, self.href, self.h = [], None, None  # tags whose text is hidden; the link and heading being read
        self.feed(path.read_text(encoding='utf-8'))

    def hidden(self, tag, attrs) -> bool:
        return tag in ('head', 'style', 'script') or 'anchor-link' in (dict(attrs).get('class') or '')

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.hidden(tag, attrs) or self.open: self.open.append(tag)
        if tag == 'a' and not self.open: self.href = attrs.get('href'); self.links.setdefault(self.href, '')
        if tag in self.BLOCKS: self.lines.append('')
        if re.fullmatch(r'h\d', tag): self.h = tag; self.headings.append(''); self.ids.add(attrs.get('id'))

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag: self.open.pop()
        if tag == 'a': self.href = None
        if tag == self.h: self.h = None

    def handle_data(self, data):
        if self.open: return
        first, *rest = data.split('\n'); self.lines[-1] += first; self.lines += rest
        if self.href: self.links[self.href] += data
        if self.h: self.headings[-1] += data

    @property
    def text(self) -> str: return '\n'.join(self.lines)

def title(notebook: Path) -> str:
    "The notebook's H1 (the first line of its first cell) as a browser shows it."
    source = ''.join(json.loads(notebook.read_text(encoding='utf-8'))['cells'][0]['source'])
    return source.split('\n')[0].lstrip('# ').replace('`', '').strip()

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The static site of this checkout's notebooks, built as `make docs` builds it without quarto."
    out, start = tmp_path_factory.mktemp('site') / '_docs', time.time()
    r = subprocess.run([sys.executable, '.ci/docs.py', '--static', '--out', str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout + r.stderr
    print(f'built {len(list(out.glob("nbs/*.html")))} pages in {time.time() - start:.1f} s')
    return out

def test_every_notebook_has_a_page_linked_from_the_index(site):
    index = Page(site / 'index.html')
    for nb in NOTEBOOKS: assert (site / 'nbs' / f'{nb.stem}.html').exists(), f'no page for {nb.name}'
    page_links = {href: text.strip() for href, text in index.links.items() if href.startswith('nbs/')}
    assert page_links == {f'nbs/{nb.stem}.html': title(nb) for nb in NOTEBOOKS}
    for nb in NOTEBOOKS:  # title (notebook → module): description
        line = next(line for line in index.text.splitlines() if line.startswith(f'{title(nb)} (nbs/{nb.name}'))
        assert line.split('): ', 1)[1].strip(), f'{nb.name}: no description on the index'
        assert Page(site / 'nbs' / f'{nb.stem}.html').links.get('../index.html'), f'{nb.name}: no link back'
    assert 'without running them' in index.text  # the pages show code and prose, not outputs

def test_pages_show_no_front_matter_directives_or_hidden_cells(site):
    for nb in NOTEBOOKS:
        page = Page(site / 'nbs' / f'{nb.stem}.html'); text = page.text
        assert not re.search(r'^\s*#\s*\|', text, re.M), f'{nb.name}: a #| line is shown'
        assert not re.search(r'^---\s*$', text, re.M) and 'output-file:' not in text, f'{nb.name}: front matter'
        assert 'nbdev_export()' not in text, f'{nb.name}: the hidden export cell is shown'
        assert page.headings[0].strip() == title(nb), f'{nb.name}: the page does not open with its title'
    zscore = Page(site / 'nbs' / '00_zscore.html')
    assert {'zscore', 'compute_dtype'} <= zscore.ids  # show_doc-style headings of the exported functions
    assert 'zscore(logits, tau=1.0, *, ddof=1, eps=1e-07)' in zscore.text and 'def zscore(' in zscore.text

def docs_script():
    spec = importlib.util.spec_from_file_location('docs_script', ROOT / '.ci' / 'docs.py')
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    return module

def test_quarto_options_and_hidden_cells(tmp_path):
    def code(source, *outputs):
        return dict(cell_type='code', id=f'c{len(cells)}', metadata={}, execution_count=1, source=source,
                    outputs=[dict(output_type='stream', name='stdout', text=o) for o in outputs])
    cells = []
    cells += [dict(cell_type='markdown', id='t', metadata={}, source='# A small page\n> What it shows.')]
    cells += [code('#| default_exp small\nimport cell_of_default_exp')]
    cells += [code('#| echo: false\nprint("source of echo false")', 'output of echo false\n')]
    cells += [code('#| output: false\nprint("source of output false")', 'output of output false\n')]
    cells += [code('#| include: false\nprint("cell of include false")', 'output of include false\n')]
    cells += [code('#| hide\nprint("cell of hide")')]
    cells += [code('#| export\ndef public(a, b: int = 2) -> int:\n    "Add `b` to `a`."\n    return a + b\n'
                   'def _private(): pass')]
    path = tmp_path / 'small.ipynb'
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    built = docs_script().page(path)
    assert (built['title'], built['description'], built['module']) == ('A small page', 'What it shows.', 'small')
    (tmp_path / 'small.html').write_text(built['html'], encoding='utf-8')
    page = Page(tmp_path / 'small.html')
    shown = ['output of echo false', 'source of output false', 'public(a, b=2)', 'Add b to a.', 'def public(']
    hidden = ['source of echo false', 'output of output false', 'include false', 'cell of hide', 'cell_of_default_exp',
              '#|']
    assert [s for s in shown if s not in page.text] == [] and [s for s in hidden if s in page.text] == []
    assert [h.strip() for h in page.headings] == ['A small page', 'public']  # no heading for a private name

@pytest.fixture
def chromium() -> str:
    "Debian's Chromium, or a skip where it is missing (unless ZSCORE_KD_REQUIRE_BROWSER=1)."
    if not Path(CHROMIUM).exists() and os.environ.get('ZSCORE_KD_REQUIRE_BROWSER', '') in ('', '0'):
        pytest.skip(f'{CHROMIUM} is missing (make browser installs it; ZSCORE_KD_REQUIRE_BROWSER=1 fails instead)')
    return CHROMIUM

def test_a_page_in_chromium(chromium, site):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=['--headless', '--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport={'width': 1280, 'height': 800})
        page.route('**/*', lambda r: r.continue_() if r.request.url.startswith('file:') else r.abort())
        page.goto((site / 'index.html').as_uri())
        assert page.title() == 'zscore_kd'
        page.get_by_role('link', name='The Z-score of the logits').click()
        page.wait_for_url('**/nbs/00_zscore.html')
        assert page.title() == 'The Z-score of the logits'
        assert page.locator('h1').first.inner_text().strip() == 'The Z-score of the logits'
        assert page.locator('h3#zscore').is_visible()
        code = page.locator('.jp-CodeCell pre', has_text='def zscore(').first
        assert code.is_visible() and code.locator('span.k', has_text='def').count() >= 1  # highlighted
        assert code.bounding_box()['height'] > 100  # the whole function, not a collapsed cell
        browser.close()

#!/usr/bin/env python
"""Build the documentation site (`make docs`) into _docs/: `nbdev_docs` where quarto exists, otherwise static HTML.

Quarto cannot be installed from the package index (PyPI's `quarto-cli` is a source package that downloads the binary
from GitHub at set-up, and no wheel, npm or Debian package ships it). Without it, each notebook goes through nbdev's
doc processors that need no kernel (hidden cells and `default_exp` dropped, `#|` lines removed and quarto's
`include`/`echo`/`output: false` applied, magics and ANSI codes cleaned), its exported functions and classes get a
`show_doc`-style heading with their signature and docstring (read from the source, nothing is imported), and
nbconvert's HTML exporter writes `_docs/nbs/<notebook>.html`; `_docs/index.html` links every page with its title and
description. Notebooks are not executed, so the pages show prose and code without outputs.
Either way it first checks that no cell mixes imports with other code: nbdev executes every cell that contains an
import when it renders `show_doc` (nbdev_docs, .ci/readme.py), so such a cell would run its test code, training
included, without the cells it depends on. With quarto it runs `nbdev_docs`, then `.ci/readme.py` (README.md is the
same whether or not quarto was there).

Usage: python .ci/docs.py [--static] [--out DIR] [--workers N]   (--static: static HTML even where quarto exists)
"""
import argparse, ast, copy, functools, re, shutil, subprocess, sys, textwrap, warnings
from pathlib import Path
import nbformat
from execnb.nbio import mk_cell, nb2str, new_nb
from fastcore.parallel import parallel
from nbconvert import HTMLExporter
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.process import NBProcessor
from nbdev.processors import (_do_eval, clean_magics, filter_stream_, hide_, hide_line, populate_language,
                              rm_header_dash, strip_ansi, strip_hidden_metadata)

EXPORTS = {'export', 'exports', 'exporti'}

def mixed_import_cells(cfg):
    "Cells that nbdev's docs step flags with 'Found cells containing imports and other code'."
    problems = []
    for path in nbglob(cfg.nbs_path, as_path=True):
        for cell in NBProcessor(path).nb.cells:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always'); _do_eval(cell)
            if caught: problems.append(f'{path.name}, cell {cell.id}: imports and other code in one cell; '
                                       'put the imports in a cell of their own (nbdev runs import cells for the docs)')
    return problems

def default_exp_(cell, *args):
    "Drop the `#| default_exp` cell (the module name is shown under the title)."
    del cell['source']

def quarto_options(cell):
    "Remove the quarto options nbdev leaves in a code cell, applying `include`, `echo` and `output: false`."
    if cell.cell_type != 'code': return
    cell.source = re.sub(r'\A(?:[ \t]*#[ \t]*\|.*(?:\n|\Z))+', '', cell.source)
    off = {k.rstrip(':') for k, v in cell.directives_.items() if k.endswith(':') and v == ['false']}
    if 'include' in off: del cell['source']; return
    if 'echo' in off: cell.metadata['transient'] = {'remove_source': True}
    if 'output' in off: cell.outputs = []

PROCS = [populate_language, strip_ansi, hide_line, filter_stream_, rm_header_dash, clean_magics, hide_, default_exp_,
         quarto_options, strip_hidden_metadata]

def signature(node) -> str:
    "`name(args)` of a function, `class Name(bases)` of a class, as `show_doc` heads them (types stay in the source)."
    if isinstance(node, ast.ClassDef):
        return f'class {node.name}' + (f"({', '.join(map(ast.unparse, node.bases))})" if node.bases else '')
    args = copy.deepcopy(node.args)
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a: a.annotation = None
    return f'{node.name}({ast.unparse(args)})'

def doc_cells(cell) -> list:
    "A markdown cell for each public function or class an exported cell defines: heading, signature, docstring."
    if cell.cell_type != 'code' or not EXPORTS & cell.directives_.keys(): return []
    defs = [n for n in cell.parsed_() or [] if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return [mk_cell(f'### `{n.name}`\n\n> `{signature(n)}`\n\n{ast.get_docstring(n) or ""}', 'markdown')
            for n in defs if not n.name.startswith('_')]

def summary(paragraph: str, width: int = 160) -> str:
    "A notebook's first paragraph on one line: without the closing 'From the repository root:', cut at a word."
    text = re.sub(r'\s+[A-Z][^.:]*:$', '', ' '.join(paragraph.replace('**', '').split()))
    text = textwrap.shorten(text, width, placeholder=' …')
    return text[:text.rindex('`')].rstrip() + ' …' if text.count('`') % 2 else text

def front_matter(nb) -> dict:
    "Title and description: the first markdown cell's H1, and the blockquote under it or else its first paragraph."
    first = next(c for c in nb.cells if c.cell_type == 'markdown')
    m = re.match(r'#[ \t]+(.+)(?:\n\s*(?:>[ \t]*(.+)|((?:.+\n?)+)))?', first.source.strip())
    if not m: raise ValueError(f'{nb.path_}: start the notebook with a markdown cell whose first line is an H1 title')
    return dict(title=m[1].strip(), description=m[2] or summary(m[3] or ''))

@functools.cache
def exporter() -> HTMLExporter:
    "nbconvert's HTML exporter, JupyterLab template, no prompts (one per process: the templates compile once)."
    # the template bleaches every highlighted code cell (a third of the time); our own notebooks need no sanitizing
    return HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True,
                        filters={'clean_html': lambda html: html})

def render(nb, title: str) -> str:
    "A page of HTML for a processed notebook."
    node = nbformat.reads(nb2str(nb), as_version=4)
    node.metadata['title'] = title
    return exporter().from_notebook_node(node)[0]

def page(path: Path) -> dict:
    "The page of notebook `path`: its HTML and, for the index, its title, description and module."
    proc = NBProcessor(path, procs=PROCS)
    fm = front_matter(proc.nb)
    module = next((c.directives_['default_exp'][0] for c in proc.nb.cells if 'default_exp' in c.directives_), None)
    proc.process()
    proc.nb.cells = [d for c in proc.nb.cells for d in doc_cells(c) + [c]]
    proc.nb.cells.insert(0, mk_cell('[← all pages](../index.html)', 'markdown'))
    return dict(fm, name=path.stem, module=module, html=render(proc.nb, fm['title']))

def index(cfg, pages: list) -> str:
    "The site's front page: what the pages are, then one line per page (title, notebook, module, description)."
    def line(p):
        module = f" → `{cfg.lib_name}.{p['module'].removesuffix('.__init__')}`" if p['module'] else ''
        about = f": {p['description']}" if p['description'] else ''
        return f"- [{p['title']}](nbs/{p['name']}.html) (`nbs/{p['name']}.ipynb`{module}){about}"
    about = ("Built from the notebooks without running them: each page shows one notebook's prose and code, not its "
             'outputs (run the notebook to see those). A name in `code` font with its signature heads each function '
             f'or class that the cell under it exports to `{cfg.lib_name}`. Formulas need MathJax, which the pages '
             'load from its CDN.')
    text = f"# {cfg.title}\n\n> {cfg.description}\n\n{about}\n\n" + '\n'.join(map(line, pages))
    return render(new_nb([mk_cell(text, 'markdown')]), cfg.title)

def build(cfg, out: Path, workers: int) -> list:
    "Every notebook's page (the front page's first) and the index, all rendered before `out` is replaced with them."
    nbs = sorted(nbglob(cfg.nbs_path, as_path=True), key=lambda p: (p.name != cfg.readme_nb, p.name))
    pages = parallel(page, nbs, n_workers=workers, progress=False)
    files = {f"nbs/{p['name']}.html": p['html'] for p in pages} | {'index.html': index(cfg, pages)}
    shutil.rmtree(out, ignore_errors=True); (out / 'nbs').mkdir(parents=True)
    for name, html in files.items(): (out / name).write_text(html, encoding='utf-8')
    return pages

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--static', action='store_true', help='static HTML pages even where quarto is installed')
    ap.add_argument('--out', type=Path, help='folder for the static pages (default: settings.ini doc_path, _docs)')
    ap.add_argument('--workers', type=int, default=2)
    args = ap.parse_args()
    cfg = get_config()
    if problems := mixed_import_cells(cfg): sys.exit('\n'.join(problems))
    if shutil.which('quarto') and not args.static:
        subprocess.run(['nbdev_docs', '--n_workers', str(args.workers)], check=True)
        subprocess.run([sys.executable, str(Path(__file__).parent / 'readme.py')], check=True)
        sys.exit(0)
    out = (args.out or cfg.doc_path).resolve()
    pages = build(cfg, out, args.workers)
    print(f'{len(pages)} pages (prose and code, not run) in {out}: open {out / "index.html"}')

#!/usr/bin/env python
"""Build the documentation site (`make docs`): `nbdev_docs` where quarto exists, otherwise every step before quarto.

nbdev_docs = write nbs/nbdev.yml (and nbs/_quarto.yml if missing) from settings.ini, refresh the symbol index and
nbs/sidebar.yml, process every notebook into _proc/ (nbdev's doc processors: front matter, `show_doc`, hidden cells
dropped; export, import and show_doc cells are executed), then `quarto render` into _docs/. Quarto cannot be installed
from the package index (PyPI's `quarto-cli` is a source package that downloads the binary from GitHub at set-up, and
no wheel, npm or Debian package ships it), so without quarto this script runs every step up to `quarto render` and
checks its result: one processed page with a title per notebook the site renders (every library notebook and the
index; nbs/_quarto.yml leaves out the entry notebooks), no two rendering to the same file. Either way it first checks that no cell mixes
imports with other code: nbdev executes every cell that contains an import while it builds the docs (to render
`show_doc`), so such a cell would run its test code, training included, without the cells it depends on. With quarto it runs `nbdev_docs` itself and
then rewrites README.md with `.ci/readme.py`, so README.md is the same whether or not quarto was there.

Usage: python .ci/docs.py [--workers N]
"""
import argparse, json, shutil, subprocess, sys, warnings
from fnmatch import fnmatch
from pathlib import Path
import yaml
import nbdev.doclinks
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
from nbdev.process import NBProcessor
from nbdev.processors import _do_eval
from nbdev.serve import proc_nbs

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

def rendered(cfg, name):
    "Whether quarto renders notebook `name`: the `project: render:` globs of nbs/_quarto.yml, `!` excluding."
    globs = yaml.safe_load((cfg.nbs_path / '_quarto.yml').read_text())['project'].get('render', ['*'])
    return any(fnmatch(name, g) for g in globs if not g.startswith('!')) and \
        not any(fnmatch(name, g[1:]) for g in globs if g.startswith('!'))

def processed_pages(cfg, cache):
    "Problems with the processed notebooks in `cache`: a library notebook not rendered, no page, no title, a clash."
    problems, outputs = [], {}
    for nb in nbglob(cfg.nbs_path, as_path=True):
        library = any('default_exp' in (c.directives_ or {}) for c in NBProcessor(nb).nb.cells)
        if not rendered(cfg, nb.name):
            if library: problems.append(f'{nb.name}: a library notebook left out of the site by nbs/_quarto.yml')
            continue
        page = cache / nb.relative_to(cfg.nbs_path)
        if not page.exists(): problems.append(f'{nb.name}: no processed page {page}'); continue
        first = json.loads(page.read_text(encoding='utf-8'))['cells'][0]
        fm = yaml.safe_load(''.join(first['source']).strip().strip('-')) if first['cell_type'] == 'raw' else {}
        if 'title' not in fm:
            problems.append(f'{nb.name}: the page has no title (start the notebook with an H1 and a > blockquote)')
        if fm.get('output-file') in outputs:
            problems.append(f"{nb.name} and {outputs[fm['output-file']]} both render to {fm['output-file']}")
        outputs[fm.get('output-file')] = nb.name
    return problems

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--workers', type=int, default=2); args = ap.parse_args()
    cfg = get_config()
    if problems := mixed_import_cells(cfg): sys.exit('\n'.join(problems))
    if shutil.which('quarto'):
        subprocess.run(['nbdev_docs', '--n_workers', str(args.workers)], check=True)
        subprocess.run([sys.executable, str(Path(__file__).parent / 'readme.py')], check=True)
        sys.exit(0)
    refresh_quarto_yml(); nbdev.doclinks._build_modidx(); nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    cache = proc_nbs(cfg.nbs_path, n_workers=args.workers, force=True)
    problems = processed_pages(cfg, cache)
    for p in problems: print(p)
    print(f'processed {len(list(cache.glob("*.ipynb")))} notebooks into {cache.relative_to(cfg.config_path)}/; '
          'quarto is not installed, so the site (_docs/) was not rendered (README.md, "Documentation", says why)')
    sys.exit(1 if problems else 0)

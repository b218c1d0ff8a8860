#!/usr/bin/env python
"""Write README.md from the front-page notebook (settings.ini `readme_nb`: nbs/index.ipynb); `--check` only compares.

`nbdev_readme` does this with quarto (`quarto render index.ipynb -t gfm`), and quarto cannot be installed from the
package index: PyPI's `quarto-cli` is a source package whose set-up downloads the quarto binary from GitHub's release
page, and there is no wheel, npm or Debian package that ships the binary. So this script keeps nbdev's part and swaps
quarto's last step for nbconvert: the notebook goes through nbdev's own doc processors (`FilterDefaults`: the H1 and
blockquote become title and description, hidden cells and `#|` directives are dropped, `show_doc` is rendered), then
nbconvert's Markdown exporter writes the cells as GitHub Markdown. nbdev's `add_links` is left out: it would point
names like `fit` at the documentation site, which is not published (see README, "Documentation"). The output is the
same on every machine, with or without quarto, so CI can check that README.md is current.

Usage: python .ci/readme.py [--check]   (--check: write nothing; exit 1 if README.md differs from what would be written)
"""
import sys
import nbformat
from execnb.nbio import nb2str, read_nb
from nbconvert import MarkdownExporter
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.processors import FilterDefaults, add_links, insert_warning

HEADER = '<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, then run `make readme`. -->\n\n'

def render(cfg):
    "README text: nbdev's doc processing of the front-page notebook, then nbconvert's Markdown exporter."
    nb = read_nb(cfg.nbs_path / cfg.readme_nb)
    NBProcessor(nb=nb, procs=[p for p in FilterDefaults().procs() if p is not add_links]).process()
    fm = getattr(nb, 'frontmatter_', {})
    nb.cells = [c for c in nb.cells if c.cell_type != 'raw' and c.source != insert_warning.content]
    body, _ = MarkdownExporter().from_notebook_node(nbformat.reads(nb2str(nb), as_version=4))
    title = f"# {fm.get('title', cfg.lib_name)}\n\n" + (f"> {fm['description']}\n\n" if 'description' in fm else '')
    return HEADER + title + body.strip('\n') + '\n'

if __name__ == '__main__':
    cfg = get_config()
    path, new = cfg.config_path / 'README.md', render(cfg)
    if '--check' not in sys.argv: path.write_text(new, encoding='utf-8')
    elif not path.exists() or path.read_text(encoding='utf-8') != new:
        sys.exit(f'{path} is not what {cfg.nbs_path.name}/{cfg.readme_nb} renders to: edit the notebook, '
                 'then run `make readme` (never README.md by hand).')

#!/usr/bin/env python
"""Put notebooks in their committed form: what `nbdev_clean` writes, without outputs (cell tags survive).

nbdev_clean already drops execution counts and the metadata Jupyter adds (language_info, timings, `scrolled`, ...),
but it keeps outputs. Its `clear_all` option would drop outputs too, but it also empties every cell's metadata,
which deletes the `parameters` tag papermill reads, so this script runs nbdev's cleaner and then only:
- empties code-cell outputs;
- drops the empty `tags` list JupyterLab leaves behind, and the saved widget state (it describes outputs);
- stores every cell's source as Jupyter's list of lines, the form JupyterLab and nbdev's `write_nb` save, so a
  notebook saved by Lab after "Run All" comes back byte for byte to the committed file.

Usage: python .ci/strip_outputs.py [--check] [notebook ...]
       (--check: change nothing, exit 1 if a notebook needs stripping; default: every notebook in nbs/)
"""
import json, sys
from pathlib import Path
from execnb.nbio import nb2str
from nbdev.clean import _nbdev_clean
from nbdev.doclinks import nbglob

def stripped(path):
    "The committed form of the notebook at `path`."
    nb = json.loads(path.read_text(encoding='utf-8'))
    _nbdev_clean(nb, path=path)
    nb['metadata'].pop('widgets', None)
    for cell in nb['cells']:
        if isinstance(cell['source'], str): cell['source'] = cell['source'].splitlines(keepends=True)
        if cell['metadata'].get('tags') == []: del cell['metadata']['tags']
        if cell['cell_type'] == 'code': cell['outputs'], cell['execution_count'] = [], None
    return nb2str(nb)

if __name__ == '__main__':
    check = '--check' in sys.argv
    paths = [Path(a) for a in sys.argv[1:] if a != '--check'] or nbglob(as_path=True)
    dirty = []
    for path in paths:
        new = stripped(path)
        if new != path.read_text(encoding='utf-8'):
            dirty.append(path)
            if not check: path.write_text(new, encoding='utf-8')
    for path in dirty: print(('needs stripping: ' if check else 'stripped: ') + str(path))
    sys.exit(1 if check and dirty else 0)

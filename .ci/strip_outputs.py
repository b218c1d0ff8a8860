#!/usr/bin/env python
"""Clean notebooks as nbdev_clean does, and also drop code-cell outputs (cell tags survive).

Usage: python .ci/strip_outputs.py [--check]   (--check: change nothing, exit 1 if a notebook needs stripping)
"""
import json, sys
from execnb.nbio import nb2str
from nbdev.clean import _nbdev_clean
from nbdev.doclinks import nbglob

def stripped(path):
    "The committed form of the notebook at `path`: nbdev-clean, no outputs, no execution counts."
    nb = json.loads(path.read_text(encoding='utf-8'))
    _nbdev_clean(nb, path=path)
    for cell in nb['cells']:
        if cell['cell_type'] == 'code': cell['outputs'], cell['execution_count'] = [], None
    return nb2str(nb)

if __name__ == '__main__':
    check = '--check' in sys.argv
    dirty = []
    for path in nbglob(as_path=True):
        new = stripped(path)
        if new != path.read_text(encoding='utf-8'):
            dirty.append(path)
            if not check: path.write_text(new, encoding='utf-8')
    for path in dirty: print(('needs stripping: ' if check else 'stripped: ') + str(path))
    sys.exit(1 if check and dirty else 0)

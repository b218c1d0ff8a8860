#!/usr/bin/env python
"""Remove what running a notebook adds and `nbdev_clean` keeps: outputs, saved widget state, empty tag lists.

`make export` runs this, then `nbdev_clean`, which drops the rest (execution counts, language_info, timings, ...)
and writes nbdev's committed form. nbdev's own `clear_all` would also clear outputs, but it empties every cell's
metadata, which deletes the `parameters` tag papermill reads.

Usage: python .ci/strip_outputs.py [notebook ...]   (default: every notebook in nbs/)
"""
import json, sys
from pathlib import Path

for path in [Path(a) for a in sys.argv[1:]] or sorted(Path('nbs').glob('*.ipynb')):
    nb = json.loads(path.read_text(encoding='utf-8'))
    nb['metadata'].pop('widgets', None)
    for cell in nb['cells']:
        if cell['metadata'].get('tags') == []: del cell['metadata']['tags']
        if cell['cell_type'] == 'code': cell['outputs'], cell['execution_count'] = [], None
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')

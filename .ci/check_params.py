#!/usr/bin/env python
"""Every entry notebook (nbs/1*-3*) keeps exactly one cell tagged `parameters` for papermill."""
import json, sys
from pathlib import Path

bad = [p.name for p in sorted(Path('nbs').glob('[123]*.ipynb'))
       if sum('parameters' in c.get('metadata', {}).get('tags', []) for c in json.loads(p.read_text())['cells']) != 1]
for name in bad: print(f'{name}: needs exactly one cell tagged "parameters" (papermill reads its defaults there)')
sys.exit(1 if bad else 0)

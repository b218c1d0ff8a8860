#!/usr/bin/env python
"""Every entry notebook (nbs/1*-3*) keeps exactly one cell tagged `parameters` for papermill, and 10_train's is the
rendering of the library's `TRAIN_PARAMETERS` (the command line's table). `--fix` rewrites that cell from the table."""
import json, sys
from pathlib import Path
from zscore_kd.cli import parameters_cell

def parameter_cells(nb: dict) -> list: return [c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]

bad = [p.name for p in sorted(Path('nbs').glob('[123]*.ipynb')) if len(parameter_cells(json.loads(p.read_text()))) != 1]
for name in bad: print(f'{name}: needs exactly one cell tagged "parameters" (papermill reads its defaults there)')
train = Path('nbs/10_train.ipynb'); nb = json.loads(train.read_text()); cell = parameter_cells(nb)[0]
if ''.join(cell['source']) != parameters_cell():
    if '--fix' in sys.argv:
        cell['source'] = parameters_cell().splitlines(keepends=True)
        train.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n'); print(f'{train}: parameters cell rewritten')
    else:
        print(f"{train}: its parameters cell differs from zscore_kd.cli.TRAIN_PARAMETERS; edit the table in "
              "nbs/07a_cli.ipynb, then run `python .ci/check_params.py --fix` and `make export`"); bad.append(train.name)
sys.exit(1 if bad else 0)

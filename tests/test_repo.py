"""The committed form of the repository: modules exported from the notebooks, README from nbs/index.ipynb,
notebooks without outputs. (That a notebook saved by JupyterLab comes back byte for byte with `make export` is
tests/test_notebook_form.py.)"""
import json, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def test_modules_are_what_the_notebooks_export(tmp_path):
    "nbdev_export of the committed notebooks writes the committed modules, byte for byte."
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT / name, tmp_path)
    shutil.copytree(ROOT / 'nbs', tmp_path / 'nbs'); shutil.copytree(ROOT / 'zscore_kd', tmp_path / 'zscore_kd')
    subprocess.run([str(BIN / 'nbdev_export')], cwd=tmp_path, check=True, capture_output=True)
    files = lambda root: {p.relative_to(root): p.read_bytes() for p in root.rglob('*.py')}
    exported, committed = files(tmp_path / 'zscore_kd'), files(ROOT / 'zscore_kd')
    stale = sorted(str(p) for p in exported.keys() | committed.keys() if exported.get(p) != committed.get(p))
    assert not stale, f'not what the notebooks export: {stale}; run `make export` and commit'

def test_readme_is_rendered_from_the_front_page_notebook():
    r = subprocess.run([sys.executable, '.ci/readme.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

@pytest.mark.parametrize('name', sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb')))
def test_notebook_is_committed_without_outputs(name):
    nb = json.loads((ROOT / 'nbs' / name).read_text())
    ran = [c['id'] for c in nb['cells'] if c['cell_type'] == 'code' and (c['outputs'] or c['execution_count'])]
    assert not ran and 'widgets' not in nb['metadata'], f'{name} has outputs in cells {ran}; run `make export`'

def test_code_lines_are_at_most_120_characters():
    "The house style's line length, in the notebooks' code cells, the tests, the benchmarks and the CI scripts."
    long = [f'{p.name}:{c["id"]}' for p in sorted((ROOT / 'nbs').glob('*.ipynb'))
            for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'code'
            for line in ''.join(c['source']).splitlines() if len(line) > 120]
    scripts = [*ROOT.glob('tests/*.py'), *ROOT.glob('benchmarks/*.py'), *ROOT.glob('.ci/**/*.py')]
    long += [f'{p.name}:{i}' for p in scripts
             for i, line in enumerate(p.read_text().splitlines(), 1) if len(line) > 120]
    assert not long, f'lines over 120 characters: {long}'

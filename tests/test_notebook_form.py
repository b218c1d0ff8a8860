"""A notebook saved by JupyterLab after "Run All" goes back to its committed bytes with the documented clean step.

JupyterLab saves through nbformat: sources as lists of lines, outputs, execution counts, language_info, the kernel's
display name, per-cell timings and `scrolled` flags, sometimes empty tag lists and widget state. `make export` runs
`python .ci/strip_outputs.py` and then `nbdev_clean`; afterwards `git status` must be clean.
"""
import ast, json, shutil, subprocess, sys
from pathlib import Path

import nbformat
import pytest
from papermill.translators import PythonTranslator
from zscore_kd.cli import LAUNCH, parameters, parameters_cell, parse_request
from zscore_kd.config import RunConfig
from zscore_kd.runs import resolve_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
WIDGET = 'application/vnd.jupyter.widget-view+json'

def lab_save(src: Path, dst: Path):
    "Write `src` as JupyterLab would after Run All and Save, with outputs of every kind."
    nb = nbformat.read(src, as_version=4)
    nb.metadata.kernelspec.display_name = 'Python 3 (ipykernel)'
    nb.metadata.language_info = {'name': 'python', 'version': '3.11.7', 'mimetype': 'text/x-python',
                                 'file_extension': '.py', 'codemirror_mode': {'name': 'ipython', 'version': 3}}
    nb.metadata.widgets = {'application/vnd.jupyter.widget-state+json': {'state': {}, 'version_major': 2,
                                                                         'version_minor': 0}}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == 'markdown': cell.metadata['jp-MarkdownHeadingCollapsed'] = True; continue
        if cell.cell_type != 'code': continue
        cell.execution_count = i + 1
        cell.metadata.update(scrolled=True, execution={'iopub.execute_input': '2026-11-30T19:00:00.000Z',
                                                       'shell.execute_reply': '2026-11-30T19:00:01.000Z'})
        cell.metadata.setdefault('tags', [])
        cell.outputs = [
            nbformat.v4.new_output('stream', name='stdout', text='epoch 1\nepoch 2\n'),
            nbformat.v4.new_output('display_data', data={WIDGET: {'model_id': 'abc', 'version_major': 2,
                                                                  'version_minor': 0}, 'text/plain': 'HBox()'}),
            nbformat.v4.new_output('execute_result', data={'text/plain': '<object at 0x7f00deadbeef>'},
                                   execution_count=i + 1)]
    nbformat.write(nb, dst)

@pytest.fixture(scope='module')
def lab_copy(tmp_path_factory):
    "A copy of the project's notebooks, each saved as Lab would, then cleaned as `make export` cleans."
    tmp = tmp_path_factory.mktemp('lab')
    shutil.copy(ROOT / 'settings.ini', tmp); shutil.copytree(ROOT / '.ci', tmp / '.ci'); (tmp / 'nbs').mkdir()
    for name in NOTEBOOKS: lab_save(ROOT / 'nbs' / name, tmp / 'nbs' / name)
    nbdev_only = tmp / 'nbdev_clean_only'; shutil.copytree(tmp / 'nbs', nbdev_only)
    nbdev_clean = str(Path(sys.executable).parent / 'nbdev_clean')
    subprocess.run([nbdev_clean, '--fname', str(nbdev_only)], cwd=tmp, check=True, capture_output=True)
    subprocess.run([sys.executable, '.ci/strip_outputs.py'], cwd=tmp, check=True, capture_output=True)
    subprocess.run([nbdev_clean], cwd=tmp, check=True, capture_output=True)
    return tmp

def test_lab_save_has_everything_lab_adds(lab_copy, tmp_path):
    "The simulated save really differs from the committed file (else the next test proves nothing)."
    lab_save(ROOT / 'nbs' / '00_zscore.ipynb', tmp_path / 'x.ipynb')
    saved = json.loads((tmp_path / 'x.ipynb').read_text())
    assert 'language_info' in saved['metadata'] and any(c.get('outputs') for c in saved['cells'])
    assert all(isinstance(c['source'], list) for c in saved['cells'])

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_clean_restores_committed_bytes(lab_copy, name):
    committed = (ROOT / 'nbs' / name).read_text(encoding='utf-8')
    assert (lab_copy / 'nbs' / name).read_text(encoding='utf-8') == committed, \
        f'{name}: after a Lab save, `make export` does not give back the committed file; run `make export` and commit'

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_nbdev_clean_alone_leaves_only_outputs(lab_copy, name):
    "nbdev's own cleaner already restores sources, ids and metadata; only outputs (and widget state) remain."
    cleaned = json.loads((lab_copy / 'nbdev_clean_only' / name).read_text(encoding='utf-8'))
    committed = json.loads((ROOT / 'nbs' / name).read_text(encoding='utf-8'))
    assert [(c['id'], c['source']) for c in cleaned['cells']] == [(c['id'], c['source']) for c in committed['cells']]
    assert {k: v for k, v in cleaned['metadata'].items() if k != 'widgets'} == committed['metadata']


def test_train_parameters_cell_is_the_command_line_table():
    "10_train's `parameters` cell is the rendering of the one table (`RunConfig` plus the launch options)."
    nb = json.loads((ROOT / 'nbs' / '10_train.ipynb').read_text())
    cell = next(c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', []))
    assert ''.join(cell['source']) == parameters_cell(), \
        '10_train\'s parameters cell differs from the table (zscore_kd.config.RunConfig); run `make export`'


def test_command_line_and_run_config_agree_on_every_default():
    "The defaults the command line shows, the notebook's and `RunConfig`'s are one: resolving any of them is one run."
    scope = {}; exec(parameters_cell(), scope)
    table = {k: d for k, (d, *_) in parameters().items()}
    assert {k: scope[k] for k in table} == table
    assert all(getattr(RunConfig(), k) == d for k, d in table.items() if k not in LAUNCH)
    assert resolve_config(**{k: d for k, d in table.items() if k not in LAUNCH}) == resolve_config() \
        == resolve_config(**parse_request([]))


@pytest.mark.parametrize('name', [n for n in NOTEBOOKS if n[:1] in '123'])
def test_papermill_lists_every_parameter(name):
    "papermill's `--help-notebook` reads every parameter of an entry notebook (a second '=' on a line hides it)."
    nb = nbformat.read(ROOT / 'nbs' / name, as_version=4)
    cell = next(c for c in nb.cells if 'parameters' in c.metadata.get('tags', []))
    assigned = [t.id for n in ast.parse(cell.source).body if isinstance(n, ast.Assign) for t in n.targets]
    assert [p.name for p in PythonTranslator.inspect(cell)] == assigned


def test_readme_layout_names_every_notebook():
    "The README's layout section (from nbs/index.ipynb) keeps up with the notebooks: each is named there."
    layout = (ROOT / 'README.md').read_text().split('## Layout', 1)[1].split('\n## ', 1)[0]
    assert not [n for n in NOTEBOOKS if f'`{n[:-len(".ipynb")]}`' not in layout]

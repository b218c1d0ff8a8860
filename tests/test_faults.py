"""Faults a careless user meets, each ending in one clear sentence or a correct recovery, with nothing poisoned left.

The probe is a table of cases, one per row: what is done (a bad papermill parameter, a CIFAR file with the wrong
content, a corrupt run file, a kill at a bad moment, ...), the words the one sentence must contain (or the recovery
that must happen), and a check that `runs/` holds nothing half-written or poisoned afterwards. Everything is tiny:
synthetic data of a few hundred images, resnet8, one or two epochs.
"""
import ast, json, pickle, re, warnings
from pathlib import Path

import numpy as np
import papermill as pm
import pytest
import torch

from zscore_kd.data import load_cifar100, make_synthetic, read_cifar_pickle, save_cifar100

NBS = Path(__file__).resolve().parents[1] / 'nbs'
ENTRY = ('10_train', '20_reproduce', '21_figures', '30_explore')
pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def one_sentence(msg: str) -> bool:
    "One sentence: ends with a full stop and no full stop inside is followed by a capital (a second sentence)."
    return msg.rstrip().endswith('.') and not re.search(r'[a-z0-9)]\. +[A-Z]', msg.rstrip()[:-1])


def papermill(tmp_path, notebook, **params):
    "Run an entry notebook headless as a user would, from nbs/; returns the executed notebook."
    out = tmp_path / f'{notebook}.out.ipynb'
    pm.execute_notebook(str(NBS / f'{notebook}.ipynb'), str(out), parameters=params, kernel_name='python3', cwd=str(NBS),
                        progress_bar=False, execution_timeout=600)
    return json.loads(out.read_text())


def files_under(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*') if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------- papermill parameters
def parameter_names(notebook) -> list:
    "Names assigned in the notebook's `parameters` cell."
    nb = json.loads((NBS / f'{notebook}.ipynb').read_text())
    cell = next(c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', []))
    return [t.id for n in ast.parse(''.join(cell['source'])).body if isinstance(n, ast.Assign) for t in n.targets]


def checked_names(notebook) -> list:
    "Keyword names of the notebook's `check_parameters(globals(), ...)` call."
    nb = json.loads((NBS / f'{notebook}.ipynb').read_text())
    calls = [n for c in nb['cells'] if c['cell_type'] == 'code' for n in ast.walk(ast.parse(''.join(c['source'])))
             if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == 'check_parameters']
    assert len(calls) == 1, f'{notebook} must call check_parameters exactly once'
    return [k.arg for k in calls[0].keywords]


@pytest.mark.parametrize('notebook', ENTRY)
def test_every_parameter_has_a_rule(notebook):
    assert checked_names(notebook) == parameter_names(notebook)


def test_train_notebook_exposes_the_run_settings_a_user_needs():
    assert {'deterministic', 'lr_decay_epochs', 'lr_decay_rate', 'momentum', 'weight_decay'} <= set(parameter_names('10_train'))


TINY = dict(epochs=1, teacher_epochs=1, data_args={'n_train': 256, 'n_test': 128}, device='cpu')

# (case, notebook, parameters, words of the one sentence)
PARAMETER_CASES = [
    ('typo in a name', '10_train', dict(epoch=3), "Unknown parameter 'epoch' (did you mean 'epochs'?)"),
    ('explicit 0 is not the default', '10_train', dict(epochs=0), 'Parameter epochs must be an integer >= 1'),
    ('a word for a flag', '10_train', dict(compile='yes'), "Parameter compile must be True or False or None (the default), got 'yes'"),
    ('a dict that does not parse', '10_train', dict(method_args='{beta: [1'), 'Parameter method_args must be a dict'),
    ('a float count', '10_train', dict(batch_size=64.0), 'Parameter batch_size must be an integer >= 1, got 64.0'),
    ('bad synthetic knob as text', '10_train', {**TINY, 'data_args': "{'n_train': 10.5}"},
     'Synthetic data knob n_train must be an integer >= 0, got 10.5'),
    ('unknown table', '20_reproduce', dict(table='main_T9'), "got 'main_T9' (str) (did you mean"),
    ('zero seeds', '20_reproduce', dict(seeds=0), 'Parameter seeds must be an integer >= 1 or None'),
    ('typo in a train_args key', '20_reproduce', dict(train_args={'precison': 'bf16'}),
     "unknown key 'precison' (did you mean 'precision'?)"),
    ('zero histogram bins', '21_figures', dict(bins=0), 'Parameter bins must be an integer >= 2 or None'),
    ('unknown checkpoint kind', '21_figures', dict(which='last'), "Parameter which must be one of 'best', 'final'"),
    ('typo in explore', '30_explore', dict(taus=4), "Unknown parameter 'taus' (did you mean 'tau'?)"),
    ('a bool for ddof', '30_explore', dict(ddof=True), 'Parameter ddof must be one of 0, 1, got True (bool)'),
]


@pytest.mark.parametrize('case, notebook, params, words', PARAMETER_CASES, ids=[c[0] for c in PARAMETER_CASES])
def test_bad_parameter_is_one_sentence_before_any_work(tmp_path, case, notebook, params, words):
    runs = tmp_path / 'runs'
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, notebook, out_dir=str(runs), **params)
    assert words in e.value.evalue and one_sentence(e.value.evalue), e.value.evalue
    assert files_under(runs) == [], 'work started before the parameters were checked'


def test_forms_the_comments_suggest_work_and_explicit_values_stay(tmp_path):
    "Dicts and lists as text (`-p data_args \"{'n_train': 256}\"`), the new run settings, and explicit small values."
    papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), epochs=1, teacher_epochs=1, device='cpu',
              data_args="{'n_train': 256, 'n_test': 128}", lr_decay_epochs='[1]', deterministic=True, momentum=0.0)
    result = json.loads(next((tmp_path / 'runs').glob('kd-resnet8-*/result.json')).read_text())
    c = result['config']
    assert (c['epochs'], c['data_args'], c['lr_decay_epochs'], c['deterministic'], c['momentum']) == \
           (1, {'n_train': 256, 'n_test': 128}, [1], True, 0.0)


# ---------------------------------------------------------------- dataset content
@pytest.fixture(scope='module')
def small():
    return make_synthetic(n_train=300, n_test=100, seed=2)


def damaged_cifar(root: Path, small, split='train', **change) -> Path:
    "A small CIFAR-100 folder whose `split` pickle has the entries `change` replaced."
    folder = save_cifar100(small, root)
    d = read_cifar_pickle(folder / split)
    d.update(change)
    (folder / split).write_bytes(pickle.dumps({k.encode(): v for k, v in d.items()}, protocol=2))
    return folder


def labels(small, split='train'): return (small.train_y if split == 'train' else small.test_y).tolist()

# (case, split, change of the pickle's entries, words of the one sentence)
CONTENT_CASES = [
    ('float pixels', 'train', lambda s: dict(data=s.train_x.reshape(300, -1).numpy().astype(np.float32) / 255),
     'train stores pixels as float32'),
    ('images as N×32×32×3 rows of another length', 'train', lambda s: dict(data=s.train_x.reshape(900, -1).numpy()),
     "train holds 'data' of shape (900, 1024)"),
    ('one label too few', 'train', lambda s: dict(fine_labels=labels(s)[:-1]), "train holds 300 images (rows of 'data') but 299 'fine_labels'"),
    ('coarse labels of another length', 'test', lambda s: dict(coarse_labels=[0] * 300), "test holds 100 images (rows of 'data') but 300 'coarse_labels'"),
    ('labels shifted by one', 'test', lambda s: dict(fine_labels=[l + 1 for l in labels(s, 'test')]), 'test holds fine_labels 1..100 but meta names 100'),
    ('negative label', 'train', lambda s: dict(fine_labels=[-1] + labels(s)[1:]), 'train holds fine_labels -1..99'),
    ('float labels', 'train', lambda s: dict(fine_labels=[l + 0.5 for l in labels(s)]), "train holds 'fine_labels' of dtype float64"),
    ('a class never trained', 'train', lambda s: dict(fine_labels=[4 if l == 3 else l for l in labels(s)]), 'no image of 1 of the 100 classes (e.g. class 3)'),
    ('all-black images', 'train', lambda s: dict(data=np.zeros((300, 3072), np.uint8)), 'holds images whose every pixel is 0'),
]


@pytest.mark.parametrize('case, split, change, words', CONTENT_CASES, ids=[c[0] for c in CONTENT_CASES])
def test_wrong_dataset_content_is_one_sentence_naming_the_file(tmp_path, small, case, split, change, words):
    folder = damaged_cifar(tmp_path, small, split, **change(small))
    with pytest.raises(ValueError) as e, warnings.catch_warnings():
        warnings.simplefilter('ignore'); load_cifar100(tmp_path, download=False)
    msg = str(e.value)
    assert words in msg and str(folder / split) in msg and one_sentence(msg), msg
    assert f'delete {folder}' in msg  # the fix that works: a fresh download


def test_corrupt_placed_archive_is_named_as_corrupt(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar
    monkeypatch.setattr(tv_cifar, 'download_and_extract_archive', lambda *a, **k: (_ for _ in ()).throw(OSError('offline')))
    (tmp_path / 'cifar-100-python.tar.gz').write_bytes(b'half a download')
    with pytest.raises(FileNotFoundError) as e: load_cifar100(tmp_path)
    assert 'is there but is not the official archive' in str(e.value) and one_sentence(str(e.value))


def test_wrong_content_stops_the_train_notebook_before_any_work(tmp_path, small):
    damaged_cifar(tmp_path / 'data', small, fine_labels=[l + 1 for l in labels(small)])
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), dataset='cifar100', data_root=str(tmp_path / 'data'),
                  teacher_root=str(tmp_path / 'teachers'), epochs=1, device='cpu')
    assert 'train holds fine_labels 1..100' in e.value.evalue and one_sentence(e.value.evalue)
    assert not list((tmp_path / 'runs').glob('*/checkpoint.pt'))

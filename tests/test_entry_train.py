"""`papermill nbs/10_train.ipynb runs/out.ipynb -p method <m>` end to end, as a user runs it (tiny sizes).

The notebook is one path for every method (`notebook_request` → `resolve_config` → `fit`), so papermill runs it for
a one-view method (KD) and the two-view one (MLKD); every other method trains through the same `fit` in this
process. Bad input: the notebook stops before any work with the library's sentence (one case through papermill, the
others through the library functions the notebook calls)."""
import json
from pathlib import Path

import papermill as pm
import pytest

from zscore_kd.cli import notebook_request, parameters
from zscore_kd.methods import list_methods
from zscore_kd.runs import resolve_config
from zscore_kd.train import fit

NBS = Path(__file__).resolve().parents[1] / 'nbs'
TINY = dict(epochs=1, teacher_epochs=1, data_args={'n_train': 256, 'n_test': 128}, device='cpu')

def run(tmp_path, name, **params):
    out = tmp_path / f'{name}.ipynb'
    pm.execute_notebook(str(NBS / '10_train.ipynb'), str(out),
                        parameters={'out_dir': str(tmp_path / 'runs'), **TINY, **params},
                        kernel_name='python3', cwd=str(NBS), progress_bar=False, execution_timeout=600)
    return json.loads(out.read_text())

@pytest.mark.parametrize('method', ['kd', 'mlkd'])
def test_the_notebook_trains_a_one_view_and_a_two_view_method(tmp_path, method):
    nb = run(tmp_path, method, method=method)
    text = json.dumps(nb['cells'][-1]['outputs'])
    assert '| final | 1 |' in text and '| best | 1 |' in text
    assert any('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))
    assert len(list((tmp_path / 'runs').glob(f'{method}+zscore-resnet8-resnet8-*/result.json'))) == 1

@pytest.mark.parametrize('method', [m for m in list_methods() if m not in ('kd', 'mlkd')])
def test_every_other_method_trains_with_its_defaults(tmp_path, method):
    extra = {'method_args': {'assistant': 'resnet14'}} if method == 'takd' else {}
    r = fit(method=method, out_dir=str(tmp_path), progress=False, **TINY, **extra)
    assert r['final']['epoch'] == 1 and 0 <= r['best']['top1'] <= 100

def test_bad_input_in_the_notebook_is_one_sentence_before_any_work(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as e: run(tmp_path, 'bad', method='kdd')
    assert "Unknown method 'kdd'; choose one of atkd, ctkd, dkd, kd, mlkd, pt_loss, takd, vanilla" in str(e.value)
    assert not list((tmp_path / 'runs').glob('*/checkpoint.pt')), 'work started before the input was checked'

@pytest.mark.parametrize('params, sentence', [
    (dict(student='resnet9'), "student: Unknown CIFAR model 'resnet9'"),
    (dict(base_temp=-1.0), 'Parameter base_temp must be a finite number > 0'),
    (dict(data_args={'n_trian': 10}), 'Unknown synthetic data knob(s) n_trian'),
])
def test_bad_input_is_one_sentence(params, sentence):
    "What 10_train does with its parameters (`notebook_request`, then `resolve_config`), in this process."
    ns = {'In': ['', '# Parameters\n' + ''.join(f'{k} = {v!r}\n' for k, v in params.items())],
          **{k: d for k, (d, *_) in parameters().items()}, **params}
    with pytest.raises(ValueError) as e: resolve_config(**notebook_request(ns))
    assert sentence in str(e.value) and len(str(e.value).splitlines()) == 1

def test_a_missing_dataset_is_one_sentence_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match='cifar-100-python'):
        fit(dataset='cifar100', data_root=str(tmp_path / 'nodata'), out_dir=str(tmp_path / 'runs'), progress=False)
    assert not (tmp_path / 'runs').exists()

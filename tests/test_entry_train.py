"""`papermill nbs/10_train.ipynb out.ipynb -p method <m>` end to end, as a user runs it (tiny sizes)."""
import json
from pathlib import Path

import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1] / 'nbs'
TINY = dict(epochs=1, teacher_epochs=1, data_args={'n_train': 256, 'n_test': 128}, device='cpu')

def run(tmp_path, name, **params):
    out = tmp_path / f'{name}.ipynb'
    pm.execute_notebook(str(NBS / '10_train.ipynb'), str(out),
                        parameters={'out_dir': str(tmp_path / 'runs'), **TINY, **params},
                        kernel_name='python3', cwd=str(NBS), progress_bar=False, execution_timeout=600)
    return json.loads(out.read_text())

@pytest.mark.parametrize('method', ['vanilla', 'kd', 'dkd', 'mlkd', 'ctkd'])
def test_every_method_runs_with_standardization(tmp_path, method):
    nb = run(tmp_path, method, method=method, logit_stand=True)
    text = json.dumps(nb['cells'][-1]['outputs'])
    assert '| final | 1 |' in text and '| best | 1 |' in text
    assert any('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))
    assert len(list((tmp_path / 'runs').glob(f'{method}*-resnet8-*/result.json'))) == 1

@pytest.mark.parametrize('params, sentence', [
    (dict(method='kdd'), "Unknown method 'kdd'; choose one of atkd, ctkd, dkd, kd, mlkd, pt_loss, takd, vanilla"),
    (dict(student='resnet9'), "student: Unknown CIFAR model 'resnet9'"),
    (dict(base_temp=-1.0), 'base_temp must be a finite number > 0'),
    (dict(dataset='cifar100', data_root='/nonexistent/data', data_args={}), 'cifar-100-python'),
    (dict(data_args={'n_trian': 10}), 'Unknown synthetic data knob(s) n_trian'),
])
def test_bad_input_fails_fast_with_one_sentence(tmp_path, params, sentence):
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(tmp_path, 'bad', **params)
    assert sentence in str(e.value)
    assert not list((tmp_path / 'runs').glob('*/checkpoint.pt')), 'work started before the input was checked'

"""`papermill nbs/10_train.ipynb out.ipynb` saves text progress, not widget bars, and shows its run as tables
(with a text form, which is what `papermill --log-output` prints)."""
import json, re
from pathlib import Path

import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1] / 'nbs'
WIDGET = 'application/vnd.jupyter.widget-view+json'

@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    "The notebook papermill saves after a tiny KD+Ours run (teacher 1 epoch, student 2)."
    tmp = tmp_path_factory.mktemp('headless')
    pm.execute_notebook(str(NBS / '10_train.ipynb'), str(tmp / 'out.ipynb'), kernel_name='python3', progress_bar=False,
                        parameters=dict(epochs=2, teacher_epochs=1, data_args={'n_train': 256, 'n_test': 128},
                                        device='cpu',
                                        out_dir=str(tmp / 'runs')), execution_timeout=600)
    return json.loads((tmp / 'out.ipynb').read_text())

def outputs(nb): return [o for c in nb['cells'] for o in c.get('outputs', [])]

def test_no_widget_bars_in_the_saved_notebook(saved):
    assert not [o for o in outputs(saved) if WIDGET in o.get('data', {})], 'widget progress bars were saved'
    assert not any('\r' in ''.join(o.get('text', ''))
                   for o in outputs(saved)), 'text bars (carriage returns) were saved'

def test_one_line_per_epoch_and_a_summary(saved):
    text = ''.join(''.join(o.get('text', '')) for o in outputs(saved) if o.get('output_type') == 'stream')
    student = [l for l in text.splitlines() if l.startswith('kd+zscore-resnet8-resnet8-')]
    assert [re.search(r' epoch (\d)/2: loss [\d.]+ ', l).group(1) for l in student[:2]] == ['1', '2'], text
    assert re.fullmatch(r'kd\+zscore-resnet8-resnet8-\w+ done: final top-1 [\d.]+% \(epoch 2\), '
                        r'best [\d.]+% \(epoch \d\), [\d.]+ s',
                        student[2])
    assert any(re.search(r'vanilla-resnet8-\w+ epoch 1/1: loss', l)
               for l in text.splitlines()), 'no line for the teacher'

def test_parameters_as_tables_not_dicts(saved):
    "The resolved run and the method as it ran are tables, in Markdown for the notebook and as text for a log."
    shown = [o['data'] for o in outputs(saved) if 'text/markdown' in o.get('data', {})]
    md, text = [''.join(d['text/markdown']) for d in shown], [''.join(d['text/plain']) for d in shown]
    assert any('| group | setting | value |' in m and '| method | base_temp | 2 |' in m for m in md), md
    assert any(re.search(r'^method +base_temp +2$', t, re.M) for t in text), 'the run has no text form for a log'
    assert any('**The method as it ran**' in m and '| kd_weight | 9.0 |' in m for m in md), md
    assert not [t for t in text if 'IPython.core.display' in t], 'a table shows as an object in the log'
    plain = [''.join(o['data']['text/plain']) for o in outputs(saved) if o.get('output_type') == 'execute_result']
    assert not [p for p in plain if p.lstrip().startswith('{')], 'a raw dict is still printed'

"""A new distiller is one loss and one `Method`: subclassing files it in `METHODS`, and then `fit`, the command line
and the run's resolved config know it, with no other file edited (the steps are in the README, "Working on the
notebooks")."""
import json

import pytest
import torch.nn.functional as F

from zscore_kd.cli import main
from zscore_kd.methods import METHODS, Method, list_methods, method_settings
from zscore_kd.runs import resolve_config
from zscore_kd.train import fit
from zscore_kd.zscore import stand_mode, zscore

def l2_logit_loss(s, t, tau: float, logit_stand='none'):
    "A toy distillation loss: mean squared difference of the (optionally Z-scored) logits."
    if stand_mode(logit_stand) != 'none': s, t = zscore(s, tau), zscore(t, tau)
    return F.mse_loss(s, t)

@pytest.fixture
def toy_method():
    "Register `toy` for one test, then remove it again."
    class Toy(Method):
        "CE plus the toy loss."
        name = 'toy'
        def __init__(self, tau: float = 3.0, ce_weight: float = 1.0, kd_weight: float = 0.5, logit_stand=False):
            super().__init__(tau=tau, ce_weight=ce_weight, kd_weight=kd_weight, logit_stand=stand_mode(logit_stand))
        def forward(self, student, teacher, y):
            h = self.hparams
            return {'loss_ce': h['ce_weight'] * F.cross_entropy(student[0], y),
                    'loss_kd': h['kd_weight'] * l2_logit_loss(student[0], teacher[0], h['tau'], h['logit_stand'])}
    yield Toy
    del METHODS['toy']

TINY = dict(epochs=1, teacher_epochs=1, data_args={'n_train': 128, 'n_test': 64})

def test_a_new_method_trains_through_fit_and_the_command_line(toy_method, tmp_path, capsys):
    assert 'toy' in list_methods()
    assert method_settings('toy', True) == dict(logit_stand='zscore', base_temp=2.0, kd_weight=9.0, ce_weight=1.0,
                                                method_args={})
    c = resolve_config(method='toy', logit_stand=False, out_dir=str(tmp_path), **TINY)
    assert (c.base_temp, c.kd_weight, c.ce_weight) == (3.0, 0.5, 1.0)  # its own recipe, concrete
    r = fit(c, progress=False)
    assert r['method'] == dict(tau=3.0, ce_weight=1.0, kd_weight=0.5, logit_stand='none') and r['final']['epoch'] == 1
    argv = ['--method', 'toy', '--kd-weight', '2', '--out-dir', str(tmp_path), '--epochs', '1', '--teacher-epochs', '1',
            '--data-args', json.dumps(TINY['data_args'])]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed['final']['epoch'] == 1 and '/toy+zscore-resnet8-resnet8-' in printed['run_dir']

def test_an_unknown_method_names_the_closest_one(toy_method, capsys):
    assert main(['--method', 'tooy']) == 2
    assert "Unknown method 'tooy'; choose one of" in capsys.readouterr().err

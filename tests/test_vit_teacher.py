"""The ViT students' ResNet-56 teacher trains with the reference's own recipe, and every teacher sees its inputs
normalised the way it was trained.

The reference (lkhl/tiny-transformers @ d2165f7) trains the teacher with configs/resnet/r-56_c100.yaml: SGD with
Nesterov momentum (pycls/core/optimizer.py:59-70), no weight decay on 1-D parameters and biases (optimizer.py:20-56),
timm's CosineLRScheduler without warm-up down to 0 (optimizer.py:90-101, pycls/core/config.py:140, 177), stepped
after each epoch (pycls/core/trainer.py:123), on timm's RandAugment views at 32 px with ImageNet's mean and std
(pycls/datasets/transforms.py:49-66, 87-98).
"""
import contextlib
import dataclasses
import hashlib
import json
import math

import pytest
import torch
from zscore_kd.augment import crop_flip, normalize
from zscore_kd.checkpoints import save_teacher, teacher_path
from zscore_kd.images import make_synthetic
from zscore_kd.lineage import lineage, teacher_config
from zscore_kd.models import get_model
from zscore_kd.models.vit import pycls_key
from zscore_kd.rundir import _NOT_HASHED, RunDir, config_hash
from zscore_kd.runs import resolve_config
from zscore_kd.teachers import get_teacher, teacher_logits_fn
from zscore_kd.train import Learner, fit
from zscore_kd.vit_augment import IMAGENET_MEAN, IMAGENET_STD, vit_test_view

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py

TINY = dict(method='kd', teacher='resnet56', student='pit_ti', student_args={'img_size': 32}, epochs=1,
            teacher_epochs=2, batch_size=32, device='cpu', data_args=dict(n_train=128, n_test=64))
IMAGENET = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A tiny ViT student and the teacher run it needs, trained through `fit`."
    out = tmp_path_factory.mktemp('runs')
    student = resolve_config(out_dir=str(out), **TINY)
    return student, lineage(student).teacher_run, fit(student, progress=False)


def test_the_teacher_run_is_the_references_recipe(trained):
    _, teacher, _ = trained
    switches = (teacher.optimizer, teacher.nesterov, teacher.filter_bias_and_bn, teacher.lr_schedule, teacher.augment)
    assert switches == ('sgd', True, True, 'cosine', 'rand_augment')
    assert (teacher.lr, teacher.weight_decay, teacher.momentum, teacher.warmup_epochs, teacher.min_lr) == \
           (0.1, 5e-4, 0.9, 0, 0.0)
    # each epoch's rate is timm's cosine as the reference steps it: 0.05 (1 + cos(pi e / E)), e counted from 0
    lrs = [r['lr'] for r in RunDir(teacher).history()]
    assert lrs == pytest.approx([0.05 * (1 + math.cos(math.pi * e / 2)) for e in range(2)], abs=1e-15)


def test_the_teacher_records_its_normalisation_and_the_student_keeps_it(trained):
    student, teacher, result = trained
    ckpt = torch.load(teacher_path('resnet56', RunDir(teacher).path / 'teacher'), weights_only=True)
    assert ckpt['normalization'] == 'imagenet'  # the RandAugment views' mean and std
    assert result['teacher']['normalization'] == 'imagenet'
    assert json.loads((RunDir(student).path / 'config.json').read_text())['teacher_info']['normalization'] == 'imagenet'
    loaded, _ = get_teacher(student, 100)
    assert type(loaded).__name__ == 'ResNet'  # the student's views are normalised the teacher's way: nothing to map


def test_the_loop_builds_pycls_sgd_for_the_teacher(trained, tmp_path):
    _, teacher, _ = trained
    learner = Learner(resolve_config(teacher, out_dir=str(tmp_path)), 100)
    assert all(g['nesterov'] and (g['momentum'], g['dampening']) == (0.9, 0) for g in learner.opt.param_groups)
    named = {id(p): n for n, p in learner.model.named_parameters()}
    decay = {named[id(p)]: g['weight_decay'] for g in learner.opt.param_groups for p in g['params']}
    assert decay == {n: 0.0 if p.ndim == 1 or n.endswith('.bias') else 5e-4
                     for n, p in learner.model.named_parameters()}


def test_the_archive_teacher_stays_mdistillers_for_cnn_students(tmp_path):
    cnn = resolve_config(method='kd', teacher='resnet56', student='resnet20', dataset='cifar100', preset='paper',
                         teacher_root=str(tmp_path), out_dir=str(tmp_path), check_device=False, device='cpu')
    t = teacher_config(cnn)
    assert (t.lr, t.epochs, t.lr_decay_epochs, t.nesterov, t.augment) == (0.05, 240, (150, 180, 210), False,
                                                                          'standard')
    from zscore_kd.paper import produced_by  # the tables' teacher cells still name mdistiller's teacher
    assert produced_by('teacher', 'none', dict(teacher='resnet56', student='resnet20', source='')).startswith(
        'teachers: the released mdistiller/RepDistiller checkpoints')


def _one_epoch_logits(teacher, config, data, **batch):
    return teacher_logits_fn(teacher, config, data, 1, False, contextlib.nullcontext)(batch)[0]


def test_a_cifar_normalised_teacher_of_a_vit_student_sees_cifar_normalised_views(tmp_path):
    r56 = get_model('resnet56').eval()
    file = save_teacher(r56, 'resnet56', tmp_path)  # mdistiller's layout: CIFAR-100's mean and std
    vit = resolve_config(method='kd', teacher='resnet56', student='pit_ti', student_args={'img_size': 64},
                         teacher_checkpoint=str(file), teacher_bn_train=False, dataset='cifar100', device='cpu',
                         out_dir=str(tmp_path / 'runs'))
    teacher, info = get_teacher(vit, 100)
    assert info['normalization'] == 'cifar100'
    images = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = _one_epoch_logits(teacher, vit, None, x=vit_test_view(images, 64))  # ImageNet-normalised 64-px views
        own_way = r56(torch.nn.functional.interpolate(normalize(images), 32, mode='bilinear', align_corners=False))
    assert torch.allclose(ours, own_way, rtol=0, atol=1e-5 * own_way.abs().max())


def test_an_imagenet_normalised_teacher_of_a_cifar_student_sees_imagenet_normalised_views_cached_or_not(tmp_path):
    r56 = get_model('resnet56').eval()
    pyth = tmp_path / 'model.pyth'  # a pycls checkpoint: ImageNet's mean and std
    torch.save({'epoch': 299, 'model_state': {pycls_key(k): v for k, v in r56.state_dict().items()}}, pyth)
    data = make_synthetic(n_train=8, n_test=8)
    common = dict(method='kd', teacher='resnet56', student='resnet8', teacher_checkpoint=str(pyth), device='cpu',
                  out_dir=str(tmp_path / 'runs'), data_args=dict(n_train=8, n_test=8))
    views = torch.arange(8) * 19 % 162
    own_way = normalize(crop_flip(data.train_x, views), **IMAGENET)
    with torch.no_grad():
        expected = r56(own_way)
        for cache in (False, True):
            c = resolve_config(**common, teacher_cache=cache)
            teacher, info = get_teacher(c, 100)
            assert info['normalization'] == 'imagenet'
            got = _one_epoch_logits(teacher, c, data.train_x, x=normalize(crop_flip(data.train_x, views)),
                                    index=torch.arange(8), view=views)
            assert torch.allclose(got, expected, rtol=0, atol=1e-5 * expected.abs().max()), cache


SWITCHES = dict(nesterov=False, lr_schedule='step', filter_bias_and_bn=False, augment='standard')


def hash_before_the_switches(config) -> str:
    "The run hash as computed before the four switches existed (rundir.config_hash of that version)."
    d = {k: v for k, v in dataclasses.asdict(config).items() if k not in _NOT_HASHED and k not in SWITCHES}
    d['device'] = torch.device(d['device']).type
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=list).encode()).hexdigest()[:12]


@pytest.mark.parametrize('run', [dict(), dict(method='vanilla', student='wrn_16_2', dataset='cifar100', preset='paper'),
                                 dict(method='dkd', teacher='resnet32x4', student='resnet8x4', dataset='cifar100',
                                      preset='paper'),
                                 dict(method='kd', teacher='ResNet34', student='ResNet18', dataset='imagenet')],
                         ids=['quick', 'teacher', 'dkd', 'imagenet'])
def test_runs_from_before_the_switches_keep_their_folders(tmp_path, run):
    c = resolve_config(**run, out_dir=str(tmp_path), device='cpu', check_device=False)
    assert {k: getattr(c, k) for k in SWITCHES} == SWITCHES
    assert config_hash(c) == hash_before_the_switches(c)
    assert config_hash(resolve_config(c, nesterov=True)) != config_hash(c)  # set otherwise, a switch is hashed

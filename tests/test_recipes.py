"The published recipes in zscore_kd/published/recipes.csv: corrections found against the official repositories stay."
import csv
from pathlib import Path
from types import SimpleNamespace

import pytest

CSV = Path(__file__).resolve().parents[1] / 'zscore_kd' / 'published' / 'recipes.csv'
ROWS = list(csv.DictReader(open(CSV, newline='')))
T5_TEACHERS = ('vgg13', 'wrn_28_2', 'wrn_40_2', 'wrn_16_4', 'wrn_28_4', 'ResNet50')


def rows(method, stand=None, **kw):
    return [r for r in ROWS if r['method'] == method and (stand is None or r['logit_stand'] == stand)
            and all(r[k] == v for k, v in kw.items())]


def one(method, teacher, student, stand='none'):
    found = rows(method, stand, teacher=teacher, student=student)
    assert len(found) == 1, (method, teacher, student, stand, len(found))
    return found[0]


def test_keys_unique_and_every_row_says_who_produced_the_number():
    keys = [(r['method'], r['teacher'], r['student'], r['logit_stand'], r['role'] or '') for r in ROWS]
    assert len(keys) == len(set(keys))
    assert all(r['produced_by'] for r in ROWS)
    assert not [r for r in ROWS if 'SPEC' in r['source'] + r['note']]  # real sources only


@pytest.mark.parametrize('teacher,student',
                         [('resnet32x4', 'ShuffleV1'), ('resnet32x4', 'vgg8'), ('wrn_40_2', 'ShuffleV1')]
                         + [(t, 'wrn_16_2') for t in T5_TEACHERS if t != 'wrn_40_2'])
def test_dkd_ours_without_a_log_uses_the_supplements_kd_weight_12(teacher, student):
    r = one('dkd', teacher, student, 'zscore')
    assert (r['kd_weight'], r['base_temp']) == ('12', '2') and 'no log' in r['source']


def test_dkd_ours_with_a_log_keeps_the_logged_weight():
    assert one('dkd', 'wrn_40_2', 'wrn_16_2', 'zscore')['kd_weight'] == '12'
    assert one('dkd', 'resnet32x4', 'resnet8x4', 'zscore')['kd_weight'] == '9'
    assert one('dkd', 'vgg13', 'vgg8', 'zscore')['kd_weight'] == '15'


def test_ctkd_wrn_students_turn_the_double_bn_update_off_and_nothing_else_does():
    off = {(r['method'], r['teacher'], r['student'], r['logit_stand']) for r in ROWS
           if r['student_args'] == 'double_bn_update=False'}
    pairs = [('resnet32x4', 'wrn_16_2'), ('resnet32x4', 'wrn_40_2'), ('wrn_40_2', 'wrn_40_1'), ('wrn_40_2', 'wrn_16_2')]
    expected = {('ctkd', t, s, st) for t, s in pairs for st in ('none', 'zscore')}
    assert off == expected  # 8 runs
    assert {r['student_args'] for r in ROWS} == {'', 'double_bn_update=False'}


# MLKD repository, configs/cifar100/ours/*.yaml at 77b91ec (2023-03-28): LR and epochs of the MLKD baselines
MLKD_CONFIGS = {('resnet110', 'resnet32'): ('0.025', '480'), ('resnet32x4', 'resnet8x4'): ('0.025', '480'),
                ('resnet32x4', 'ShuffleV1'): ('0.01', '960'), ('resnet32x4', 'ShuffleV2'): ('0.01', '960'),
                ('ResNet50', 'MobileNetV2'): ('0.01', '480'), ('resnet56', 'resnet20'): ('0.025', '480'),
                ('vgg13', 'MobileNetV2'): ('0.01', '480'), ('vgg13', 'vgg8'): ('0.025', '480'),
                ('wrn_40_2', 'ShuffleV1'): ('0.01', '480'), ('wrn_40_2', 'wrn_16_2'): ('0.025', '480'),
                ('wrn_40_2', 'wrn_40_1'): ('0.025', '480')}


@pytest.mark.parametrize('pair', sorted(MLKD_CONFIGS))
def test_mlkd_baselines_follow_the_mlkd_repository_configs(pair):
    r = one('mlkd', *pair)
    assert (r['lr'], r['epochs']) == MLKD_CONFIGS[pair]
    assert (r['base_temp'], r['kd_weight'], r['ce_weight']) == ('4', '0.9', '0.1')
    assert 'MLKD repository' in r['source'] and '5ee473f' in r['note']


def test_mlkd_ours_keeps_the_ls_config_lr():
    assert one('mlkd', 'vgg13', 'vgg8', 'zscore')['lr'] == '0.01'  # LS configs/cifar100/mlkd/vgg13_vgg8.yaml


def test_supplementary_table5_baselines_have_recipes_run_by_the_authors():
    assistants = {'vgg13': 'wrn_16_2', 'wrn_28_2': 'vgg13', 'wrn_40_2': 'wrn_28_2', 'wrn_16_4': 'wrn_40_2',
                  'wrn_28_4': 'wrn_16_4', 'ResNet50': 'wrn_28_4'}
    for t in T5_TEACHERS:
        for m in ('takd', 'atkd', 'pt_loss'):
            assert one(m, t, 'wrn_16_2')['produced_by'].startswith('LS authors')
        assert one('takd', t, 'wrn_16_2')['method_args'] == f'assistant={assistants[t]}'
    assert {r['method'] for r in ROWS if 'dagger' in r['produced_by']} == {'takd', 'atkd', 'pt_loss'}


def test_the_recipe_reader_sees_the_corrections():
    from zscore_kd.recipes import paper_recipe, load_csv
    load_csv.cache_clear()
    cfg = lambda m, t, s, stand: SimpleNamespace(method=m, teacher=t, student=s, logit_stand=stand)
    assert paper_recipe(cfg('dkd', 'ResNet50', 'wrn_16_2', True))['kd_weight'] == 12
    assert paper_recipe(cfg('mlkd', 'vgg13', 'vgg8', False))['lr'] == 0.025
    assert paper_recipe(cfg('atkd', 'wrn_28_4', 'wrn_16_2', False))['base_temp'] == 4
    atkd = paper_recipe(cfg('atkd', 'wrn_28_4', 'wrn_16_2', False))
    assert atkd['method_args'] == {'multiplier': 2, 'centered': True}  # skd_main.py's F.layer_norm centres
    assert paper_recipe(cfg('ctkd', 'resnet32x4', 'wrn_40_2', True))['student_args'] == {'double_bn_update': False}

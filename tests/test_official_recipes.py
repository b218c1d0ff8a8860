"""Tables 3, S4 and S5 resolved as runs carry the official recipes, field by field.

Each expected value is copied from an official file and cited as `REPO path:line`, where REPO is one of
  LS    sunshangquan/logit-standardization-KD @ f6e5aa5 (the paper's code; tiny-transformers/ is its ViT fork)
  MEG   megvii-research/mdistiller @ a08d46f
  CTKD  zhengli97/CTKD @ 7d52522
  SKD   forjiuzhou/Spherical-Knowledge-Distillation @ de66b19 (skd_main.py, first upload) and d05faed (README.md)
  TT    lkhl/tiny-transformers @ d2165f7 (the ViT students' reference)
  TAKD  imirzadeh/Teacher-Assistant-Knowledge-Distillation @ 0f8168f
A value the official files leave open, or that this project sets otherwise on purpose, is a `Decided` entry whose
reason says why; the recipe row's note says the same. Fields are the resolved RunConfig's, and `method.<name>` for
the hyper-parameters of the method the run trains with.
"""
import dataclasses
import functools
import math
import tempfile
from typing import NamedTuple

import pytest


@functools.lru_cache(maxsize=None)
def resolved(table: str) -> dict:
    "(teacher, student, row) -> the fields of the cell's paper-scale run, through the library's own planning."
    from zscore_kd.sweeps import plan
    from zscore_kd.runs import build_method
    from zscore_kd.lineage import teacher_config
    dataset = 'imagenet' if table == 'main_T3' else 'cifar100'
    out = {}
    with tempfile.TemporaryDirectory() as runs:
        for p in plan(table, scale='paper', seeds=1, device='cpu', dataset=dataset, out_dir=runs):
            if p.config is None: continue
            c = p.config
            out[(p.cell.teacher, p.cell.student, p.cell.row)] = {
                **dataclasses.asdict(c), **{f'method.{k}': v for k, v in build_method(c).hparams.items()},
                'teacher_run': teacher_config(c) if table == 'supp_T4' and c.teacher else None}
    return out


class Decided(NamedTuple):
    "A value no official file fixes for this cell, or one set otherwise on purpose: the value and why."
    value: object
    why: str


def mdistiller_solver(where: str, first: int, batch, epochs, lr, stages, wd) -> dict:
    "A yacs SOLVER block: BATCH_SIZE on line `first`, then EPOCHS, LR, LR_DECAY_STAGES, _RATE, WEIGHT_DECAY, ..."
    names = ('batch_size', 'epochs', 'lr', 'lr_decay_epochs', 'lr_decay_rate', 'weight_decay', 'momentum', 'optimizer')
    values = (batch, epochs, lr, tuple(stages), 0.1, wd, 0.9, 'sgd')
    return {n: (v, f'{where}:{first + i}') for i, (n, v) in enumerate(zip(names, values))}


def imagenet_solver(where: str, lr: float = 0.2) -> dict:
    return mdistiller_solver(where, 15, 512, 100, lr, (30, 60, 90), 1e-4)


def cifar_solver(where: str) -> dict:
    return mdistiller_solver(where, 10, 64, 240, 0.05, (150, 180, 210), 5e-4)


def kd_terms(where_tau, tau, where_ce, ce, where_kd, kd, stand: str, ddof_where: str = None) -> dict:
    "KD's temperature and weights, and the standardization (with its std convention) when on."
    out = {'method.tau': (tau, where_tau), 'method.ce_weight': (ce, where_ce), 'method.kd_weight': (kd, where_kd),
           'logit_stand': stand}
    if ddof_where: out['method.ddof'] = (1, ddof_where)
    return out


# the LS command line: --logit-stand, --base-temp (default 2, line 103), --kd-weight (default 9, line 104)
FLAGS, CFG = 'LS tools/train.py', 'LS mdistiller/engine/cfg.py'
STAND_OFF = ('none', f'{FLAGS}:110 (standardizes only with --logit-stand)')
STAND_ON = ('zscore', f'{FLAGS}:110-111')
MEG_PLAIN = ('none', 'MEG mdistiller/distillers/KD.py:8-13 (no standardization)')
LS_STD = 'LS mdistiller/distillers/KD.py:9 (logit.std(): Bessel)'
DKD_STD = 'LS mdistiller/distillers/DKD.py:9 (logit.std(): Bessel)'
MLKD_STD = 'LS mdistiller/distillers/MLKD.py:14 (logit.std(): Bessel)'
DKD_OURS_WEIGHT = ("no command or log: w = 12, the supplement's DKD+Ours weight (the --kd-weight default is 9, "
                   f"{FLAGS}:104); {FLAGS}:116-117 multiply DKD's alpha and beta by w")
IMAGENET_BATCH = ('every ImageNet row runs at mdistiller batch 512 (configs/imagenet/*/*.yaml:15); CTKD trains at '
                  'a total batch of 256 (CTKD scripts/run_imagenet_distill.sh:19)')


def main_t3(pair: str, teacher: str, student: str) -> dict:
    "The eight method cells of one Table 3 pair ('r34_r18' or 'r50_mv2')."
    ls, meg = f'LS configs/imagenet/{pair}', f"MEG configs/imagenet/{pair.replace('mv2', 'mv1')}"
    kd_ours_where = 'LS README.md:119' if pair == 'r34_r18' else f'{FLAGS}:103-104 (defaults), 113-114'
    ctkd, ls_ctkd = 'CTKD scripts/run_imagenet_distill.sh', 'LS CTKD/scripts/run_imagenet_distill.sh'
    # CTKD's script lines 17-28 train ResNet34 -> ResNet18; no script exists for ResNet50 -> MobileNetV1
    ctkd_common = {
        'epochs': (120, f'{ctkd}:19'), 'batch_size': Decided(512, IMAGENET_BATCH),
        'lr': Decided(0.2, f'CTKD: 0.1 at batch 256 ({ctkd}:21), scaled linearly to batch 512'),
        'lr_decay_epochs': ((30, 60, 90), f'{ctkd}:21'), 'weight_decay': (1e-4, f'{ctkd}:21'),
        'lr_decay_rate': (0.1, 'CTKD train_student.py:57'), 'momentum': (0.9, 'CTKD train_student.py:59'),
        'optimizer': ('sgd', 'CTKD train_student.py:379'),
        'method.t_start': (1, f'{ctkd}:24'), 'method.t_end': (20, f'{ctkd}:24'),
        'method.cosine_decay': (True, f'{ctkd}:24'), 'method.decay_max': (0, f'{ctkd}:25'),
        'method.decay_min': (-1, f'{ctkd}:25'),
        # line 24 ends in '\ ', which cuts the command; run cut, the argparse defaults (0, 0, 0; train_student.py:92-94)
        # divide by zero in CosineDecay.get_value (train_student.py:200), so the authors ran line 25
        'method.decay_loops': (5, f'{ctkd}:25')}
    dkd_ours = {'method.alpha': Decided(12.0, DKD_OURS_WEIGHT),
                'method.beta': Decided(12.0 * (0.5 if pair == 'r34_r18' else 2.0), DKD_OURS_WEIGHT)}
    cells = {
        'KD': {**imagenet_solver(f'{meg}/kd.yaml'),
               **kd_terms(f'{meg}/kd.yaml:24', 1, f'{meg}/kd.yaml:26', 0.5, f'{meg}/kd.yaml:27', 0.5, MEG_PLAIN)},
        'KD+Ours': {**imagenet_solver(f'{ls}/kd.yaml'),
                    **kd_terms(kd_ours_where, 2, f'{ls}/kd.yaml:26', 1.0 if pair == 'r34_r18' else 0.5,
                               kd_ours_where, 9, STAND_ON, LS_STD)},
        'KD+CTKD': {**ctkd_common, 'method.ce_weight': (1, f'{ctkd}:22 (-r 1)'),
                    'method.kd_weight': (1, f'{ctkd}:22 (-a 1)'),
                    'logit_stand': ('none', 'CTKD train_student.py:314 (DistillKL)')},
        'KD+CTKD+Ours': {**ctkd_common, 'method.ce_weight': (1, f'{ls_ctkd}:22 (-r 1)'),
                         'method.kd_weight': (2, f'{ls_ctkd}:22 (-a 2)'),
                         'logit_stand': ('zscore', 'LS CTKD/train_student.py:314 (standardized without --logit_stand, '
                                                   f'which {ls_ctkd}:17-28 does not pass)'),
                         'method.ddof': (1, 'LS CTKD/distiller_zoo/KD.py:9 (logit.std(): Bessel)')},
        'DKD': {**imagenet_solver(f'{ls}/dkd.yaml'), 'logit_stand': STAND_OFF,
                'method.ce_weight': (1.0, f'{ls}/dkd.yaml:27'), 'method.alpha': (1.0, f'{CFG}:165'),
                'method.beta': (0.5 if pair == 'r34_r18' else 2.0, f'{ls}/dkd.yaml:28'),
                'method.tau': (1.0, f'{ls}/dkd.yaml:29'), 'method.warmup': (1, f'{ls}/dkd.yaml:30')},
        'DKD+Ours': {**imagenet_solver(f'{ls}/dkd.yaml'), 'logit_stand': STAND_ON, **dkd_ours,
                     'method.ce_weight': (1.0, f'{ls}/dkd.yaml:27'), 'method.tau': (2, f'{FLAGS}:103, 118'),
                     'method.warmup': (1, f'{ls}/dkd.yaml:30'), 'method.ddof': (1, DKD_STD)},
        'MLKD': {**imagenet_solver(f'{ls}/mlkd.yaml', 0.1 if pair == 'r34_r18' else 0.2),
                 **kd_terms(f'{ls}/mlkd.yaml:25', 1, f'{ls}/mlkd.yaml:27', 0.5, f'{ls}/mlkd.yaml:28', 0.5, STAND_OFF)},
        'MLKD+Ours': {**imagenet_solver(f'{ls}/mlkd.yaml', 0.1 if pair == 'r34_r18' else 0.2),
                      **kd_terms(f'{FLAGS}:103, 121', 2, f'{ls}/mlkd.yaml:27', 0.5, f'{FLAGS}:104, 120', 9, STAND_ON,
                                 MLKD_STD)}}
    return {('main_T3', teacher, student, row): spec for row, spec in cells.items()}


# lkhl/tiny-transformers configs/<family>/<name>_c100_base.yaml and the LS fork's <name>_c100_KD_ours.yaml:
# (the OPTIM block's first line, the TRAIN.BATCH_SIZE line) and, for KD_ours, the LOGIT_TEMP line
VIT = {'deit_ti': ('deit/deit-ti', (14, 25), (14, 44), 29), 't2t_vit_7': ('t2t/t2t-7', (19, 30), (37, 48), 25),
       'pit_ti': ('pit/pit-ti', (16, 27), (34, 45), 22), 'pvt_ti': ('pvt/pvt-ti', (16, 27), (34, 45), 22)}
# KD+Ours: (T, weight, the log whose file name carries them; None: the log's name does not, its config does)
VIT_KD_OURS = {'deit_ti': (3, 10, 'deit-ti_c100_KD_ours_3_10.txt'), 't2t_vit_7': (3, 6, 't2t-7_c100_KD_ours_3_6.txt'),
               'pit_ti': (2, 9, None), 'pvt_ti': (2, 9, None)}


def pycls_optim(where: str, optim: int, batch: int) -> dict:
    "The OPTIM block (OPTIMIZER, BASE_LR, MIN_LR, LR_POLICY, MAX_EPOCH, WEIGHT_DECAY, WARMUP_FACTOR, WARMUP_EPOCHS)."
    lines = dict(optimizer=0, lr=1, min_lr=2, lr_decay_epochs=3, epochs=4, weight_decay=5, warmup_epochs=7)
    values = dict(optimizer='adamw', lr=5e-4, min_lr=5e-6, lr_decay_epochs=(), epochs=300, weight_decay=0.05,
                  warmup_epochs=20)
    return {**{k: (values[k], f'{where}:{optim + i}') for k, i in lines.items()},
            'batch_size': (128, f'{where}:{batch}')}


def supp_t4(student: str) -> dict:
    "The three run cells of one Table S4 student."
    name, base, kd, temp_line = VIT[student]
    base_yaml, kd_yaml = f'TT configs/{name}_c100_base.yaml', f'LS tiny-transformers/configs/{name}_c100_KD_ours.yaml'
    token = lambda on, where: {'student_args': ({'distill_token': on}, where)} if student == 'deit_ti' else {}
    bn = {'teacher_bn_train': (True, 'LS tiny-transformers/pycls/core/trainer.py:87 (model.train() reaches the '
                                     'teacher, a submodule: pycls/models/distill.py:75)')}
    tau, weight, log = VIT_KD_OURS[student]
    logged = log and f'LS logs/tiny-transformer/{log} (file name: T, weight)'
    ce_half = (0.5, 'LS tiny-transformers/pycls/core/trainer.py:103')
    cells = {
        'Train from scratch (no KD)': {**pycls_optim(base_yaml, *base), 'logit_stand': 'none',
                                       'method.ce_weight': (1.0, 'TT pycls/core/trainer.py:98-99'),
                                       **token(False, 'TT pycls/core/config.py:36 (ENABLE_LOGIT off: no token, '
                                                      'pycls/models/transformers/deit.py:56)')},
        'KD': {**pycls_optim(kd_yaml, *kd), **bn, 'method.ce_weight': ce_half,
               'logit_stand': 'none',
               'method.tau': Decided(tau, "open: no plain-KD config or log; the tau of this student's KD+Ours run"),
               'method.kd_weight': (1, 'LS tiny-transformers/pycls/models/distill.py:41 (weight 1 without '
                                       f'LOGIT_STANDARD) x LOGIT_WEIGHT 1.0 ({kd_yaml}:{temp_line + 1})'),
               **token(True, f'{kd_yaml}:{temp_line - 2} (ENABLE_LOGIT: pycls/models/transformers/deit.py:56-57)')},
        'KD+Ours': {**pycls_optim(kd_yaml, *kd), **bn, 'method.ce_weight': ce_half,
                    'logit_stand': ('zscore', f'{kd_yaml}:{temp_line + 3 if student == "deit_ti" else temp_line + 2}'),
                    'method.ddof': (1, 'LS tiny-transformers/pycls/models/distill.py:34 (logit.std(): Bessel)'),
                    'method.tau': (tau, logged or f'{kd_yaml}:{temp_line}'),
                    'method.kd_weight': (weight, logged or 'LS tiny-transformers/pycls/core/config.py:41'),
                    **token(True, f'{kd_yaml}:{temp_line - 2}')}}
    return {('supp_T4', 'resnet56', student, row): spec for row, spec in cells.items()}


T5_TEACHERS = ('vgg13', 'wrn_28_2', 'wrn_40_2', 'wrn_16_4', 'wrn_28_4', 'ResNet50')
MEG_KD = {**cifar_solver('MEG configs/cifar100/kd.yaml'),
          **kd_terms('MEG mdistiller/engine/cfg.py:61', 4, 'MEG mdistiller/engine/cfg.py:63', 0.1,
                     'MEG mdistiller/engine/cfg.py:64', 0.9, MEG_PLAIN)}
# TAKD, ATKD and PT-Loss: the LS runs are unpublished; both TAKD stages, ATKD's solver and PT-Loss run mdistiller's KD
# recipe, whose values are the MEG lines cited
SKD = 'SKD skd_main.py'
ATKD = {**cifar_solver('MEG configs/cifar100/kd.yaml'), 'logit_stand': 'none',
        'method.tau': (4, 'SKD README.md:29 (--T=4)'), 'method.multiplier': (2, 'SKD README.md:29 (--multiplier 2)'),
        'method.centered': (True, f'{SKD}:454-457 (F.layer_norm subtracts the mean)'),
        'method.eps': (1e-7, f'{SKD}:455, 457'), 'method.alphas': ((0.9, 0.5, 0.1), f'{SKD}:349-356'),
        'method.alpha_milestones': Decided((180, 210), f'SKD drops alpha at epochs 60 and 80 ({SKD}:353-356), its '
                                                       '2nd and 3rd LR decays (l. 716-719); here mdistiller\'s')}


def supp_t5(teacher: str) -> dict:
    "The five run cells of one Table S5 column."
    left = dict(zip(T5_TEACHERS[1:], T5_TEACHERS))
    assistant = Decided(left.get(teacher, 'wrn_16_2'),
                        "the caption: TA = the left column's model; column 1 has none (open): a WRN-16-2")
    logged = teacher == 'wrn_40_2'
    kd_log, dkd_log = 'LS logs/KD/kd,wrn_40_2,wrn_16_2,2,9.txt', 'LS logs/DKD/dkd,wrn_40_2,wrn_16_2,2,12,2.0.txt'
    kd_solver = 'LS configs/cifar100/kd/wrn_40_2_wrn_16_2.yaml' if logged else 'LS configs/cifar100/kd.yaml'
    # every LS configs/cifar100/dkd/*.yaml has this solver; no DKD config exists for the other five teachers
    dkd_solver = 'LS configs/cifar100/dkd/wrn_40_2_wrn_16_2.yaml'
    dkd_weight = (12.0, f'{dkd_log} (file name: w 12) x ALPHA 1.0 ({CFG}:165)') if logged else Decided(
        12.0, DKD_OURS_WEIGHT)
    dkd_beta = ((24.0, f'{dkd_log} (file name: beta 2.0; its config says 6.0) x w 12, {FLAGS}:117') if logged else
                Decided(96.0, f'BETA 8.0 ({CFG}:166, no pair config) x w 12 ({FLAGS}:117)'))
    cells = {
        'TAKD': {**MEG_KD, 'method.assistant': assistant,
                 'method.kl_reduction': Decided('batchmean', "open: TAKD's train.py:95 nn.KLDivLoss() divides by B*K, "
                                                             "100x weaker at K = 100; mdistiller's batch mean")},
        'ATKD': ATKD,
        'PT-Loss': {**MEG_KD, 'method.epsilon': Decided(1.0, 'open: no official code; M = 1, epsilon = 1 (Poly-1)')},
        'KD+Ours': {**cifar_solver(kd_solver),
                    **kd_terms(kd_log if logged else f'{CFG}:62, {FLAGS}:103', 2, f'{CFG}:64', 0.1,
                               kd_log if logged else f'{CFG}:65, {FLAGS}:104', 9, STAND_ON, LS_STD)},
        'DKD+Ours': {**cifar_solver(dkd_solver), 'logit_stand': STAND_ON, 'method.ddof': (1, DKD_STD),
                     'method.tau': (2, dkd_log if logged else f'{FLAGS}:103, 118'),
                     'method.ce_weight': (1.0, f'{CFG}:164'), 'method.alpha': dkd_weight, 'method.beta': dkd_beta,
                     'method.warmup': (20, f'{CFG}:168')}}
    return {('supp_T5', teacher, 'wrn_16_2', row): spec for row, spec in cells.items()}


OFFICIAL = {**main_t3('r34_r18', 'ResNet34', 'ResNet18'), **main_t3('r50_mv2', 'ResNet50', 'MobileNetV1'),
            **{k: v for s in VIT for k, v in supp_t4(s).items()},
            **{k: v for t in T5_TEACHERS for k, v in supp_t5(t).items()}}


def expected(entry):
    "(value, where) or Decided(value, why) or a bare value (the cell's own, e.g. logit_stand 'none')."
    if isinstance(entry, Decided): return entry.value, f'decided: {entry.why}'
    return entry if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str) else (entry, 'the cell')


def same(ours, official) -> bool:
    "Equal, numbers within float rounding (0.2 written as 0.2 or 2e-1, 1 as 1 or 1.0)."
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (ours, official))
    return math.isclose(ours, official, rel_tol=1e-12) if numbers else ours == official


@pytest.mark.parametrize('table', ['main_T3', 'supp_T4', 'supp_T5'])
def test_every_run_cell_has_its_official_recipe(table):
    assert set(resolved(table)) == {k[1:] for k in OFFICIAL if k[0] == table}


@pytest.mark.parametrize('key', sorted(OFFICIAL, key=str), ids=lambda k: '-'.join(k))
def test_resolved_cell_equals_the_official_recipe(key):
    ours = resolved(key[0])[key[1:]]
    wrong = []
    for field, entry in OFFICIAL[key].items():
        value, where = expected(entry)
        mine = ours.get(field, 'missing')
        if not same(mine, value): wrong.append(f'{field}: official {value!r} ({where}), ours {mine!r}')
    assert not wrong, '\n'.join(wrong)


def test_ctkd_on_imagenet_reverses_the_full_gradient_from_epoch_5():
    "CTKD's CosineDecay(0, -1, 5) (train_student.py:195-202, scripts/run_imagenet_distill.sh:25), epoch by epoch."
    from zscore_kd.losses import ctkd_lambda
    top, bottom, loops = 0, -1, 5
    official = lambda i: (math.cos(min(max(i, 0), loops) * math.pi / loops) + 1.0) * 0.5 * (top - bottom) + bottom
    cells = [k[1:] for k in OFFICIAL if k[0] == 'main_T3' and 'CTKD' in k[-1]]
    assert len(cells) == 4
    for cell in cells:
        m = resolved('main_T3')[cell]
        args = [m[f'method.{k}'] for k in ('decay_max', 'decay_min', 'decay_loops', 'cosine_decay')]
        ours = [ctkd_lambda(e, *args) for e in range(1, 121)]
        assert ours == pytest.approx([official(e) for e in range(1, 121)], abs=1e-12)
        assert ours[3] > -1 and ours[4:] == [-1.0] * 116  # full reversal from epoch 5 on


def test_atkd_runs_centred_and_the_uncentred_variant_is_one_argument_away(tmp_path):
    from zscore_kd.runs import resolve_config, build_method
    kw = dict(method='atkd', teacher='wrn_40_2', student='wrn_16_2', preset='paper', device='cpu',
              out_dir=str(tmp_path))
    assert build_method(resolve_config(**kw)).hparams['centered'] is True
    uncentred = resolve_config(**kw, method_args={'centered': False})
    assert build_method(uncentred).hparams['centered'] is False
    assert (uncentred.method_args['multiplier'], uncentred.method_args['centered']) == (2, False)  # the recipe stays


OPEN = {'takd': ("the KL's reduction",), 'pt_loss': ('M and epsilon',), 'kd': ('tau and weight of plain KD',)}


def test_each_value_the_source_leaves_open_says_so_and_what_was_chosen():
    from zscore_kd.recipes import load_csv
    rows = [r for r in load_csv('recipes.csv') if r['method'] in ('takd', 'pt_loss')
            or (r['method'] == 'kd' and r['optimizer'] == 'adamw' and r['logit_stand'] == 'none')]
    assert len(rows) == 16  # 6 TAKD, 6 PT-Loss, 4 ViT KD
    for r in rows:
        for what in OPEN[r['method']]:
            assert f'open in the source: {what}' in r['note'] and 'chosen:' in r['note'], r
    column1 = [r for r in rows if r['method'] == 'takd' and r['teacher'] == 'vgg13']
    assert "open in the source: column 1's TA" in column1[0]['note']


# the reference trains the ResNet-56 teacher with its own recipe (LS tiny-transformers/ has the same files as TT);
# no weights were released
R56, PYCLS = 'TT configs/resnet/r-56_c100.yaml', 'TT pycls/core/config.py'
VIT_TEACHER = {'epochs': (300, f'{R56}:12'), 'batch_size': (128, f'{R56}:19'), 'lr': (0.1, f'{R56}:10'),
               'weight_decay': (5e-4, f'{R56}:15'), 'momentum': (0.9, f'{R56}:13'),
               'lr_decay_epochs': ((), f'{R56}:11 (LR_POLICY cos)'), 'warmup_epochs': (0, f'{PYCLS}:177'),
               'min_lr': (0.0, f'{PYCLS}:140')}


@pytest.mark.parametrize('student', sorted(VIT))
def test_the_vit_students_teacher_trains_with_the_references_recipe(student):
    teacher = resolved('supp_T4')[('resnet56', student, 'KD')]['teacher_run']
    got = lambda k: getattr(teacher, k) if getattr(teacher, k) is not None else 0  # None: no warm-up, no floor
    wrong = [f'{k}: {v} ({w}), ours {got(k)!r}' for k, (v, w) in VIT_TEACHER.items() if not same(got(k), v)]
    assert not wrong, '\n'.join(wrong)

"""Faults a careless user meets, each ending in one clear sentence or a correct recovery, with nothing poisoned left.

The probe: every case below is a test here (tiny synthetic data, resnet8, one or two epochs). "Says" is a part of the
one sentence the user gets; "recovers" is what happens instead of an error; every training case then checks that the
run folders hold no temporary file, no non-finite tensor and no unreadable JSON (`assert_nothing_poisoned`).

Each case: what is done → what the user is told, or how it recovers.

- 1-9: papermill parameters: a typo (`-p epoch 3`, `-p taus 4`), `epochs 0`, `compile yes`, a dict that does not
  parse, a bad synthetic knob given as text, an unknown table, a typo in a `train_args` key, `bins 0` (more rules:
  `01a_params`) → the parameter, the rule it breaks, the closest known name; nothing written
- 10: dicts and lists as text (`-p data_args "{'n_train': 256}"`, `-p lr_decay_epochs "[1]"`), `deterministic`,
  `momentum 0.0` → they work, and explicit values are kept
- 11-19: CIFAR-100 pickles that load but hold float pixels, rows of 1024 bytes, one label too few, coarse labels of
  another length, shifted, negative or float labels, a class never trained, all-black images → the file and what is
  wrong with it, and the fix that works (delete the folder, load again)
- 20: a truncated `cifar-100-python.tar.gz` placed by hand → "is there but is not the official archive"
- 21: wrong labels through `10_train` → the file's sentence, before any checkpoint
- 22-23: a BatchNorm buffer overflows in epoch 2 (finite loss); `lr=1e5` diverges in epoch 1 → the tensor, and the
  truth about what is kept (epoch 1's files / nothing)
- 24-25: the teacher file or the CIFAR-100 files replaced after a run finished → refused, naming the file, with both
  ways out; `force_reuse=True` reuses
- 26: a truncated `checkpoint.pt` → said, and the run restarts from epoch 0 (same result)
- 27: truncated `result.json` and `metrics.jsonl` → history read from the checkpoint; the result rewritten from it
- 28: the synthetic teacher's file deleted, then truncated → rebuilt from its run, byte for byte
- 29: temporary files of a killed write in a run folder → removed on the next run, which says "resuming … from epoch 1
  of 2"
- 30-32: a second process holds the run's lock; its holder is killed with SIGKILL; a lock asked for without waiting →
  waits, naming the holder; taken over; the holder's pid in one sentence
- 33-37: `out_dir` is a file; disk full, permission denied, read-only file system; a full disk inside `torch.save` →
  one sentence each ("the disk is full")
- 38: truncated `student_best.pth` / `student_final.pth` → best: cannot be rebuilt, use final; final: the advice,
  followed literally, works
- 39-41: divergence, `out_dir` a file, a changed teacher (then `-p force_reuse True`) through papermill → the same
  sentences in the notebook

A truncated teacher-logit cache (rebuilt, and said) is checked in `nbs/04d_cache.ipynb`; a kill -9 after an epoch and
the bit-identical resume in `tests/test_train.py`.
"""
import ast, json, os, pickle, re, signal, subprocess, sys, time, warnings
from importlib import import_module
from pathlib import Path

import numpy as np
import papermill as pm
import pytest
import torch

from zscore_kd.checkpoints import save_teacher, teacher_path
from zscore_kd.weights import first_nonfinite
from zscore_kd.cifar100 import load_cifar100, read_cifar_pickle, save_cifar100
from zscore_kd.images import make_synthetic
from zscore_kd.files import FolderLock, StorageError
from zscore_kd.models import get_model
from zscore_kd.runs import resolve_config
from zscore_kd.rundir import RunDir
from zscore_kd.lineage import teacher_config
from zscore_kd.train import Learner, TrainingDiverged, fit

NBS = Path(__file__).resolve().parents[1] / 'nbs'
ENTRY = ('10_train', '20_reproduce', '21_figures', '30_explore')
pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def one_sentence(msg: str) -> bool:
    "One sentence: ends with a full stop and no full stop inside is followed by a capital (a second sentence)."
    return msg.rstrip().endswith('.') and not re.search(r'[a-z0-9)]\. +[A-Z]', msg.rstrip()[:-1])


def papermill(tmp_path, notebook, **params):
    "Run an entry notebook headless as a user would, from nbs/; returns the executed notebook."
    out = tmp_path / f'{notebook}.out.ipynb'
    pm.execute_notebook(str(NBS / f'{notebook}.ipynb'), str(out), parameters=params, kernel_name='python3',
                        cwd=str(NBS),
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
    "Names the notebook checks: its `check_parameters(globals(), ...)` keywords, or the command line's table."
    nb = json.loads((NBS / f'{notebook}.ipynb').read_text())
    calls = [n for c in nb['cells'] if c['cell_type'] == 'code' for n in ast.walk(ast.parse(''.join(c['source'])))
             if isinstance(n, ast.Call) and getattr(n.func, 'id', None) in ('check_parameters', 'notebook_request')]
    assert len(calls) == 1, f'{notebook} must check its parameters exactly once'
    if calls[0].func.id == 'notebook_request': return list(import_module('zscore_kd.cli').parameters())
    return [k.arg for k in calls[0].keywords if k.arg]


@pytest.mark.parametrize('notebook', ENTRY)
def test_every_parameter_has_a_rule(notebook):
    assert checked_names(notebook) == parameter_names(notebook)


def test_train_notebook_exposes_the_run_settings_a_user_needs():
    optimizer_knobs = {'deterministic', 'lr_decay_epochs', 'lr_decay_rate', 'momentum', 'weight_decay'}
    assert optimizer_knobs <= set(parameter_names('10_train'))


TINY = dict(epochs=1, teacher_epochs=1, data_args={'n_train': 256, 'n_test': 128}, device='cpu')

# (case, notebook, parameters, words of the one sentence)
PARAMETER_CASES = [
    ('typo in a name', '10_train', dict(epoch=3), "Unknown parameter 'epoch' (did you mean 'epochs'?)"),
    ('explicit 0 is not the default', '10_train', dict(epochs=0), 'Parameter epochs must be an integer >= 1'),
    ('a word for a flag', '10_train', dict(compile='yes'),
     "Parameter compile must be True or False or None (the default), got 'yes'"),
    ('a dict that does not parse', '10_train', dict(method_args='{beta: [1'), 'Parameter method_args must be a dict'),
    ('bad synthetic knob as text', '10_train', {**TINY, 'data_args': "{'n_train': 10.5}"},
     'Synthetic data knob n_train must be an integer >= 0, got 10.5'),
    ('unknown table', '20_reproduce', dict(table='main_T9'), "got 'main_T9' (str) (did you mean"),
    ('typo in a train_args key', '20_reproduce', dict(train_args={'precison': 'bf16'}),
     "unknown key 'precison' (did you mean 'precision'?)"),
    ('zero histogram bins', '21_figures', dict(bins=0), 'Parameter bins must be an integer >= 2 or None'),
    ('typo in explore', '30_explore', dict(taus=4), "Unknown parameter 'taus' (did you mean 'tau'?)"),
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
    result = json.loads(next((tmp_path / 'runs').glob('kd+zscore-resnet8-resnet8-*/result.json')).read_text())
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
    ('one label too few', 'train', lambda s: dict(fine_labels=labels(s)[:-1]),
     "train holds 300 images (rows of 'data') but 299 'fine_labels'"),
    ('coarse labels of another length', 'test', lambda s: dict(coarse_labels=[0] * 300),
     "test holds 100 images (rows of 'data') but 300 'coarse_labels'"),
    ('labels shifted by one', 'test', lambda s: dict(fine_labels=[l + 1 for l in labels(s, 'test')]),
     'test holds fine_labels 1..100 but meta names 100'),
    ('negative label', 'train', lambda s: dict(fine_labels=[-1] + labels(s)[1:]), 'train holds fine_labels -1..99'),
    ('float labels', 'train', lambda s: dict(fine_labels=[l + 0.5 for l in labels(s)]),
     "train holds 'fine_labels' of dtype float64"),
    ('a class never trained', 'train', lambda s: dict(fine_labels=[4 if l == 3 else l for l in labels(s)]),
     'no image of 1 of the 100 classes (e.g. class 3)'),
    ('all-black images', 'train', lambda s: dict(data=np.zeros((300, 3072), np.uint8)),
     'holds images whose every pixel is 0'),
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
    offline = lambda *a, **k: (_ for _ in ()).throw(OSError('offline'))
    monkeypatch.setattr(tv_cifar, 'download_and_extract_archive', offline)
    (tmp_path / 'cifar-100-python.tar.gz').write_bytes(b'half a download')
    with pytest.raises(FileNotFoundError) as e: load_cifar100(tmp_path)
    assert 'is there but is not the official archive' in str(e.value) and one_sentence(str(e.value))


def test_wrong_content_stops_the_train_notebook_before_any_work(tmp_path, small):
    damaged_cifar(tmp_path / 'data', small, fine_labels=[l + 1 for l in labels(small)])
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), dataset='cifar100',
                  data_root=str(tmp_path / 'data'),
                  teacher_root=str(tmp_path / 'teachers'), epochs=1, device='cpu')
    assert 'train holds fine_labels 1..100' in e.value.evalue and one_sentence(e.value.evalue)
    assert not list((tmp_path / 'runs').glob('*/checkpoint.pt'))


# ---------------------------------------------------------------- training faults (run folders)

RUN = dict(method='kd', teacher='resnet8', student='resnet8', epochs=2, teacher_epochs=1, device='cpu',
           data_args=dict(n_train=200, n_test=100))


def config(tmp_path, **changes):
    return resolve_config(**{**RUN, 'out_dir': str(tmp_path / 'runs'), **changes})


def assert_nothing_poisoned(runs: Path):
    "Every tensor file under runs/ loads and is finite, every JSON parses, and no temporary file is left."
    assert not [p for p in runs.rglob('.*.tmp')], 'a temporary file was left behind'
    for p in runs.rglob('*.p[ty]*'):
        if p.suffix in ('.pt', '.pth'):
            state = torch.load(p, map_location='cpu', weights_only=True)
            assert first_nonfinite(state) is None, f'{p} holds non-finite values'
    for p in runs.rglob('*.json'): json.loads(p.read_text())
    for p in runs.rglob('metrics.jsonl'):
        for line in p.read_text().splitlines():
            assert all(v == v and abs(v) != float('inf') for v in json.loads(line).values()
                       if isinstance(v, float)), f'{p}: {line}'


def test_divergence_keeps_only_finite_state_and_says_what_is_kept(tmp_path, monkeypatch):
    "A BatchNorm running variance overflows in epoch 2 while the loss stays finite: epoch 1's files stay, and say so."
    c = config(tmp_path)
    begin = Learner.begin_epoch
    def poison(self, epoch):
        begin(self, epoch)
        if epoch == 2 and self.c.method == 'kd': self.model.bn1.running_var.fill_(float('inf'))
    monkeypatch.setattr(Learner, 'begin_epoch', poison)
    with pytest.raises(TrainingDiverged) as e: fit(c, progress=False)
    msg = str(e.value)
    assert ('epoch 2' in msg and 'model.bn1.running_var' in msg and 'its checkpoint of epoch 1 is kept' in msg
            and one_sentence(msg)), msg
    run = RunDir(c)
    assert torch.load(run.path / 'checkpoint.pt', weights_only=True)['epoch'] == 1 and len(run.history()) == 1
    assert not (run.path / 'result.json').exists()
    assert_nothing_poisoned(tmp_path / 'runs')


def test_divergence_in_the_first_epoch_says_nothing_was_kept(tmp_path):
    c = config(tmp_path, lr=1e5, epochs=1)
    with pytest.raises(TrainingDiverged) as e: fit(c, progress=False)
    assert 'no epoch had been saved yet' in str(e.value) and 'epoch 0' not in str(e.value), str(e.value)
    assert not (RunDir(c).path / 'checkpoint.pt').exists() and not (RunDir(c).path / 'student_best.pth').exists()
    assert_nothing_poisoned(tmp_path / 'runs')


def test_changed_teacher_file_is_refused_then_forced(tmp_path):
    c = config(tmp_path, epochs=1)
    first = fit(c, progress=False)
    tfile = teacher_path('resnet8', RunDir(teacher_config(c)).path / 'teacher')
    torch.manual_seed(5); save_teacher(get_model('resnet8'), 'resnet8', tfile.parents[1])   # another teacher, same path
    with pytest.raises(ValueError) as e: fit(c, progress=False)
    msg = str(e.value)
    assert ('teacher' in msg and str(tfile) in msg and 'force_reuse=True' in msg and f'delete {RunDir(c).path}' in msg
            and one_sentence(msg))
    assert fit(c, progress=False, force_reuse=True) == first


def test_changed_dataset_file_is_refused(tmp_path):
    data = tmp_path / 'data'
    save_cifar100(make_synthetic(n_train=200, n_test=100, seed=1), data)
    torch.manual_seed(0); save_teacher(get_model('resnet8'), 'resnet8', tmp_path / 'teachers')
    c = config(tmp_path, dataset='cifar100', data_root=str(data), teacher_root=str(tmp_path / 'teachers'), data_args={},
               epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore'); fit(c, progress=False)
        save_cifar100(make_synthetic(n_train=200, n_test=100, seed=2), data)            # other images, same names
        with pytest.raises(ValueError) as e: fit(c, progress=False)
    assert 'cifar-100-python/train' in str(e.value) and one_sentence(str(e.value)), str(e.value)


def truncate(path: Path): path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_corrupt_checkpoint_restarts_the_run_and_says_so(tmp_path):
    c = config(tmp_path)
    ref = fit(c, progress=False)
    run = RunDir(c)
    (run.path / 'result.json').unlink(); truncate(run.path / 'checkpoint.pt')
    with pytest.warns(UserWarning, match='checkpoint.pt is unreadable .*restarting'):
        again = fit(c, progress=False)
    # trained again from scratch, same result
    assert again['final'] == ref['final'] and again['best'] == ref['best']
    assert_nothing_poisoned(tmp_path / 'runs')


def test_corrupt_result_and_metrics_are_rewritten_from_the_checkpoint(tmp_path):
    c = config(tmp_path)
    ref = fit(c, progress=False)
    run = RunDir(c)
    truncate(run.path / 'result.json'); (run.path / 'metrics.jsonl').write_text('{"epoch": 1, "test_to')
    with pytest.warns(UserWarning, match='metrics.jsonl is unreadable'):
        assert [h['epoch'] for h in run.history()] == [1, 2]
    again = fit(c, progress=False)
    assert again['final'] == ref['final'] and again['best'] == ref['best'] and run.finished
    assert [h['epoch'] for h in run.history()] == [1, 2]


def test_missing_or_corrupt_synthetic_teacher_is_retrained(tmp_path):
    c = config(tmp_path, epochs=1)
    fit(c, progress=False)
    tfile = teacher_path('resnet8', RunDir(teacher_config(c)).path / 'teacher')
    original = tfile.read_bytes()
    student = resolve_config(c, seed=1)
    tfile.unlink()
    with pytest.warns(UserWarning, match='rebuilding it'): fit(student, progress=False)
    # rebuilt from its run: the same weights
    assert tfile.read_bytes() == original
    truncate(tfile)
    with pytest.warns(UserWarning, match='rebuilding it'): fit(resolve_config(c, seed=2), progress=False)
    assert tfile.read_bytes() == original


def test_temp_files_of_a_killed_write_are_removed_and_resume_says_so(tmp_path, monkeypatch, capsys):
    c = config(tmp_path)
    run = RunDir(c)
    begin = Learner.begin_epoch
    def stop(self, epoch):                                       # leave c at epoch 1 of 2: a poisoned epoch 2 stops it
        begin(self, epoch)
        if epoch == 2: self.model.bn1.running_var.fill_(float('nan'))
    with monkeypatch.context() as m:
        m.setattr(Learner, 'begin_epoch', stop)
        with pytest.raises(TrainingDiverged): fit(c, progress=False)
    (run.path / '.checkpoint.pt.x1y2z3.tmp').write_bytes(b'half of a checkpoint')   # what kill -9 during a write leaves
    (run.path / '.student_best.pth.a8b9c0.tmp').write_bytes(b'half of a student')
    capsys.readouterr()
    fit(c, progress=False)
    assert f'resuming {run.path.name} from epoch 1 of 2' in capsys.readouterr().out
    assert not list((tmp_path / 'runs').rglob('.*.tmp'))
    assert_nothing_poisoned(tmp_path / 'runs')


HOLD = ("import sys, time; from zscore_kd.files import FolderLock; "
        "lock = FolderLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(float(sys.argv[2])); "
        "lock.release()")


def hold_lock(folder, seconds):
    "A separate process that holds `folder`'s lock for `seconds`."
    p = subprocess.Popen([sys.executable, '-c', HOLD, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == 'held'
    return p


def test_second_run_waits_for_the_first_and_says_who_holds_it(tmp_path, capsys):
    c = config(tmp_path, method='vanilla', epochs=1)
    holder = hold_lock(RunDir(c).path, 2)
    start = time.time(); fit(c, progress=False)
    assert time.time() - start >= 1.5, 'did not wait for the lock'
    assert f'is being written by process {holder.pid}' in capsys.readouterr().out
    holder.wait()
    assert not list((tmp_path / 'runs').glob('.*.lock')), 'a lock file was left behind'


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    c = config(tmp_path, method='vanilla', epochs=1)
    holder = hold_lock(RunDir(c).path, 60)
    os.kill(holder.pid, signal.SIGKILL); holder.wait()
    start = time.time(); fit(c, progress=False)
    assert time.time() - start < 30 and RunDir(c).finished


def test_lock_without_waiting_names_the_holder(tmp_path):
    holder = hold_lock(tmp_path / 'runs' / 'kd-resnet8-abc', 30)
    try:
        with pytest.raises(RuntimeError, match=f'is being written by process {holder.pid} on '):
            FolderLock(tmp_path / 'runs' / 'kd-resnet8-abc').acquire(wait=False)
    finally: holder.kill(); holder.wait()


def test_out_dir_that_is_a_file_is_one_sentence(tmp_path):
    (tmp_path / 'runs').write_text('not a folder')
    with pytest.raises(ValueError, match='is a file, not a folder'): config(tmp_path)


@pytest.mark.parametrize('fault, words', [
    (lambda: OSError(28, 'No space left on device'), 'the disk is full; free some space'),
    (lambda: PermissionError(13, 'Permission denied'), 'permission is denied'),
    (lambda: OSError(30, 'Read-only file system'), 'the file system is read-only'),
])
def test_storage_faults_are_one_sentence(tmp_path, monkeypatch, fault, words):
    c = config(tmp_path, method='vanilla', epochs=1)
    def fail(*a, **k): raise fault()
    monkeypatch.setattr(torch, 'save', fail)
    with pytest.raises(StorageError) as e: fit(c, progress=False)
    assert words in str(e.value) and one_sentence(str(e.value)), str(e.value)
    assert_nothing_poisoned(tmp_path / 'runs')


def test_disk_full_inside_torch_save_is_named(tmp_path, monkeypatch):
    "torch.save to a path reports a full disk as a RuntimeError from its zip writer; the free space tells."
    import zscore_kd.files as files
    c = config(tmp_path, method='vanilla', epochs=1)
    def fail(*a, **k): raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598')
    monkeypatch.setattr(torch, 'save', fail); monkeypatch.setattr(files, 'free_bytes', lambda path: 4096)
    with pytest.raises(StorageError, match='the disk is full'): fit(c, progress=False)


def test_damaged_student_weights_say_what_works(tmp_path):
    from zscore_kd.analysis import load_run
    c = config(tmp_path, epochs=1)
    fit(c, progress=False)
    run = RunDir(c)
    truncate(run.path / 'student_best.pth')
    with pytest.raises(ValueError, match="cannot be rebuilt .*use which='final'"): load_run(run.path)
    truncate(run.path / 'student_final.pth')
    with pytest.raises(ValueError) as e: load_run(run.path, which='final')
    assert (f"delete {run.path / 'result.json'} and run the same command again" in str(e.value)
            and one_sentence(str(e.value)))
    (run.path / 'result.json').unlink(); fit(c, progress=False)                    # the advice, followed literally
    assert load_run(run.path, which='final').student is not None


# ---------------------------------------------------------------- the same faults through papermill
def test_papermill_divergence_is_one_true_sentence(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), **{**TINY, 'lr': 1e5})
    assert e.value.ename == 'TrainingDiverged' and 'no epoch had been saved yet' in e.value.evalue, e.value.evalue
    assert_nothing_poisoned(tmp_path / 'runs')


def test_papermill_out_dir_that_is_a_file(tmp_path):
    (tmp_path / 'runs').write_text('a file')
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), **TINY)
    assert 'is a file, not a folder' in e.value.evalue and one_sentence(e.value.evalue)


def test_papermill_refuses_a_run_whose_teacher_changed_unless_forced(tmp_path):
    fit(method='kd', logit_stand=True, teacher='resnet8', student='resnet8', out_dir=str(tmp_path / 'runs'),
        progress=False,
        **TINY)                                                 # the run the notebook's parameters name, trained here
    tfile = next((tmp_path / 'runs').glob('vanilla-resnet8-*/teacher/resnet8_vanilla/ckpt_epoch_240.pth'))
    torch.manual_seed(3); save_teacher(get_model('resnet8'), 'resnet8', tfile.parents[1])
    with pytest.raises(pm.PapermillExecutionError) as e:
        papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), **TINY)
    assert 'was made from another teacher checkpoint' in e.value.evalue and '-p force_reuse True' in e.value.evalue
    papermill(tmp_path, '10_train', out_dir=str(tmp_path / 'runs'), force_reuse=True, **TINY)

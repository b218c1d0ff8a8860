"""Run folders that are shared, damaged or reused: nothing lost, nothing stale, every fault one sentence (Python API,
command line, torchrun with two CPU processes, papermill).

Permissions are tested as another user, as in `tests/test_input_faults.py`: a forked child drops to `nobody`. The
shared folder is made under umask 000 (a group that shares `runs/`), so another user could delete what it cannot read.

Probe of 36 fault cases on these surfaces, one line each: the case -> what happens now (one sentence, or the recovery).
 1. result.json of root 0600 in a shared runs/, nobody reruns: was taken for damage, run retrained over root's files
    -> "Cannot read …/result.json: it belongs to root (mode -rw-------) …", every file left as it was
 2. checkpoint.pt of root 0600 of a partial run, nobody reruns: "unreadable; restarting", root's files deleted -> the
    owner's sentence naming checkpoint.pt, nothing deleted
 3. metrics.jsonl of root 0600, nobody reruns -> the owner's sentence; nothing deleted or overwritten
 4. inputs.json of root 0600, nobody reruns a finished run: the check was skipped -> the owner's sentence
 5. the same through `python -m zscore_kd` as nobody -> one `error:` line naming the file and its owner, status 2
    (`main` let an UnreadableError through: a traceback)
 6. registry() as nobody, result.json and metrics.jsonl private: raw PermissionError -> a row with status 'unreadable'
 7. history() as nobody, metrics.jsonl private: raw PermissionError -> the owner's sentence
 8. teacher-logit cache of root 0600, nobody distils: rebuilt and renamed over root's file -> the owner's sentence
 9. ImageNet run, one JPEG replaced in place after it finished: reused silently -> "was made from another dataset tree"
10. ImageNet run, an image's date moved (`touch`), same bytes: reused -> refused too (the cheap fingerprint reads no
    image); force_reuse=True reuses it; the image's date put back: reused without a word
11. ImageNet run, torchvision's cached teacher file replaced: refused, naming the file (kept working)
12. ViT run (pit_ti) from a ResNet-56 file in mdistiller's {'model': …} layout: loads; the file replaced -> refused
13. inputs.json garbled after a KD run finished, then its teacher replaced: reused with the other teacher ->
    "inputs.json is damaged, so whether … is unknown", with both ways out
14. inputs.json deleted, emptied to [], or holding a fingerprint without its fields (KeyError) -> the same sentence
15. inputs.json lacking an input the run reads -> "records no teacher checkpoint, so whether … is unknown"
16. a run killed before its first epoch (config.json, inputs.json lacking the teacher) -> trains: nothing to reuse
17. `--force-reuse` (or `--force_reuse True`) on the command line after a garbled inputs.json -> reused, status 0
18. result.json holding []: registry 'partial' with final_top1 [], fit returned [] as the run's result -> registry
    'damaged' (accuracies None), `finished` False, fit says so and writes it again from the checkpoint (same numbers)
19. result.json with "final": null: registry crashed (TypeError), fit returned it -> the same as 18
20. result.json copied from another run (another hash): a finished run with its numbers -> the same as 18
21. result.json whose best top-1 is the string '71.2': a finished run -> the same as 18
22. metrics.jsonl deleted from a finished run: history() == [] forever -> read from the checkpoint (a warning), and the
    next run of the command writes it again, byte for byte
23. metrics.jsonl holding epochs 1 and 3 -> read from the checkpoint, said
24. metrics.jsonl and checkpoint.pt both deleted from a finished run: [] -> one sentence naming metrics.jsonl
25. student_best.pth copied over checkpoint.pt: "unreadable; restarting" and the run's files deleted -> "is not a
    checkpoint of this trainer (it lacks 'best', …)", the file kept
26. checkpoint.pt of a resnet14 run copied into a resnet8 run: "resuming … from epoch 2", then RuntimeError from
    load_state_dict on every rerun -> "does not fit … (model: …): … delete it to train the run from epoch 0" before
    anything is said about resuming; following that advice trains the run
27. the same checkpoint under `--gpus 2` (torchrun, two CPU processes): two tracebacks and torchrun's report -> one
    `error:` line with the sentence, exit status 2, no traceback
28. a finished run asked for again (fit, the command line): its old wall time printed as if just trained -> "<run> is
    already trained (finished <date>: 2 epochs in N s on <hardware>); reusing its result: delete <folder> …"
29. a run of 2 processes (partial) asked for on 1 process: silently trained from epoch 0 -> the same training, after one
    line naming the 2-process folder and how far it got
30. the same run at another seed beside it -> no such line (another run)
31. vanilla with teacher='resnet56' and teacher_checkpoint: "set teacher='resnet56', got None" -> "method vanilla
    trains without a teacher, so teacher_checkpoint is not used; …" (Python and command line)
32. CIFAR teacher file saved as {'model': state_dict} (mdistiller) and {'model': …, 'epoch'}: loads
33. 20_reproduce with ZSCORE_KD_HOME set and papermill's --cwd nbs: tables and commands.sh in nbs/runs/tables -> in
    $ZSCORE_KD_HOME/runs/tables, beside the runs
34. ImageNet run's result.json: no word on the JPEG decoder -> "decoded_by": {"train": "cpu", "val": "cpu"} (device
    loader on a CPU; "pil" for the classic loader)
35. command line: `--epoch 3`, `--epochs 0`, `--speed fats` -> one `error:` line each (no prefix completion, the closest
    option or value named), exit status 2; `--out-dir 2024` trains into the folder 2024 under the home
36. a truncated checkpoint.pt (proven corrupt) -> still said and rebuilt from epoch 0 by the folder's writer, the same
    result (tests/test_faults.py)
"""
import contextlib, dataclasses, io, json, os, shutil, subprocess, sys
from pathlib import Path

import papermill as pm
import pytest
import torch, torchvision

from zscore_kd.cache import TeacherCache
from zscore_kd.checkpoints import load_teacher, save_teacher, teacher_path
from zscore_kd.cli import main
from zscore_kd.imagefolder import make_imagefolder
from zscore_kd.lineage import teacher_config
from zscore_kd.models import get_model
from zscore_kd.models.imagenet import teacher_file
from zscore_kd.models.vit import load_resnet56_teacher
from zscore_kd.rundir import RunDir, registry, write_json
from zscore_kd.runs import resolve_config
from zscore_kd.train import fit
from test_input_faults import as_nobody, as_root, one_sentence, shared  # noqa: F401 (shared: a fixture)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py
TINY = dict(student='resnet8', epochs=2, device='cpu', data_args=dict(n_train=128, n_test=64))


def vanilla(out, **changes): return resolve_config(**{'method': 'vanilla', **TINY, 'out_dir': str(out), **changes})


def kd(out, **changes): return vanilla(out, method='kd', teacher='resnet8', teacher_epochs=1, **changes)


def files_of(folder: Path) -> dict:
    "Every file under `folder` -> (bytes, modification time): what must not change."
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob('*')) if p.is_file()}


def cli(args: list) -> tuple:
    "`python -m zscore_kd args` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: code = main(args)
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()


def cli_args(c) -> list:
    "The command-line words of the tiny vanilla run `c`."
    return ['--method', c.method, '--student', c.student, '--epochs', str(c.epochs), '--device', 'cpu',
            '--data-args', json.dumps(dict(c.data_args)), '--out-dir', c.out_dir]


def error_lines(text: str) -> list: return [l for l in text.splitlines() if 'error: ' in l]


# --- A shared runs/ folder: a file another user may not read is never damage ------------------------------------

@pytest.fixture
def umask000():
    old = os.umask(0o000)
    yield
    os.umask(old)


@as_root
@pytest.mark.parametrize('private, finished', [('result.json', True), ('inputs.json', True),
                                               ('checkpoint.pt', False), ('metrics.jsonl', False)])
def test_another_users_private_run_file_is_named_and_nothing_is_lost(shared, umask000, private, finished):
    c = vanilla(shared / 'runs')
    fit(c, progress=False)
    run = RunDir(c)
    if not finished: (run.path / 'result.json').unlink()
    os.chmod(run.path / private, 0o600)
    before = files_of(shared)
    kind, msg = as_nobody(lambda: fit(c, progress=False) and None)
    assert kind == 'UnreadableError' and one_sentence(msg), (kind, msg)
    assert msg.startswith(f'Cannot read {run.path / private}: it belongs to root (mode -rw-------)'), msg
    code, err = as_nobody(lambda: cli(cli_args(c))[::2])[1]
    assert code == 2 and error_lines(err) == [f'python -m zscore_kd: error: {msg}'], err
    assert files_of(shared) == before  # nothing deleted, overwritten or added


@as_root
def test_registry_history_and_teacher_cache_never_take_another_users_file_for_damage(shared, umask000):
    c = vanilla(shared / 'runs')
    fit(c, progress=False)
    run = RunDir(c)
    os.chmod(run.path / 'result.json', 0o600); os.chmod(run.path / 'metrics.jsonl', 0o600)
    kind, rows = as_nobody(lambda: [(r['folder'], r['status'], r['final_top1']) for r in registry(shared / 'runs')])
    assert (kind, rows) == ('ok', [(run.path.name, 'unreadable', None)])
    kind, msg = as_nobody(lambda: run.history())
    assert kind == 'UnreadableError' and msg.startswith(f"Cannot read {run.path / 'metrics.jsonl'}: it belongs to root")
    teacher, images = get_model('resnet8').eval(), torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    TeacherCache.load_or_build(teacher, images, shared / 'cache', progress=False)
    (table,) = (shared / 'cache').glob('*.pt'); os.chmod(table, 0o600)
    before = files_of(shared / 'cache')
    load = lambda: TeacherCache.load_or_build(teacher, images, shared / 'cache', progress=False) and None
    kind, msg = as_nobody(load)
    assert kind == 'UnreadableError' and msg.startswith(f'Cannot read {table}: it belongs to root'), msg
    assert files_of(shared / 'cache') == before


# --- Fingerprints of every input, and a damaged fingerprint file -----------------------------------------------

@pytest.fixture
def imagenet(tmp_path, monkeypatch):
    "A tiny ImageFolder tree and a 4-class ResNet34 teacher in a private torch cache; returns its run config."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    tree = make_imagefolder(tmp_path / 'tree', num_classes=4, n_train=4, n_val=2, size=(40, 30))
    teacher_file('ResNet34').parent.mkdir(parents=True)
    torch.manual_seed(0); torch.save(torchvision.models.resnet34(num_classes=4).state_dict(), teacher_file('ResNet34'))
    return resolve_config(method='kd', teacher='ResNet34', student='ResNet18', dataset='imagenet', data_root=str(tree),
                          data_args=dict(crop_size=32, workers=0, loader='device'), batch_size=8, epochs=1,
                          device='cpu', out_dir=str(tmp_path / 'runs'))


def test_imagenet_tree_and_teacher_are_fingerprinted(imagenet):
    c, tree = imagenet, Path(imagenet.data_root)
    first = fit(c, progress=False)
    assert set(json.loads((RunDir(c).path / 'inputs.json').read_text())) == {'teacher checkpoint', 'dataset tree'}
    image = sorted((tree / 'train').rglob('*.JPEG'))[0]
    original, stamp = image.read_bytes(), image.stat()
    image.write_bytes(sorted((tree / 'val').rglob('*.JPEG'))[0].read_bytes())  # another picture, same name
    with pytest.raises(ValueError) as e: fit(c, progress=False)
    assert one_sentence(str(e.value)) and str(e.value).startswith(
        f'{RunDir(c).path.name} was made from another dataset tree {tree} (its images, their sizes or dates differ')
    image.write_bytes(original); os.utime(image, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))  # touched
    with pytest.raises(ValueError, match='was made from another dataset tree'): fit(c, progress=False)
    assert fit(c, progress=False, force_reuse=True) == first
    os.utime(image, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert fit(c, progress=False) == first
    torch.manual_seed(1); torch.save(torchvision.models.resnet34(num_classes=4).state_dict(), teacher_file('ResNet34'))
    with pytest.raises(ValueError, match=f"another teacher checkpoint {teacher_file('ResNet34')} "):
        fit(c, progress=False)


def test_imagenet_result_names_the_decoder_that_ran(imagenet):
    assert fit(imagenet, progress=False)['decoded_by'] == {'train': 'cpu', 'val': 'cpu'}  # the device path on a CPU
    classic = resolve_config(imagenet, data_args=dict(crop_size=32, workers=0, loader='classic'))
    assert fit(classic, progress=False)['decoded_by'] == {'train': 'pil', 'val': 'pil'}
    assert 'decoded_by' not in fit(vanilla(Path(imagenet.out_dir), epochs=1), progress=False)  # not an ImageNet run


def test_vit_teacher_file_is_fingerprinted(tmp_path):
    pyth = tmp_path / 'resnet56.pth'
    torch.manual_seed(0); torch.save({'model': get_model('resnet56').state_dict(), 'epoch': 240}, pyth)  # mdistiller's
    c = resolve_config(method='kd', teacher='resnet56', teacher_checkpoint=str(pyth), student='pit_ti',
                       student_args={'img_size': 32}, epochs=1, batch_size=32, device='cpu',
                       data_args=dict(n_train=128, n_test=64), out_dir=str(tmp_path / 'runs'))
    first = fit(c, progress=False)
    assert json.loads((RunDir(c).path / 'inputs.json').read_text())['teacher checkpoint']['path'] == str(pyth)
    torch.manual_seed(1); torch.save({'model': get_model('resnet56').state_dict()}, pyth)
    with pytest.raises(ValueError, match=f'was made from another teacher checkpoint {pyth} '): fit(c, progress=False)
    assert fit(c, progress=False, force_reuse=True) == first


@pytest.mark.parametrize('damage, state', [('{"teacher checkpoint": {"path": ', 'damaged'), ('[]', 'damaged'),
                                           ('{"teacher checkpoint": {"path": "x"}}', 'damaged'), (None, 'missing')])
def test_a_damaged_fingerprint_file_fails_closed(tmp_path, damage, state):
    c = kd(tmp_path / 'runs', epochs=1)
    first = fit(c, progress=False)
    run, tfile = RunDir(c), teacher_path('resnet8', RunDir(teacher_config(c)).path / 'teacher')
    torch.manual_seed(7); save_teacher(get_model('resnet8'), 'resnet8', tfile.parents[1])  # the teacher changes too
    if damage is None: (run.path / 'inputs.json').unlink()
    else: (run.path / 'inputs.json').write_text(damage)
    with pytest.raises(ValueError) as e: fit(c, progress=False)
    msg = str(e.value)
    assert one_sentence(msg) and msg.startswith(f"{run.path / 'inputs.json'} is {state}, so whether {run.path.name} "
                                                f"was made from the current input files is unknown; delete {run.path}")
    assert 'force_reuse=True' in msg and '--force-reuse' in msg
    assert fit(c, progress=False, force_reuse=True) == first


def test_a_fingerprint_file_that_lacks_an_input_fails_closed_and_an_empty_start_does_not(tmp_path):
    c = kd(tmp_path / 'runs', epochs=1)
    fit(c, progress=False)
    run = RunDir(c)
    write_json(run.path / 'inputs.json', {})
    with pytest.raises(ValueError, match=r'inputs\.json records no teacher checkpoint, so whether'):
        fit(c, progress=False)
    for name in ('result.json', 'checkpoint.pt', 'metrics.jsonl', 'student_best.pth', 'student_final.pth'):
        (run.path / name).unlink()
    assert fit(c, progress=False)['final']['epoch'] == 1  # killed before its first epoch: nothing to reuse, trains


def test_command_line_force_reuse_after_a_damaged_fingerprint_file(tmp_path):
    c = kd(tmp_path / 'runs', epochs=1)
    args = cli_args(c) + ['--teacher', 'resnet8', '--teacher-epochs', '1']
    assert cli(args)[0] == 0
    (RunDir(c).path / 'inputs.json').write_text('{"garbled')
    code, out, err = cli(args)
    assert code == 2 and len(error_lines(err)) == 1 and 'inputs.json is damaged, so whether' in err, err
    for force in (['--force-reuse'], ['--force_reuse', 'True']):
        code, out, err = cli(args + force)
        assert code == 0 and json.loads(out.splitlines()[-1])['run_dir'] == str(RunDir(c).path), err


# --- Damaged run records ---------------------------------------------------------------------------------------

def test_a_result_of_the_wrong_shape_is_not_a_finished_run(tmp_path):
    c = vanilla(tmp_path / 'runs')
    first = fit(c, progress=False)
    run, f = RunDir(c), RunDir(c).path / 'result.json'
    shapes = {'a list': [], 'a null final': {**first, 'final': None}, "another run's": {**first, 'hash': '0' * 12},
              'a string top-1': {**first, 'best': {**first['best'], 'top1': '71.2'}}}
    for case, value in shapes.items():
        write_json(f, value)
        assert not run.finished, case
        assert [(r['status'], r['final_top1']) for r in registry(tmp_path / 'runs')] == [('damaged', None)], case
        with pytest.raises(ValueError, match='so .* is not finished; run the same command again'): run.result()
        with pytest.warns(UserWarning, match=r'result\.json .*; writing it again'): again = fit(c, progress=False)
        assert (again['final'], again['best'], again['epochs']) == (first['final'], first['best'], 2), case


def test_a_deleted_metrics_file_is_restored_from_the_checkpoint(tmp_path):
    c = vanilla(tmp_path / 'runs')
    fit(c, progress=False)
    run, f = RunDir(c), RunDir(c).path / 'metrics.jsonl'
    original = f.read_bytes(); f.unlink()
    with pytest.warns(UserWarning, match=r'metrics\.jsonl is missing; using the history saved in its checkpoint'):
        assert [h['epoch'] for h in run.history()] == [1, 2]
    assert not f.exists()  # a reader does not write
    with pytest.warns(UserWarning, match='written again from its checkpoint'): fit(c, progress=False)
    assert f.read_bytes() == original
    lines = original.decode().splitlines(); f.write_text(lines[0] + '\n' + lines[1].replace('"epoch": 2', '"epoch": 3'))
    with pytest.warns(UserWarning, match=r'does not hold epochs 1, 2, … in order; using the history'):
        assert [h['epoch'] for h in run.history()] == [1, 2]
    f.unlink(); (run.path / 'checkpoint.pt').unlink()
    with pytest.raises(ValueError) as e: run.history()
    assert one_sentence(str(e.value)) and str(e.value).startswith(f'{f} is missing and the checkpoint')


def test_a_foreign_checkpoint_is_named_and_kept(tmp_path):
    c = vanilla(tmp_path / 'runs')
    fit(c, progress=False)
    run = RunDir(c)
    (run.path / 'result.json').unlink()
    shutil.copy(run.path / 'student_best.pth', run.path / 'checkpoint.pt')
    before = files_of(run.path)
    with pytest.raises(ValueError) as e: fit(c, progress=False)
    assert one_sentence(str(e.value)) and str(e.value).startswith(
        f"{run.path / 'checkpoint.pt'} is not a checkpoint of this trainer (it lacks 'best', 'history'")
    assert json.loads((run.path / 'failed.json').read_text())['message'] == str(e.value)  # the failure, recorded
    assert {p: v for p, v in files_of(run.path).items() if p.name != 'failed.json'} == before


# --- A checkpoint that does not fit the run's model ------------------------------------------------------------

def plant_other_models_checkpoint(c) -> Path:
    "A resnet14 run's checkpoint, in the folder of the resnet8 run `c`: the model code changed since it was saved."
    other = resolve_config(c, student='resnet14', epochs=1, world_size=1)
    fit(other, progress=False)
    RunDir(c).path.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(RunDir(other).path / 'checkpoint.pt', RunDir(c).path / 'checkpoint.pt'))


def test_a_checkpoint_of_another_model_is_refused_before_resuming(tmp_path, capsys):
    c = vanilla(tmp_path / 'runs')
    ck = plant_other_models_checkpoint(c)
    before = ck.read_bytes(); capsys.readouterr()
    with pytest.raises(ValueError) as e: fit(c, progress=False)
    msg = str(e.value)
    assert one_sentence(msg) and msg.startswith(f"{ck} does not fit {RunDir(c).path.name} (model: ")
    assert 'delete it to train the run from epoch 0' in msg and 'resuming' not in capsys.readouterr().out
    assert ck.read_bytes() == before
    ck.unlink(); assert fit(c, progress=False)['final']['epoch'] == 2  # the advice, followed, works


def test_a_failing_rank_says_why_once_under_torchrun(tmp_path):
    "`--gpus 2`: two CPU processes both refuse the checkpoint; the launcher shows the sentence once, no traceback."
    c = vanilla(tmp_path / 'runs', world_size=2)
    ck = plant_other_models_checkpoint(c)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    out = subprocess.run([sys.executable, '-m', 'zscore_kd', *cli_args(c), '--gpus', '2'], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    (said,) = error_lines(text)
    assert out.returncode == 2 and said.startswith(f'python -m zscore_kd: error: {ck} does not fit '
                                                   f'{RunDir(c).path.name} (model: '), text[-3000:]
    assert 'Traceback' not in text and 'resuming' not in text and 'delete it to train the run from epoch 0' in said


# --- A reused run says so; another number of processes is named ------------------------------------------------

def test_a_reused_run_says_which_and_when(tmp_path, capsys):
    c = vanilla(tmp_path / 'runs')
    r = fit(c, progress=False); capsys.readouterr()
    assert fit(c, progress=False) == r
    line = (f"{RunDir(c).path.name} is already trained (finished {r['finished_at']}: 2 epochs in "
            f"{r['wall_time_s']:.0f} s on {r['env']['hardware']}); reusing its result: delete {RunDir(c).path} to "
            f"train it again")
    assert line in capsys.readouterr().out
    code, out, _ = cli(cli_args(c))
    assert code == 0 and line in out


def test_a_rerun_on_another_number_of_processes_names_the_earlier_run(tmp_path, capsys):
    two = RunDir(vanilla(tmp_path / 'runs', world_size=2))  # as a 2-process run leaves it after its first epoch
    write_json(two.path / 'config.json', {'hash': two.hash, **dataclasses.asdict(two.config), 'teacher_info': None})
    (two.path / 'metrics.jsonl').write_text(json.dumps(dict(epoch=1, train_loss=4.5, test_loss=4.6, test_top1=2.0,
                                                            test_top5=9.0)) + '\n')
    fit(vanilla(tmp_path / 'runs', seed=1), progress=False)
    assert 'process(es)' not in capsys.readouterr().out  # another seed: another run
    one = fit(vanilla(tmp_path / 'runs'), progress=False)
    assert one['world_size'] == 1 and one['final']['epoch'] == 2
    assert (f'trains from epoch 0 on 1 process(es): the same run on 2 process(es) is {two.path} (1 of 2 epochs done), '
            f'a separate run because the world size changes the data order; launch it with --gpus 2') in \
        capsys.readouterr().out


# --- Advice that works ------------------------------------------------------------------------------------------

def test_vanilla_given_a_teacher_file_is_told_it_needs_none(tmp_path):
    pyth = tmp_path / 'model.pyth'; torch.save({'model_state': get_model('resnet56').state_dict()}, pyth)
    with pytest.raises(ValueError) as e:
        resolve_config(method='vanilla', teacher='resnet56', teacher_checkpoint=str(pyth), student='deit_ti')
    assert str(e.value) == ('method vanilla trains without a teacher, so teacher_checkpoint is not used; leave it '
                            'unset, or choose a method that distils (e.g. kd).')
    code, _, err = cli(['--method', 'vanilla', '--teacher', 'resnet56', '--teacher-checkpoint', str(pyth)])
    assert code == 2 and error_lines(err) == [f'python -m zscore_kd: error: {e.value}']


def test_mdistiller_checkpoint_dicts_load_as_teachers(tmp_path):
    model = get_model('resnet56').eval()
    path = teacher_path('resnet56', tmp_path); path.parent.mkdir()
    x = torch.randn(2, 3, 32, 32)
    for saved in ({'model': model.state_dict()}, {'model': model.state_dict(), 'epoch': 240, 'accuracy': 72.3}):
        torch.save(saved, path)
        with torch.no_grad():
            assert torch.equal(load_teacher('resnet56', tmp_path)(x), model(x))
            assert torch.equal(load_resnet56_teacher(path)(x), model(x))


# --- The command line's claims -----------------------------------------------------------------------------------

def test_command_line_mistakes_are_one_error_line_and_a_numeric_folder_works(tmp_path, monkeypatch):
    for args, words in ((['--epoch', '3'], "unrecognized option --epoch (did you mean '--epochs'?)"),
                        (['--epochs', '0'], 'argument --epochs: Parameter epochs must be an integer >= 1'),
                        (['--speed', 'fats'], "(did you mean 'fast'?)")):
        code, out, err = cli(args)
        assert code == 2 and len(error_lines(err)) == 1 and words in err and 'Traceback' not in err, err
    monkeypatch.setenv('ZSCORE_KD_HOME', str(tmp_path))
    args = cli_args(vanilla(tmp_path, epochs=1))[:-1] + ['2024']  # --out-dir 2024: a folder, not a number
    code, out, _ = cli(args)
    assert code == 0 and Path(json.loads(out.splitlines()[-1])['run_dir']).parent == tmp_path / '2024'


# --- 20_reproduce writes under the same home as the runs ---------------------------------------------------------

def test_reproduce_writes_tables_under_the_home_of_the_runs(tmp_path, monkeypatch):
    monkeypatch.setenv('ZSCORE_KD_HOME', str(tmp_path / 'home'))
    pm.execute_notebook(str(ROOT / 'nbs' / '20_reproduce.ipynb'), str(tmp_path / 'out.ipynb'), kernel_name='python3',
                        cwd=str(ROOT / 'nbs'), progress_bar=False, parameters=dict(run=False), execution_timeout=600)
    tables = tmp_path / 'home' / 'runs' / 'tables'
    assert (tables / 'main_T4_toy_commands.sh').is_file() and (tables / 'main_T4_toy.md').is_file()
    assert (tmp_path / 'home' / 'runs' / 'summary_main_T4_toy.md').is_file()

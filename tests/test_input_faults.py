"""Inputs checked before work starts, and files another user can share: ImageNet trees, ViT sizes, teachers' weights,
run files' permissions and stale locks (Python API).

Permissions are tested as another user: the tests run as root here, so a forked child drops to `nobody` (uid 65534)
with `os.setuid` and reports what it saw through a pipe; without root these tests are skipped (only root can play
two users). Root itself reads every file, so "root cannot read" is not a case that exists.

Probe of 37 fault cases on these surfaces, one line each: the case, what happened before -> what happens now.
 1. truncated val JPEG in the tree: raw decoder error in evaluation after an epoch -> load_imagefolder names it
 2. JPEG cut after the scan, classic loader, 2 workers: worker traceback naming no file -> one sentence naming it
 3. JPEG cut after the scan, device loader, evaluation: raw `decode_jpeg.cpp:171` RuntimeError -> the same sentence
 4. empty .JPEG file: torch.frombuffer ValueError in a worker mid-epoch -> named before any work
 5. HTML error page saved as .JPEG: decoder error mid-epoch -> named before any work
 6. macOS AppleDouble `._x.JPEG` beside images: UnidentifiedImageError mid-epoch -> skipped like .DS_Store
 7. .JPEG symbolic link that loops: raw OSError [Errno 40] -> one sentence naming the link
 8. class folder that is a symbolic link loop: raw OSError from find_classes -> one sentence naming it
 9. dangling .JPEG link (dataset store unmounted): silently left out of the data -> one sentence, link and target
10. JPEG with 200 bytes after its EOI (valid): trains -> still trains (byte check doubts it, PIL decodes it)
11. PNG under a .JPEG name, as in ImageNet: trains on both paths -> still does
12. 0600 JPEG of root, user nobody trains: raw PermissionError mid-epoch -> named with its owner before any work
13. nvJPEG failing on every file (simulated): silent CPU decoding -> CPU, one warning line, decoded_by == 'cpu'
14. deit_ti img_size=40: trains on a 2x2 grid dropping 8 px -> ValueError naming img_size, multiples of 16
15. t2t_vit_7 img_size=8: 1-row position table silently broadcast -> ValueError
16. t2t_vit_7 img_size=24: RuntimeError (size of tensor a (5) ...) at the first step -> ValueError
17. pit_ti img_size=30: trains on a 2x2 grid dropping 6 px -> ValueError naming multiples of 8 from 16
18. pvt_ti img_size=100: trains on stage grids 25/12/6/3 dropping pixels -> ValueError naming multiples of 32
19. pvt_ti img_size=16: RuntimeError (padded input size (4 x 4)) at the first step -> ValueError
20. pvt_ti img_size='224' (a string): TypeError from `//=` -> ValueError
21. resolve_config kd resnet56 -> deit_ti, img_size=40: resolved silently -> the constructor's ValueError unchanged
22. resolve_config kd resnet56 -> pvt_ti, img_size=16: resolved, crash at step 1 -> the same ValueError
23. torchvision ResNet18 teacher file with NaN: loaded and distilled -> ValueError naming file and tensor
24. that teacher as torchvision's train.py saves it, {'model': sd, ...}: "holds no state_dict" -> loads
25. that teacher as {'net': sd, 'epoch'}: "holds no state_dict" -> its keys and the expected ones
26. pycls ResNet-56 teacher with inf: loaded -> ValueError naming the file and head.fc.bias
27. ResNet-56 file that is a broken zip: torch's message cut at 80 characters -> whole sentence, type and size
28. ResNet-56 file holding resnet20 weights: torch's key listing cut at 120 characters -> "216 keys missing, e.g."
29. 0600 CIFAR teacher of root loaded by nobody: ValueError "corrupt" (rebuilt as damaged) -> UnreadableError
30. 0600 torchvision teacher of root loaded by nobody: "not a readable weights file" -> UnreadableError, owner
31. mode of a file atomic_write creates: 0600 whatever the umask -> 0644 under umask 022, 0664 under 002
32. result.json of root read by nobody: PermissionError -> readable
33. 0600 file of root, nobody asks if it is damaged: no way to tell -> check_readable raises the owner's sentence
34. stale lock of root's dead process, nobody runs: "choose a folder you can write to" -> rm <lock file>, named
35. live lock of root, nobody runs (wait=False): "permission is denied" -> "being written by process ..."
36. stale lock of root in sticky /tmp, nobody runs: "permission is denied" -> "ask root to remove it"
37. lock file of root's killed process made under umask 000, nobody runs: refused -> taken over
"""
import json, os, pickle, shutil, stat, tempfile, warnings
from pathlib import Path

import pytest
import torch, torchvision

from zscore_kd.checkpoints import load_teacher, save_teacher, teacher_path
from zscore_kd.files import FolderLock, atomic_write, file_fingerprint
from zscore_kd.imagefolder import FolderLoader, load_imagefolder, make_imagefolder
from zscore_kd.models import get_model
from zscore_kd.models.imagenet import load_imagenet_teacher, teacher_file
from zscore_kd.models.vit import load_resnet56_teacher, pycls_key
from zscore_kd.runs import resolve_config

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason='playing a second user (setuid) needs root')


def as_nobody(fn, *args):
    "Run `fn(*args)` in a forked child that dropped to user nobody: ('ok', result) or (exception type, message)."
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r); os.setgroups([]); os.setgid(NOBODY); os.setuid(NOBODY)
            try: out = ('ok', fn(*args))
            except BaseException as e: out = (type(e).__name__, str(e))
            with os.fdopen(w, 'wb') as f: pickle.dump(out, f)
        finally: os._exit(0)
    os.close(w)
    with os.fdopen(r, 'rb') as f: data = f.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.fixture
def shared():
    "A folder every user may enter and write (pytest's own tmp_path is private to root)."
    folder = Path(tempfile.mkdtemp(prefix='zscore-kd-shared-')); os.chmod(folder, 0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def one_sentence(msg: str) -> bool: return '\n' not in msg and msg.endswith('.')


# --- Files: the umask, permission versus damage, stale locks ----------------------------------------------------

def test_atomic_write_follows_the_umask_like_open(tmp_path):
    for umask in (0o022, 0o002, 0o077):  # a shared group's umask, the usual one, a private one
        old = os.umask(umask)
        try:
            written = atomic_write(tmp_path / f'{umask:o}' / 'result.json', lambda tmp: tmp.write_text('{}'))
            opened = written.with_name('opened.json'); opened.write_text('{}')
        finally: os.umask(old)
        assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(opened.stat().st_mode) == 0o666 & ~umask


@as_root
def test_another_user_reads_run_files_and_is_told_who_owns_a_private_one(shared, umask022):
    result = atomic_write(shared / 'run' / 'result.json', lambda tmp: tmp.write_text('{"top1": 71.2}'))
    assert as_nobody(result.read_text) == ('ok', '{"top1": 71.2}')
    from zscore_kd.files import check_readable
    private = shared / 'run' / 'checkpoint.pt'; private.write_bytes(b'weights'); os.chmod(private, 0o600)
    for fn in (check_readable, file_fingerprint):
        kind, msg = as_nobody(fn, private)
        assert kind == 'UnreadableError' and one_sentence(msg), msg
        assert msg.startswith(f'Cannot read {private}: it belongs to root (mode -rw-------) and user nobody may not '
                              f'read it; it is not damaged and is left as it is: ask root to make it readable')
    assert as_nobody(check_readable, result) == ('ok', None)              # readable: nothing to say
    assert as_nobody(check_readable, shared / 'missing') == ('ok', None)  # missing is not a permission matter
    os.chmod(shared / 'run', 0o700)                                       # a closed folder above a readable file
    kind, msg = as_nobody(check_readable, result)
    assert kind == 'UnreadableError' and f'the folder {shared / "run"} belongs to root (mode drwx------)' in msg


@as_root
def test_unreadable_teacher_is_not_called_damaged(shared, monkeypatch, umask022):
    "A teacher file nobody may read is a PermissionError naming its owner, never the ValueError of a damaged file."
    save_teacher(get_model('resnet8'), 'resnet8', shared / 'teachers')
    cifar = teacher_path('resnet8', shared / 'teachers')
    monkeypatch.setenv('TORCH_HOME', str(shared / 'torch'))
    tv = teacher_file('ResNet18'); tv.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), tv)
    pycls = shared / 'r56.pyth'; torch.save({'model_state': get_model('resnet56').state_dict()}, pycls)
    loads = {cifar: lambda: load_teacher('resnet8', shared / 'teachers') and None,
             tv: lambda: load_imagenet_teacher('ResNet18', download=False) and None,
             pycls: lambda: load_resnet56_teacher(pycls) and None}
    for path, load in loads.items():
        os.chmod(path, 0o600)  # its folders are 0755 (umask 022): only the file is private
        kind, msg = as_nobody(load)
        assert kind == 'UnreadableError' and msg.startswith(f'Cannot read {path}: it belongs to root'), (path, msg)


@as_root
@pytest.mark.parametrize('sticky', [False, True])
def test_stale_lock_of_another_users_dead_process_says_remove_it(shared, sticky, umask022):
    os.chmod(shared, 0o1777 if sticky else 0o777)
    run = shared / 'kd-resnet8-0123'; lock = FolderLock(run)
    lock.path.write_text(json.dumps(dict(pid=4242, host='node1', since='09:00:00')))  # root's process was killed
    kind, msg = as_nobody(lambda: FolderLock(run).acquire(wait=False) and None)
    assert kind == 'StorageError' and one_sentence(msg), msg
    assert msg.startswith(f'{lock.path} is a stale lock left by process 4242 on node1 (since 09:00:00) of user root, '
                          f'which has ended')
    fix = 'ask root to remove it' if sticky else f'remove it (`rm {lock.path}`; its folder is writable)'
    assert f'{fix}, then run the same command again.' in msg
    assert lock.path.exists()  # nothing removed on another user's behalf


@as_root
def test_another_users_live_lock_is_waited_for_and_a_shared_umask_lets_it_be_taken_over(shared):
    run = shared / 'kd-resnet8-0123'
    with FolderLock(run):
        kind, msg = as_nobody(lambda: FolderLock(run).acquire(wait=False) and None)
        assert kind == 'RuntimeError' and f'{run} is being written by process {os.getpid()}' in msg, msg
    old = os.umask(0o000)  # a group or world that shares runs/
    try: held = FolderLock(run).acquire()
    finally: os.umask(old)
    os.close(held.fd)      # its process is killed: the lock file stays, the kernel drops the flock
    assert as_nobody(lambda: FolderLock(run).acquire(wait=False).path.exists()) == ('ok', True)


# --- Teachers' weights -----------------------------------------------------------------------------------------

@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    teacher_file('ResNet18').parent.mkdir(parents=True)
    return teacher_file('ResNet18')


def test_nan_or_inf_in_imagenet_and_vit_teachers_is_caught_naming_the_file(torch_home, tmp_path):
    state = torchvision.models.resnet18().state_dict()
    state['layer3.0.bn1.running_var'][5] = float('nan')
    torch.save(state, torch_home)
    with pytest.raises(ValueError) as e: load_imagenet_teacher('ResNet18', download=False)
    assert one_sentence(str(e.value))
    assert str(e.value).startswith(f'Teacher checkpoint {torch_home} holds non-finite values (NaN or inf in '
                                   f'layer3.0.bn1.running_var); delete it and download')
    pyth = tmp_path / 'model.pyth'
    r56 = {pycls_key(k): v for k, v in get_model('resnet56').state_dict().items()}
    r56['head.fc.weight'][3, 1] = float('inf')
    torch.save({'epoch': 299, 'model_state': r56}, pyth)
    with pytest.raises(ValueError, match=f'Teacher checkpoint {pyth} holds non-finite values .NaN or inf in '
                                         r'head\.fc\.weight.; give a pycls ResNet-56 checkpoint'):
        load_resnet56_teacher(pyth)


def test_a_checkpoint_dict_is_read_or_described_by_its_keys(torch_home):
    tv = torchvision.models.resnet18().eval()
    torch.save({'model': tv.state_dict(), 'optimizer': {}, 'epoch': 89}, torch_home)  # torchvision's train.py
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(): assert torch.equal(load_imagenet_teacher('ResNet18', download=False)(x), tv(x))
    torch.save({'net': tv.state_dict(), 'epoch': 89}, torch_home)
    with pytest.raises(ValueError) as e: load_imagenet_teacher('ResNet18', download=False)
    msg = str(e.value)
    assert 'no state_dict' not in msg and one_sentence(msg)
    assert (f"{torch_home} is a dict with keys 'net', 'epoch' where a state_dict with keys like 'conv1.weight', "
            f"'bn1.weight', 'bn1.bias', … or a checkpoint dict holding one under 'model' is expected") in msg


def test_files_that_are_not_weights_get_whole_sentences(torch_home, tmp_path):
    "Never a piece of torch's message cut mid-word, never its multi-line listing of keys."
    broken_zip = b'PK\x03\x04' + bytes(range(256)) * 2
    pyth, cifar = tmp_path / 'r56.pyth', teacher_path('resnet8', tmp_path / 'teachers')
    cifar.parent.mkdir(parents=True)
    for path in (pyth, torch_home, cifar): path.write_bytes(broken_zip)
    loads = [lambda: load_resnet56_teacher(pyth), lambda: load_imagenet_teacher('ResNet18', download=False),
             lambda: load_teacher('resnet8', tmp_path / 'teachers')]
    for path, load in zip((pyth, torch_home, cifar), loads):
        with pytest.raises(ValueError) as e: load()
        msg = str(e.value)
        assert one_sentence(msg) and 'PytorchStreamReader' not in msg, msg
        assert (f'{path} is not a readable PyTorch weights file (RuntimeError, 516 bytes: corrupt, truncated or of '
                f'another format); ') in msg
    torch.save({'model': get_model('resnet20').state_dict()}, pyth)
    with pytest.raises(ValueError) as e: load_resnet56_teacher(pyth)
    assert one_sentence(str(e.value)) and 'Error(s) in loading' not in str(e.value)
    assert f"{pyth} does not fit ResNet-56 with 100 classes (216 keys missing, e.g. 'layer1.3.conv1.weight')" in str(
        e.value)


# --- ViT sizes --------------------------------------------------------------------------------------------------

TAKES = {'deit_ti': (16, 16), 't2t_vit_7': (16, 16), 'pit_ti': (8, 16), 'pvt_ti': (32, 32)}  # multiple, least side


@pytest.mark.parametrize('name', sorted(TAKES))
def test_vit_students_take_only_sides_their_grids_fit(name):
    "Every side 8..68 is taken (and a forward gives logits) or refused in one sentence before the model is built."
    step, least = TAKES[name]
    taken, refused = [], []
    for side in range(8, 69, 2):
        try: model = get_model(name, 10, img_size=side)
        except ValueError as e:
            msg = str(e)
            assert one_sentence(msg) and msg.startswith(f'img_size={side} does not fit {name} (') and \
                f'use a multiple of {step} from {least} on, such as ' in msg, msg
            refused.append(side); continue
        with torch.no_grad(): assert model.eval()(torch.randn(1, 3, side, side)).shape == (1, 10)
        taken.append(side)
    assert taken == [s for s in range(8, 69, 2) if s >= least and s % step == 0]


@pytest.mark.parametrize('name, bad', [('deit_ti', 40), ('t2t_vit_7', 8), ('pit_ti', 30), ('pvt_ti', 100),
                                       ('pvt_ti', '224')])
def test_resolve_config_refuses_a_side_the_student_cannot_take(name, bad):
    with pytest.raises(ValueError) as built: get_model(name, img_size=bad)
    with pytest.raises(ValueError) as resolved:
        resolve_config(method='kd', teacher='resnet56', student=name, student_args={'img_size': bad})
    assert str(resolved.value) == str(built.value)
    assert f'img_size={bad!r} does not fit {name}' in str(resolved.value)


# --- ImageNet trees ---------------------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    "A small ImageFolder tree: 3 classes, 4 train and 2 val JPEGs each."
    return make_imagefolder(tmp_path / 'imagenet', num_classes=3, n_train=4, n_val=2, size=(40, 30))


def corrupt(path: Path) -> str:
    "Cut a JPEG in half; returns the sentence both loaders and the check must give for it."
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    return (f'{path} cannot be decoded as an image (truncated, corrupt or not a JPEG): replace it with a good copy or '
            f'delete it, then run the same command again.')


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'html'])
def test_a_corrupt_image_stops_the_run_before_any_work(tree, damage):
    path = Path(sorted((tree / 'val').rglob('*.JPEG'))[-1])
    sentence = corrupt(path)
    if damage == 'empty': path.write_bytes(b'')
    if damage == 'html': path.write_bytes(b'<html><body>404 Not Found</body></html>')
    with pytest.raises(ValueError) as e: load_imagefolder(tree, 32, 'classic', workers=0)
    assert str(e.value) == sentence


@pytest.mark.parametrize('mode', ['classic', 'device'])
@pytest.mark.parametrize('train', [True, False])
def test_both_loaders_name_an_image_that_breaks_mid_run(tree, mode, train):
    "Met by a loader (2 workers), a corrupt file is the same one sentence in the main process, not a worker traceback."
    data = load_imagefolder(tree, 32, mode, workers=2)
    sentence = corrupt(Path((data.train_files if train else data.val_files)[3]))
    with pytest.raises(ValueError) as e: list(FolderLoader(data, train, 4).epoch(0))
    assert str(e.value) == sentence


def test_appledouble_files_are_skipped_and_links_that_lead_nowhere_are_named(tree):
    files = load_imagefolder(tree, 32, 'classic', workers=0).train_files
    folder = tree / 'train' / 'n00000001'
    for f in list(folder.iterdir()): (folder / f'._{f.name}').write_bytes(b'\x00\x05\x16\x07' + bytes(100))
    data = load_imagefolder(tree, 32, 'classic', workers=0)
    assert data.train_files == files and len(list(FolderLoader(data, True, 4).epoch(0))) == 3
    loop = folder / 'loop.JPEG'; loop.symlink_to('loop.JPEG')
    with pytest.raises(ValueError, match=f'^{loop} is a symbolic link loop .it leads back to itself.: point it at'):
        load_imagefolder(tree, 32, 'classic', workers=0)
    loop.unlink(); (tree / 'train' / 'n00000009').symlink_to('n00000009')  # a class folder
    with pytest.raises(ValueError, match=f"^{tree / 'train' / 'n00000009'} is a symbolic link loop"):
        load_imagefolder(tree, 32, 'classic', workers=0)
    (tree / 'train' / 'n00000009').unlink(); (folder / 'gone.JPEG').symlink_to('/nowhere/x.JPEG')
    with pytest.raises(FileNotFoundError) as e: load_imagefolder(tree, 32, 'classic', workers=0)
    assert str(e.value) == (f'{folder / "gone.JPEG"} is a symbolic link to /nowhere/x.JPEG, which does not exist: '
                            f'restore its target or remove the link.')


@as_root
def test_an_image_another_user_may_not_read_is_named_with_its_owner(shared, umask022):
    root = make_imagefolder(shared / 'imagenet', num_classes=2, n_train=2, n_val=2, size=(40, 30))
    private = sorted((root / 'val').rglob('*.JPEG'))[0]; os.chmod(private, 0o600)
    kind, msg = as_nobody(lambda: load_imagefolder(root, 32, 'classic', workers=0) and None)
    assert kind == 'UnreadableError' and msg.startswith(f'Cannot read {private}: it belongs to root'), msg


def test_nvjpeg_failure_falls_back_to_the_cpu_and_says_so(tree):
    "The GPU decoder is injected: one that fails as a broken nvJPEG does, one that fails only on batches, or one file."
    from torchvision.io import decode_jpeg
    from zscore_kd.imagefolder import ImageDecoder, read_bytes
    data = load_imagefolder(tree, 32, 'device', workers=0)
    reference = list(FolderLoader(data, False, 4).epoch(0))
    def broken(datas, **kw): raise RuntimeError('nvjpeg: NVJPEG_STATUS_ARCH_MISMATCH')
    def no_batches(datas, **kw):
        if isinstance(datas, list): raise RuntimeError('batched decode failed')
        return decode_jpeg(datas, **kw)
    odd = read_bytes(data.val_files[2])  # say, one of ImageNet's CMYK JPEGs
    def fails_on_one(datas, **kw):
        if isinstance(datas, list) or (len(datas) == len(odd) and torch.equal(datas, odd)):
            raise RuntimeError('unsupported JPEG')
        return decode_jpeg(datas, **kw)
    for decode, decoded_by, warned in ((broken, 'cpu', 1), (no_batches, 'nvjpeg', 0), (fails_on_one, 'nvjpeg+cpu', 1)):
        loader = FolderLoader(data, False, 4, image_decoder=ImageDecoder('cpu', decode, name='nvjpeg'))
        assert loader.decoded_by == 'nvjpeg'  # before any batch: the decoder that will run
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            batches = list(loader.epoch(0))
        assert all(torch.equal(a['x'], b['x']) for a, b in zip(batches, reference))
        assert loader.decoded_by == decoded_by and sum(loader.image_decoder.counts.values()) == len(data.val_files)
        lines = [str(w.message) for w in caught if 'nvjpeg could not decode' in str(w.message)]
        assert len(lines) == warned and all(one_sentence(line) for line in lines), lines
    assert FolderLoader(data, False, 4).decoded_by == 'cpu'  # the device path on a CPU
    assert FolderLoader(load_imagefolder(tree, 32, 'classic', workers=0), False, 4).decoded_by == 'pil'

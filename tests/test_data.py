"""Tests for zscore_kd.data and zscore_kd.augment that do not fit a notebook: the CIFAR-100 file paths (torchvision's
and ours, a placed archive, offline and corrupt cases), determinism of the synthetic set, every RandAugment op
against PIL on a larger batch, and DeviceLoader's resumability."""
import hashlib, pickle, tarfile, urllib.error, warnings

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar as tv_cifar
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from torchvision.datasets import CIFAR100

from zscore_kd.augment import (CIFAR100_MEAN, CIFAR100_STD, NUM_VIEWS, OPS, RANGES, PILRandAugment, apply_op,
                               crop_flip, cutout, from_pil, normalize, pil_op, pil_rand_augment, rand_augment,
                               sample_rand_augment, sample_views, to_pil, view_id, view_params)
from zscore_kd.cifar100 import load_cifar100, read_cifar_pickle, save_cifar100
from zscore_kd.data import DeviceLoader, classic_loader, load_dataset
from zscore_kd.images import ImageData, make_synthetic


def md5(path): return hashlib.md5(path.read_bytes()).hexdigest()


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


@pytest.fixture(scope='module')
def small():
    return make_synthetic(n_train=240, n_test=60, seed=7)


@pytest.fixture
def cifar_dir(tmp_path, small):
    "A small CIFAR-100 folder in the release's exact format, written from synthetic data."
    save_cifar100(small, tmp_path)
    return tmp_path


@pytest.fixture
def offline(monkeypatch):
    "Make torchvision's download fail as it does without network, and count the attempts."
    calls = []
    def fail(*args, **kwargs):
        calls.append(args); raise urllib.error.URLError('offline (simulated)')
    monkeypatch.setattr(tv_cifar, 'download_and_extract_archive', fail)
    return calls


def register_md5s(monkeypatch, folder):
    "Tell torchvision that the files in `folder` are the official ones."
    monkeypatch.setattr(CIFAR100, 'train_list', [['train', md5(folder / 'train')]])
    monkeypatch.setattr(CIFAR100, 'test_list', [['test', md5(folder / 'test')]])
    monkeypatch.setattr(CIFAR100, 'meta', {'filename': 'meta', 'key': 'fine_label_names', 'md5': md5(folder / 'meta')})


# ---------------------------------------------------------------- CIFAR-100 on disk
def test_written_files_have_the_release_format(cifar_dir, small):
    folder = cifar_dir / 'cifar-100-python'
    assert sorted(p.name for p in folder.iterdir()) == ['meta', 'test', 'train']
    with open(folder / 'train', 'rb') as f: raw = pickle.load(f, encoding='bytes')       # keys are byte strings ...
    assert set(raw) == {b'data', b'fine_labels', b'coarse_labels', b'filenames', b'batch_label'}
    assert raw[b'data'].dtype == np.uint8 and raw[b'data'].shape == (240, 3072)
    assert raw[b'data'][0, :1024].tolist() == small.train_x[0, 0].flatten().tolist()  # red plane first, row-major
    # ... and str under latin1, as in Python 2 files
    with open(folder / 'meta', 'rb') as f: meta = pickle.load(f, encoding='latin1')
    assert set(meta) == {'fine_label_names', 'coarse_label_names'} and len(meta['coarse_label_names']) == 20


def test_our_reader_on_unofficial_files(cifar_dir, small, offline):
    with pytest.warns(UserWarning, match='md5'): data = load_cifar100(cifar_dir)
    assert offline == []                                                # files present: no download attempt
    for a, b in ((data.train_x, small.train_x), (data.train_y, small.train_y), (data.test_x, small.test_x),
                 (data.test_y, small.test_y), (data.coarse, small.coarse)):
        assert torch.equal(a, b)
    assert data.class_names == small.class_names and data.name == 'cifar100' and data.num_classes == 100


def test_torchvision_reader_when_md5s_match(cifar_dir, small, monkeypatch, offline):
    register_md5s(monkeypatch, cifar_dir / 'cifar-100-python')
    ds = CIFAR100(str(cifar_dir), train=True)                           # torchvision itself reads our files
    assert np.array_equal(ds.data, small.train_x.permute(0, 2, 3, 1).numpy()) and ds.targets == small.train_y.tolist()
    calls = []
    real = CIFAR100.__init__
    monkeypatch.setattr(CIFAR100, '__init__', lambda self, *a, **k: (calls.append(a), real(self, *a, **k))[1])
    with warnings.catch_warnings():
        warnings.simplefilter('error')                                  # official md5s: no warning
        data = load_cifar100(cifar_dir)
    assert len(calls) == 2                                              # train and test went through torchvision
    assert torch.equal(data.train_x, small.train_x) and torch.equal(data.test_y, small.test_y)
    assert torch.equal(data.coarse, small.coarse) and data.class_names == small.class_names


def test_placed_archive_is_extracted_without_network(cifar_dir, monkeypatch):
    folder = cifar_dir / 'cifar-100-python'
    register_md5s(monkeypatch, folder)
    archive = cifar_dir / 'cifar-100-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar: tar.add(folder, arcname='cifar-100-python')
    for p in folder.iterdir(): p.unlink()
    folder.rmdir()
    monkeypatch.setattr(CIFAR100, 'tgz_md5', md5(archive))
    monkeypatch.setattr('urllib.request.urlopen', lambda *a, **k: pytest.fail('tried the network'))
    data = load_cifar100(cifar_dir)                                     # download=None: files missing, archive present
    assert (folder / 'train').is_file() and len(data.train_x) == 240


def test_offline_and_absent_names_folder_and_archive(tmp_path, offline):
    with pytest.raises(FileNotFoundError) as e: load_cifar100(tmp_path / 'nowhere')
    msg = str(e.value)
    assert len(offline) == 1                                            # it did try to download
    assert ('nowhere/cifar-100-python' in msg and 'cifar-100-python.tar.gz' in msg
            and 'https://www.cs.toronto.edu' in msg)
    assert msg.count('. ') == 0                                         # one sentence


def test_download_false_never_downloads(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match='could not be downloaded'): load_cifar100(tmp_path, download=False)
    assert offline == []


def test_download_true_with_local_copy_falls_back(cifar_dir, offline):
    with pytest.warns(UserWarning, match='md5'): data = load_cifar100(cifar_dir, download=True)
    assert len(offline) == 1 and len(data.train_x) == 240


@pytest.mark.parametrize('damage', ['truncate', 'not_a_dict', 'no_data', 'bad_shape'])
def test_corrupt_files_give_one_sentence(cifar_dir, damage):
    path = cifar_dir / 'cifar-100-python' / 'train'
    if damage == 'truncate': path.write_bytes(path.read_bytes()[:5000])
    else:
        d = {'not_a_dict': [1, 2], 'no_data': {b'fine_labels': [1]},
             'bad_shape': {b'data': np.zeros((2, 100), np.uint8), b'fine_labels': [0, 1],
                           b'coarse_labels': [0, 0]}}[damage]
        path.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(ValueError) as e, warnings.catch_warnings():
        warnings.simplefilter('ignore'); load_cifar100(cifar_dir, download=False)
    assert 'train' in str(e.value) and str(e.value).endswith('.') and str(e.value).count('. ') == 0


def test_read_cifar_pickle_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='meta does not exist'): read_cifar_pickle(tmp_path / 'meta')


def test_load_dataset_names():
    assert torch.equal(load_dataset('synthetic', n_train=100, n_test=10).train_x,
                       make_synthetic(n_train=100, n_test=10).train_x)
    with pytest.raises(ValueError, match="Unknown dataset 'cifar10'; choose one of 'synthetic', 'cifar100'"):
        load_dataset('cifar10')


# ---------------------------------------------------------------- synthetic data
def test_synthetic_is_deterministic_and_shaped(small):
    again = make_synthetic(n_train=240, n_test=60, seed=7)
    assert torch.equal(small.train_x, again.train_x) and torch.equal(small.test_x, again.test_x)
    assert not torch.equal(small.train_x, make_synthetic(n_train=240, n_test=60, seed=8).train_x)
    digest = hashlib.sha256(small.train_x.numpy().tobytes() + small.test_x.numpy().tobytes()).hexdigest()[:16]
    assert digest == SYNTHETIC_DIGEST, 'the synthetic bytes changed: a torch RNG change, or an edit of make_synthetic'
    assert small.train_x.dtype == torch.uint8 and small.train_x.shape == (240, 3, 32, 32)
    assert torch.bincount(small.train_y, minlength=100).tolist() == [3] * 40 + [2] * 60
    assert torch.equal(small.coarse, torch.arange(100) // 5) and small.class_names[17] == 'super03/class17'


SYNTHETIC_DIGEST = 'cf3c2f867ca8900d'


def test_synthetic_knobs_change_difficulty():
    a, b = make_synthetic(n_train=100, n_test=10, noise=0.0), make_synthetic(n_train=100, n_test=10, noise=0.2)
    assert (a.train_x.float() - b.train_x.float()).abs().mean() > 5
    assert torch.equal(make_synthetic(n_train=50, n_test=20).test_x, make_synthetic(n_train=80, n_test=20).test_x)


# ---------------------------------------------------------------- augmentation
@pytest.fixture(scope='module')
def batch(small):
    g = torch.Generator().manual_seed(0)
    return torch.cat([small.train_x[:150], torch.randint(0, 256, (30, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.full((3, 3, 32, 32), 200, dtype=torch.uint8),                       # flat images
                      torch.randint(90, 92, (6, 3, 32, 32), generator=g, dtype=torch.uint8),     # two grey levels
                      (torch.rand(6, 3, 32, 32, generator=g) < 0.02).to(torch.uint8) * 255])     # rare outliers


def test_crop_flip_matches_torchvision_for_all_views(batch):
    imgs = batch[:3]
    for v in range(NUM_VIEWS):
        dx, dy, flip = (int(t) for t in view_params(torch.tensor(v)))
        for img in imgs:
            ref = TF.crop(TF.pad(to_pil(img), 4), dy, dx, 32, 32)
            ref = from_pil(TF.hflip(ref) if flip else ref)
            assert torch.equal(crop_flip(img[None], torch.tensor([v]))[0], ref)
    v = torch.arange(NUM_VIEWS)
    assert torch.equal(view_id(*view_params(v)), v) and sample_views(10000).bincount(minlength=162).min() > 30


def test_normalize_matches_torchvision(batch):
    tv = T.Compose([T.ToTensor(), T.Normalize(CIFAR100_MEAN, CIFAR100_STD)])
    assert torch.equal(normalize(batch[:20]), torch.stack([tv(to_pil(x)) for x in batch[:20]]))


@pytest.mark.parametrize('op', range(len(OPS)), ids=OPS)
def test_each_op_matches_pil(batch, op):
    "Pixel-exact, over random magnitudes plus both ends of the range and a few round values."
    g = torch.Generator().manual_seed(op)
    lo, hi = RANGES[op]
    pils = [to_pil(x) for x in batch]
    fixed = [lo, hi - 1e-9, (lo + hi) / 2, lo + 0.25 * (hi - lo)]
    for m in fixed + [None] * 2:
        mags = torch.full((len(batch),), float(m), dtype=torch.float64) if m is not None else \
            lo + (hi - lo) * torch.rand(len(batch), generator=g, dtype=torch.float64)
        ours = apply_op(batch, torch.full((len(batch),), op), mags)
        ref = torch.stack([from_pil(pil_op(p, op, float(v))) for p, v in zip(pils, mags)])
        bad = (ours != ref).any(1).sum().item()
        assert bad == 0, f'{OPS[op]} at magnitude {m}: {bad} pixels differ from PIL'


def test_ops_on_non_square_images_match_pil():
    "The ops are not tied to 32×32: a 40-wide, 24-high batch (centre, translations and Cutout scale with the size)."
    g = torch.Generator().manual_seed(3)
    imgs = torch.randint(0, 256, (140, 3, 24, 40), generator=g, dtype=torch.uint8)
    ops, mags, size, cx, cy = sample_rand_augment(140, g, width=40, height=24)
    ours = cutout(apply_op(apply_op(imgs, ops[:, 0], mags[:, 0]), ops[:, 1], mags[:, 1]), size, cx, cy)
    ref = torch.stack([from_pil(pil_rand_augment(to_pil(x), *row)) for x, *row in zip(imgs, ops, mags, size, cx, cy)])
    assert torch.equal(ours, ref)


def test_mixed_ops_in_one_batch_and_cutout_match_pil(batch):
    g = torch.Generator().manual_seed(11)
    ops, mags, size, cx, cy = sample_rand_augment(len(batch), g)
    size[:3] = 0; cx[3], cy[3] = 32.0, 1.0 + 1e-9
    pils = [to_pil(x) for x in batch]
    ours = cutout(apply_op(apply_op(batch, ops[:, 0], mags[:, 0]), ops[:, 1], mags[:, 1]), size, cx, cy)
    ref = torch.stack([from_pil(pil_rand_augment(p, *row)) for p, *row in zip(pils, ops, mags, size, cx, cy)])
    assert torch.equal(ours, ref)


def test_rand_augment_distribution_and_determinism(batch):
    ops, mags, size, cx, cy = sample_rand_augment(20000, torch.Generator().manual_seed(0))
    assert (ops.flatten().bincount(minlength=14) - 40000 / 14).abs().max() < 200
    assert 1 < cx.min() and cx.max() <= 32 and 0 <= size.min() and size.max() < 0.5
    _, _, _, cx0, _ = sample_rand_augment(20000, torch.Generator().manual_seed(0), cutout_low=0.0)
    assert cx0.min() < 0.01
    a = rand_augment(batch, torch.Generator().manual_seed(5))
    assert torch.equal(a, rand_augment(batch, torch.Generator().manual_seed(5))) and not torch.equal(a, batch)
    torch.manual_seed(0)
    assert from_pil(PILRandAugment()(to_pil(batch[0]))).shape == (3, 32, 32)


def test_bad_images_are_refused():
    for bad in (torch.zeros(2, 3, 32, 32), torch.zeros(2, 32, 32, 3, dtype=torch.uint8),
                np.zeros((2, 3, 32, 32), np.uint8)):
        with pytest.raises(ValueError, match='uint8 tensor of shape N×3×32×32'):
            crop_flip(bad, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match='N×3×H×W'): rand_augment(torch.zeros(2, 3, 8, 8))


# ---------------------------------------------------------------- loaders
def test_device_loader_resumes_exactly(small):
    def run(loader, epoch): return [{k: v.clone() for k, v in b.items()} for b in loader.epoch(epoch)]
    a = DeviceLoader(small.train_x, small.train_y, batch_size=50, seed=3, strong=True)
    for e in range(2): run(a, e)
    fresh = DeviceLoader(small.train_x, small.train_y, batch_size=50, seed=3, strong=True)
    for x, y in zip(run(a, 2), run(fresh, 2)):
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    other = run(DeviceLoader(small.train_x, small.train_y, batch_size=50, seed=4, strong=True), 2)
    assert not torch.equal(other[0]['index'], run(fresh, 2)[0]['index'])


def test_device_loader_batches(small):
    loader = DeviceLoader(small.train_x, small.train_y, batch_size=64)
    batches = list(loader.epoch(0))
    assert len(loader) == len(batches) == 4 and [len(b['y']) for b in batches] == [64, 64, 64, 48]
    idx = torch.cat([b['index'] for b in batches])
    assert torch.equal(idx.sort().values, torch.arange(240))
    views = torch.cat([b['view'] for b in batches])
    assert torch.equal(torch.cat([b['x'] for b in batches]), normalize(crop_flip(small.train_x[idx], views)))
    assert len(DeviceLoader(small.train_x, small.train_y, batch_size=64, drop_last=True)) == 3
    with pytest.raises(ValueError, match='labels'): DeviceLoader(small.train_x, small.train_y[:5])


def test_classic_loader_agrees_with_device_loader(small):
    dev = next(DeviceLoader(small.test_x, small.test_y, shuffle=False, augment=False).epoch(0))
    cls = next(iter(classic_loader(small, train=False, num_workers=0)))
    assert all(torch.equal(dev[k], cls[k]) for k in ('x', 'y', 'index'))
    batches = list(classic_loader(small, strong=True, num_workers=2, batch_size=100))          # real worker processes
    assert [len(b['y']) for b in batches] == [100, 100, 40] and batches[0]['x_strong'].shape == (100, 3, 32, 32)
    assert torch.equal(torch.cat([b['index'] for b in batches]).sort().values, torch.arange(240))


def test_image_data_to_and_repr(small):
    moved = small.to('cpu')
    assert torch.equal(moved.train_x, small.train_x) and 'synthetic' in repr(small) and '20 superclasses' in repr(small)
    with pytest.raises(ValueError, match='test labels'):
        ImageData(small.train_x, small.train_y, small.test_x, small.test_y.int(), 100)

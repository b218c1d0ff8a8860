"""Model zoo checks that need more than a notebook cell: every model's backward pass, its mdistiller layout, pinned
logits, checkpoint round trips and failures, and the WRN BN quirk. Regenerate the pinned logits (only after a
deliberate change) with `python tests/test_models.py --regen`."""
import os, sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zscore_kd.models import get_model, list_models, count_params, count_macs
from zscore_kd.checkpoints import load_teacher, save_teacher, teacher_path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / 'tests' / 'fixtures' / 'model_logits.pt'
# the official definitions' counts
EXTRA_WRN_PARAMS = {'wrn_28_2': 1_479_220, 'wrn_16_4': 2_772_020, 'wrn_28_4': 5_872_180}


pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py


def read_layouts(path=ROOT / 'data' / 'cifar_state_dict_shapes.txt'):
    "mdistiller's layouts: name -> (params, [(key, shape), ...])."
    out, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith('## '):
            name = line.split()[1]; out[name] = (int(line.split('params=')[1].split()[0]), [])
        elif name and line and not line.startswith('#'):
            key, shape = line.split('\t')
            out[name][1].append((key, tuple(int(s) for s in shape.strip('[]').split(',') if s.strip())))
    return out


LAYOUTS = read_layouts()


def test_registry_covers_mdistiller_and_table5():
    assert set(list_models()) == set(LAYOUTS) | set(EXTRA_WRN_PARAMS)
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize('name', list_models())
def test_layout_and_params(name):
    model = get_model(name)
    if name in LAYOUTS:
        params, layout = LAYOUTS[name]
        assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == layout
    else: params = EXTRA_WRN_PARAMS[name]
    assert count_params(model) == params
    classifier = [v for v in model.state_dict().values() if v.dim() == 2][-1]
    assert (model.num_classes, model.feat_dim) == (100, classifier.shape[1])


@pytest.mark.parametrize('name', list_models())
def test_forward_backward_features(name):
    torch.manual_seed(0)
    model, x = get_model(name, num_classes=10), torch.randn(2, 3, 32, 32)
    logits, feats = model(x, features=True)
    assert logits.shape == (2, 10) and feats['pooled_feat'].shape == (2, model.feat_dim) and feats['feats']
    F.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters())
    model.eval()
    assert torch.equal(model(x), model(x, features=True)[0])


def pinned_logits(name):
    "Train-mode logits of the seed-0 model on a seed-1 batch, then eval-mode logits after that one step."
    torch.manual_seed(0); model = get_model(name)
    torch.manual_seed(1); x = torch.randn(4, 3, 32, 32)
    with torch.no_grad(): return model.train()(x), model.eval()(x)


@pytest.mark.parametrize('name', list_models())
def test_pinned_logits(name):
    pinned = torch.load(FIXTURE, weights_only=True)
    assert set(pinned) == set(list_models()), \
        'a model was added or removed: regenerate with `python tests/test_models.py --regen`'
    train, eval_ = pinned_logits(name)
    torch.testing.assert_close(train, pinned[name]['train'], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(eval_, pinned[name]['eval'], rtol=1e-4,
                               atol=1e-4 * pinned[name]['eval'].abs().max().item())


def test_wrn_double_bn_update_switch():
    "mdistiller's WRN re-applies three BNs in training mode; the switch turns that off."
    x = torch.randn(4, 3, 32, 32)
    for double in (True, False):
        torch.manual_seed(0); model = get_model('wrn_16_2', double_bn_update=double).train()
        f3 = model(x, features=True)[1]['feats'][3].detach()  # features=True must not add an update
        twice = {'block2.layer.0.bn1', 'block3.layer.0.bn1', 'bn1'}
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                assert int(m.num_batches_tracked) == (2 if double and name in twice else 1), name
        mean = x.new_zeros(128)
        for _ in range(1 + double): mean = 0.9 * mean + 0.1 * f3.mean((0, 2, 3))
        torch.testing.assert_close(model.bn1.running_mean, mean)
    model.double_bn_update = True; model(x)  # the attribute switches it back at run time
    assert int(model.bn1.num_batches_tracked) == 3


def test_checkpoint_round_trip_mdistiller_layout(tmp_path):
    torch.manual_seed(0)
    for name in ('resnet32x4', 'wrn_40_2', 'ShuffleV2'):
        model, x = get_model(name).eval(), torch.randn(2, 3, 32, 32)
        path = save_teacher(model, name, tmp_path, accuracy=79.42)
        assert path == teacher_path(name, tmp_path) == tmp_path / f'{name}_vanilla' / 'ckpt_epoch_240.pth'
        ckpt = torch.load(path, weights_only=True)
        assert ckpt['epoch'] == 240 and ckpt['optimizer'] is None and list(ckpt['model']) == list(model.state_dict())
        assert torch.equal(load_teacher(name, tmp_path)(x), model(x))
        assert sorted(os.listdir(path.parent)) == ['ckpt_epoch_240.pth']


def test_repdistiller_checkpoint_with_optimizer_loads(tmp_path):
    "A file as RepDistiller's train_teacher.py writes it: tensor accuracy and an SGD state, under cifar_teachers/."
    model = get_model('resnet8')
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward(); opt.step()
    path = teacher_path('resnet8', tmp_path / 'cifar_teachers'); path.parent.mkdir(parents=True)
    torch.save({'epoch': 240, 'model': model.state_dict(), 'accuracy': torch.tensor(61.2),
                'optimizer': opt.state_dict()}, path)
    teacher = load_teacher('resnet8', tmp_path)
    assert not teacher.training
    assert all(torch.equal(a, b) for a, b in zip(teacher.state_dict().values(), model.state_dict().values()))


def test_compiled_model_saves_plain_keys(tmp_path):
    model = get_model('resnet8')
    wrapped = torch.nn.Module(); wrapped._orig_mod = model  # what torch.compile's OptimizedModule state_dict looks like
    path = save_teacher(wrapped, 'resnet8', tmp_path)
    assert list(torch.load(path, weights_only=True)['model']) == list(model.state_dict())


def test_save_is_atomic(tmp_path, monkeypatch):
    path = save_teacher(get_model('resnet8'), 'resnet8', tmp_path)
    before = path.read_bytes()
    def crash(obj, f): f.write(b'half'); raise KeyboardInterrupt          # save_teacher hands torch.save a file
    monkeypatch.setattr(torch, 'save', crash)
    with pytest.raises(KeyboardInterrupt): save_teacher(get_model('resnet8'), 'resnet8', tmp_path)
    assert path.read_bytes() == before and sorted(os.listdir(path.parent)) == ['ckpt_epoch_240.pth']


def one_sentence(exc):
    msg = str(exc.value)
    return msg.count('\n') == 0 and msg.endswith('.')


def test_load_teacher_failures(tmp_path):
    with pytest.raises(FileNotFoundError) as e: load_teacher('resnet56', tmp_path)
    assert one_sentence(e) and str(tmp_path) in str(e.value) and 'teacher_root' in str(e.value)
    assert ('cifar_teachers.tar' in str(e.value)
            and '-p method vanilla -p student resnet56 -p dataset cifar100' in str(e.value))
    path = teacher_path('resnet56', tmp_path); path.parent.mkdir()
    path.write_bytes(b'\x80\x02garbage')
    with pytest.raises(ValueError) as e: load_teacher('resnet56', tmp_path)
    assert one_sentence(e) and str(path) in str(e.value) and e.value.__cause__ is not None
    torch.save({'model': get_model('resnet56').state_dict(), 'accuracy': np.float64(72.3)}, path)
    with pytest.raises(ValueError, match='numpy') as e: load_teacher('resnet56', tmp_path)
    assert one_sentence(e) and 'weights_only=False' in str(e.value)
    torch.save({'model': [1, 2, 3]}, path)
    with pytest.raises(ValueError, match='no state_dict') as e: load_teacher('resnet56', tmp_path)
    assert one_sentence(e)
    save_teacher(get_model('resnet110'), 'resnet56', tmp_path)
    with pytest.raises(ValueError, match='does not fit architecture') as e: load_teacher('resnet56', tmp_path)
    assert one_sentence(e) and isinstance(e.value.__cause__, RuntimeError)
    save_teacher(get_model('vgg8'), 'resnet56', tmp_path)
    with pytest.raises(ValueError, match='does not fit architecture'): load_teacher('resnet56', tmp_path)
    save_teacher(get_model('resnet56', num_classes=10), 'resnet56', tmp_path)
    with pytest.raises(ValueError, match='has 10 classes but 100 were asked for') as e:
        load_teacher('resnet56', tmp_path)
    assert one_sentence(e)
    assert load_teacher('resnet56', tmp_path, num_classes=10).num_classes == 10


def test_unknown_names():
    with pytest.raises(ValueError, match='ResNet18'): get_model('resnet18')
    with pytest.raises(ValueError, match='MobileNetV2'): get_model('mobilenetv2')
    with pytest.raises(ValueError, match='ResNet34'): get_model('resnet34', dataset='imagenet')


def test_count_macs_keeps_mode_and_stats():
    model = get_model('resnet20').train()
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    stem, stage1 = 27 * 16 * 32**2, 6 * 144 * 16 * 32**2                     # 3x3 convs: C_in*9 * C_out * H*W
    stage2 = (144 + 5 * 288) * 32 * 16**2 + 16 * 32 * 16**2                   # plus the 1x1 projection
    stage3 = (288 + 5 * 576) * 64 * 8**2 + 32 * 64 * 8**2
    assert count_macs(model) == stem + stage1 + stage2 + stage3 + 64 * 100 and model.training
    assert all(torch.equal(v, stats[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize('name', list_models('imagenet'))
def test_imagenet_models(name):
    import torchvision
    params = {'ResNet18': 11_689_512, 'ResNet34': 21_797_672, 'ResNet50': 25_557_032, 'ResNet101': 44_549_160,
              'MobileNetV1': 4_231_976, 'MobileNetV2': 4_231_976}
    model = get_model(name, num_classes=10, dataset='imagenet')
    assert count_params(get_model(name, dataset='imagenet')) == params[name]
    mobile = name.startswith('MobileNet')
    if not mobile:
        tv = getattr(torchvision.models, name.lower())()
        ours = get_model(name, dataset='imagenet').state_dict()
        assert [(k, v.shape) for k, v in tv.state_dict().items()] == [(k, v.shape) for k, v in ours.items()]
    x = torch.randn(1, 3, 224 if mobile else 64, 224 if mobile else 64)
    logits, feats = model(x, features=True)
    assert logits.shape == (1, 10) and feats['pooled_feat'].shape == (1, model.feat_dim)
    logits.sum().backward()


def test_imagenet_teacher_files(tmp_path, monkeypatch):
    "torchvision's cache is where teachers are read; a legacy file name works, a wrong architecture is one sentence."
    import torchvision
    from zscore_kd.models.imagenet import load_imagenet_teacher, teacher_file
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(FileNotFoundError, match='resnet34-b627a593.pth') as e:
        load_imagenet_teacher('ResNet34', download=False)
    assert one_sentence(e)
    folder = teacher_file('ResNet34').parent; folder.mkdir(parents=True)
    tv = torchvision.models.resnet34().eval()
    torch.save(tv.state_dict(), folder / 'resnet34-333f7ec4.pth')  # the URL mdistiller's resnet.py loads
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(): assert torch.equal(load_imagenet_teacher('ResNet34', download=False)(x), tv(x))
    torch.save(torchvision.models.resnet18().state_dict(), teacher_file('ResNet34'))
    with pytest.raises(ValueError, match="does not fit torchvision's ResNet34") as e: load_imagenet_teacher('ResNet34')
    assert one_sentence(e)
    teacher_file('ResNet34').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='not a readable PyTorch weights file') as e: load_imagenet_teacher('ResNet34')
    assert one_sentence(e)


if __name__ == '__main__' and '--regen' in sys.argv:
    torch.set_num_threads(1)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    torch.save({n: dict(zip(('train', 'eval'), pinned_logits(n))) for n in list_models()}, FIXTURE)
    print(f'wrote {FIXTURE}')

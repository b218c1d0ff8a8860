"""Every distillation loss under bf16 autocast equals its float32 value: only the networks run in bf16, never a loss."""
import pytest
import torch
from zscore_kd.methods import list_methods, make_method, method_settings

CUDA = torch.cuda.is_available()
DEVICES = ['cpu', pytest.param('cuda', marks=[pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason='needs CUDA')])]
GAPS = (1.0, 0.1, 0.01)  # student-teacher distance: the smaller, the more a 16-bit Gram matrix rounds the loss away
# every method with and without the Z-score (ATKD standardizes by itself; vanilla has no KD term), and MLKD repaired
SETTINGS = [pytest.param(m, stand, {}, id=m + '+ls' * stand) for m in list_methods() for stand in (False, True)
            if not (m in ('atkd', 'vanilla') and stand)]
SETTINGS += [pytest.param('mlkd', True, dict(faithful=False), id='mlkd+ls-repaired')]

def logits(device, gap, B=64, K=100, seed=0):
    "Teacher and student logits of a weak and a strong view (values a bf16 network could emit), and labels."
    g = torch.Generator().manual_seed(seed)
    t = [(torch.randn(B, K, generator=g) * 3).bfloat16() for _ in range(2)]
    s = [(x.float() + gap * torch.randn(B, K, generator=g)).bfloat16() for x in t]
    y = torch.randint(0, K, (B,), generator=g)
    return [x.to(device) for x in s], [x.to(device) for x in t], y.to(device)

def terms(method, s, t, y, dtype) -> dict:
    "The method's loss terms on logits cast to `dtype`, for as many views as the method trains on."
    cast = lambda xs: [x.to(dtype) for x in xs[:method.views]]
    return method(cast(s), cast(t), y)

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name,stand,extra', SETTINGS)
def test_losses_under_bf16_autocast_equal_float32(name, stand, extra, device):
    method = make_method(name, **method_settings(name, stand, method_args=extra)).to(device)
    method.set_epoch(5)  # DKD's warm-up and CTKD's gradient reversal under way
    for gap in GAPS:
        s, t, y = logits(device, gap)
        ref = terms(method, s, t, y, torch.float32)
        with torch.autocast(device, dtype=torch.bfloat16):
            got = terms(method, s, t, y, torch.bfloat16)
        assert sorted(got) == sorted(ref)
        for k, v in got.items():
            assert v.dtype == torch.float32, (name, k, gap, v.dtype)
            rel = (v.double() - ref[k].double()).abs() / ref[k].double().abs().clamp_min(1e-30)
            assert rel <= 1e-3, f'{name} {k} at gap {gap}: relative difference {float(rel):.1e} under bf16 autocast'

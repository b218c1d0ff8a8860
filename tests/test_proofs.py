"""The supplement's §1 properties of the Z-score with many more randomized examples than `nbs/00a_proofs.ipynb` runs,
the full symbolic gradient of standardized KD, and the link between `proofs.kd_per_sample` and `losses.kd_loss`.

Tolerances are multiples of float64's unit roundoff U times the conditioning of the input (see the notebook)."""
import math
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from zscore_kd.losses import kd_loss
from zscore_kd.proofs import (TOY_KL, bound_attaining_input, check_gradient, check_properties, equivalent_tau,
                              kd_grad, kd_per_sample, toy_case, zscore_bound, zscore_grad_closed_form, zscore_std)
from zscore_kd.zscore import zscore

U = 2.0 ** -53
many = settings(max_examples=300, deadline=None, database=None)
taus, scales, shifts = st.floats(0.1, 10.0), st.floats(1e-2, 1e2), st.floats(-1e3, 1e3)
conventions = pytest.mark.parametrize('ddof', [0, 1], ids=['paper', 'code'])


@st.composite
def logit_vectors(draw, max_K: int = 1000):
    "A float64 logit vector with K in [2, max_K] entries, not (nearly) constant."
    K = draw(st.integers(2, max_K))
    x = torch.from_numpy(draw(arrays(np.float64, K, elements=st.floats(-10, 10))))
    assume(float(x.std()) > 1e-6 + 1e-4 * float(x.abs().max()))
    return x


def kappa(x): return float(x.abs().max() / x.std(correction=0))
def cond_affine(x, a, b): return (abs(b) + a * float(x.abs().max())) / (a * float(x.std(correction=0)))


@conventions
@many
@given(x=logit_vectors(), tau=taus, a=scales, b=shifts)
def test_properties(ddof, x, tau, a, b):
    K, k = x.shape[-1], kappa(x)
    r = check_properties(x, tau, ddof, scale=a, shift=b)
    assert r['mean'] <= 16 * U * (k + 1), r
    assert max(r['std'], r['std_other']) <= 256 * U * (k + 1), r
    assert r['bound'] <= 64 * U * (k + 1), r
    assert r['monotone'] == 0.0, r
    assert r['invariance'] <= 128 * U * (cond_affine(x, a, b) + 1) * (1 + zscore_bound(K, 1.0, ddof)), r
    assert r['equivalent_tau'] <= 32 * U * (1 + zscore_bound(K, 1.0, 0)), r


@conventions
@many
@given(x=logit_vectors(max_K=200), tau=taus)
def test_properties_with_guard(ddof, x, tau):
    "With eps=1e-7 the std and the bound shrink by exactly s/(s+eps); order is kept."
    r = check_properties(x, tau, ddof, eps=1e-7)
    assert max(r['std'], r['std_other'], r['bound']) <= 256 * U * (kappa(x) + 1), r
    assert r['monotone'] == 0.0


@conventions
@many
@given(K=st.integers(2, 1000), tau=taus, a=scales, b=shifts, sign=st.sampled_from([-1.0, 1.0]))
def test_bound_attained(ddof, K, tau, a, b, sign):
    e1 = bound_attaining_input(K)
    z = zscore(sign * a * e1 + b, tau, ddof=ddof, eps=0)
    peak = float(z[0]) * sign
    assert abs(peak / zscore_bound(K, tau, ddof) - 1) <= 64 * U * (cond_affine(e1, a, b) + 1)


@conventions
@settings(max_examples=100, deadline=None, database=None)
@given(x=logit_vectors(max_K=50), i=st.integers(0, 49), j=st.integers(0, 49))
def test_bound_only_when_others_equal(ddof, x, i, j):
    "Making two of the other entries differ lowers the peak strictly below the bound."
    K = x.shape[-1]; i, j = i % K, j % K
    assume(K >= 3 and i != j and i != 0 and j != 0)
    y = bound_attaining_input(K); y[i] = 0.5
    assert float(zscore(y, ddof=ddof, eps=0).abs().max()) < zscore_bound(K, 1.0, ddof) * (1 - 1e-6)


@st.composite
def logit_pairs(draw, max_K: int = 1000):
    "Student and teacher float64 logit vectors of the same K."
    z = draw(logit_vectors(max_K))
    return z, torch.from_numpy(draw(arrays(np.float64, z.shape[-1], elements=st.floats(-10, 10))))


@conventions
@many
@given(zv=logit_pairs(), tau=taus)
def test_gradient(ddof, zv, tau):
    (z, v), K = zv, zv[0].shape[-1]
    soft = lambda x, e: zscore(x, tau, ddof=ddof, eps=e).softmax(-1)
    gap = min(float((soft(z, e) - soft(v, e)).norm())
              for e in (0.0, 1e-7))
    assume(gap > 1e-6)
    tol = 32 * U * ((kappa(z) + 1) * math.sqrt(K) + 1 / gap)
    r0, r7 = check_gradient(z, v, tau, ddof, eps=0.0), check_gradient(z, v, tau, ddof)
    assert max(r0.values()) <= tol, (r0, tol)
    assert r7['closed_form'] <= tol and r7['ones'] <= tol, (r7, tol)
    assert r7['centered'] <= tol + 1e-7 / float(z.std(correction=ddof)), r7


@conventions
@settings(max_examples=100, deadline=None, database=None)
@given(zv=logit_pairs(max_K=200), tau=taus)
def test_plain_kd_gradient(ddof, zv, tau):
    z, v = zv
    g = kd_grad(z, v, tau, logit_stand=False)
    ref = tau * ((z / tau).softmax(-1) - (v / tau).softmax(-1))
    assert float((g - ref).abs().max()) <= 64 * U * tau


@conventions
@settings(max_examples=100, deadline=None, database=None)
@given(xv=logit_pairs(max_K=200), tau=taus, a=scales, b=shifts)
def test_standardized_kd_invariant_to_student_scale(ddof, xv, tau, a, b):
    "The standardized KD loss does not see the student's logit scale or shift (eps=0)."
    (x, v), K = xv, xv[0].shape[-1]
    l0 = float(kd_per_sample(x, v, tau, ddof=ddof, eps=0.0))
    l1 = float(kd_per_sample(a * x + b, v, tau, ddof=ddof, eps=0.0))
    # each Z_k*tau moves by at most the invariance tolerance, each log q_k by twice that over tau
    tol = 256 * U * tau * (cond_affine(x, a, b) + 1) * (1 + zscore_bound(K, 1.0, ddof)) + 64 * U * (1 + l0)
    assert abs(l1 - l0) <= tol, (l0, l1, tol)


@conventions
@pytest.mark.parametrize('K', [2, 3, 10, 100, 1000])
def test_degenerate_input(ddof, K):
    "Constant logits: the Z-score is exactly 0, the gradient finite, about tau*(q-p)/eps, and equal to the closed form."
    torch.manual_seed(K)
    flat, v = torch.full((2, K), -4.25, dtype=torch.float64), torch.randn(2, K, dtype=torch.float64) * 3
    assert torch.equal(zscore(flat, 2.0, ddof=ddof), torch.zeros_like(flat))
    g = kd_grad(flat, v, 2.0, ddof=ddof)
    assert torch.isfinite(g).all()
    expected = 2.0 * (1 / K - zscore(v, 2.0, ddof=ddof).softmax(-1)) / 1e-7
    torch.testing.assert_close(g, expected, rtol=1e-6, atol=1e-6 * float(expected.abs().max()))
    torch.testing.assert_close(zscore_grad_closed_form(flat, v, 2.0, ddof), expected, rtol=1e-12, atol=0)


def test_closed_forms_match_spec():
    assert zscore_std(100, 1.0, 1, 0) == pytest.approx(0.99499, abs=1e-5)
    assert zscore_std(1000, 1.0, 1, 0) == pytest.approx(0.99950, abs=1e-5)
    assert zscore_std(100, 2.0, 0, 1) == pytest.approx(math.sqrt(100 / 99) / 2)
    assert zscore_bound(100, 1.0, 1) == pytest.approx(9.9000, abs=1e-4)
    assert zscore_bound(100, 1.0, 0) == pytest.approx(9.9499, abs=1e-4)
    assert zscore_bound(1000, 1.0, 1) == pytest.approx(31.591, abs=1e-3)
    assert zscore_bound(1000, 1.0, 0) == pytest.approx(31.607, abs=1e-3)
    assert equivalent_tau(1000, 2.0) == pytest.approx(2.0010, abs=1e-4)


@pytest.mark.parametrize('logit_stand', [False, True])
def test_kd_per_sample_is_kd_loss(logit_stand):
    "proofs.kd_per_sample, averaged over the batch, is losses.kd_loss (default convention and eps)."
    torch.manual_seed(0)
    s, t = torch.randn(8, 100, dtype=torch.float64) * 2, torch.randn(8, 100, dtype=torch.float64) * 5
    for tau in (1.0, 2.0, 4.0):
        torch.testing.assert_close(kd_per_sample(s, t, tau, logit_stand).mean(), kd_loss(s, t, tau, logit_stand),
                                   rtol=1e-12, atol=1e-15)
    for ddof in (0, 1):
        torch.testing.assert_close(kd_per_sample(s, t, 2.0, logit_stand, ddof=ddof),
                                   kd_loss(s, t, 2.0, logit_stand, ddof=ddof, reduction='none'), rtol=1e-12, atol=1e-15)


def test_toy_case():
    toy = toy_case()
    for mode in TOY_KL:
        for name in ('S1', 'S2'):
            assert toy['kl'][mode][name] == pytest.approx(TOY_KL[mode][name], abs=5e-5)
    assert toy_case(ddof=0)['kl']['zscore']['S1'] == pytest.approx(0.1347, abs=5e-5)
    torch.manual_seed(0)
    for name in ('S1', 'S2'):
        s, t = toy[name][None].float(), toy['teacher'][None].float()
        assert float(kd_loss(s, t, 1.0)) == pytest.approx(TOY_KL['raw'][name], abs=5e-5)
        assert float(kd_loss(s, t, 1.0, True)) == pytest.approx(TOY_KL['zscore'][name], abs=5e-5)


@pytest.mark.parametrize('ddof', [0, 1], ids=['paper', 'code'])
def test_symbolic_gradient_k3(ddof):
    "Differentiate the whole standardized KD loss symbolically (K=3) and compare with the closed form."
    sp = pytest.importorskip('sympy')
    K = 3
    x, tau = sp.symbols('x0:3', real=True), sp.Symbol('tau', positive=True)
    p, E = sp.symbols('p0:3', positive=True), sp.symbols('E0:3', positive=True)
    c = [xi - sum(x) / K for xi in x]
    s = sp.sqrt(sum(ci**2 for ci in c) / (K - ddof))
    u = [ci / s for ci in c]
    q = [sp.exp(ui / tau) / sum(sp.exp(uj / tau) for uj in u) for ui in u]
    L = tau**2 * sum(pj * (sp.log(pj) - sp.log(qj)) for pj, qj in zip(p, q))
    dq = [qk - pk for qk, pk in zip(q, p)]
    proj = sum(dj * uj for dj, uj in zip(dq, u))
    closed = [tau / s * (dq[k] - u[k] / (K - ddof) * proj) for k in range(K)]
    on_simplex = {p[2]: 1 - p[0] - p[1]}
    # after differentiating, exp(u_k/tau) -> free positive E_k: a stronger identity, and 6x faster to simplify
    free_exps = {sp.exp(uk / tau): Ek for uk, Ek in zip(u, E)}
    diffs = [(sp.diff(L, x[k]) - closed[k]).subs(on_simplex).subs(free_exps) for k in range(K)]
    assert [sp.simplify(d) for d in diffs] == [0, 0, 0]


@pytest.mark.parametrize('ddof', [0, 1], ids=['paper', 'code'])
def test_symbolic_moments_k5(ddof):
    "K=5: zero mean and sum of squares K - ddof, symbolically."
    sp = pytest.importorskip('sympy')
    x = sp.symbols('x0:5', real=True)
    c = [xi - sum(x) / 5 for xi in x]
    u = [ci / sp.sqrt(sum(cj**2 for cj in c) / (5 - ddof)) for ci in c]
    assert sp.simplify(sum(u)) == 0 and sp.simplify(sum(ui**2 for ui in u)) == 5 - ddof

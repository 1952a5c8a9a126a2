"""The penalties and losses: finite-difference gradients, closed forms vs autograd, hand values."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from aekit.autoencoders import (
    contractive_elementwise,
    contractive_jacobian,
    contractive_sigmoid,
    cross_entropy,
    emphasis_weights,
    kl_sparsity,
    kurtosis,
    kurtosis_penalty,
    l1_activations,
    l1_weights,
    squared_error,
    straight_through,
    weight_decay,
)

from _tolerance import forward_bound, rounding_bound, unit_roundoff

D64 = torch.float64
# Hand values and closed forms in float64: a few dozen roundings of numbers of order one (2 x 32 u).
FEW = rounding_bound(D64, 32)


def _rand(*shape, seed=0, low=0.0, high=1.0):
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(*shape, generator=g, dtype=D64)).requires_grad_(True)


def _jacobian_sq_norm(f, x):
    """Mean over samples of ‖∂f(x_s)/∂x_s‖²_F by torch.autograd.functional.jacobian, sample by sample."""
    return sum(torch.autograd.functional.jacobian(f, xs, create_graph=True).square().sum() for xs in x) / x.shape[0]


# ------------------------------------------------------------ finite-difference gradient checks
def test_gradcheck_reconstruction_losses():
    x = _rand(4, 5, seed=1).detach()
    mask = torch.rand(4, 5, generator=torch.Generator().manual_seed(2)) < 0.3
    w = emphasis_weights(mask, 2.0, 0.5, D64)
    assert gradcheck(lambda y: squared_error(y, x, w), (_rand(4, 5, seed=3),))
    assert gradcheck(lambda z: cross_entropy(z, x, w), (_rand(4, 5, seed=4, low=-3, high=3),))


def test_gradcheck_weight_penalties():
    w1, w2 = _rand(4, 6, seed=5, low=-1, high=1), _rand(3, 4, seed=6, low=-1, high=1)
    assert gradcheck(lambda a, b: weight_decay([a, b]), (w1, w2))
    # |w| is smooth away from 0: keep entries away from it
    a = (_rand(4, 6, seed=7, low=0.1, high=1) * torch.where(torch.arange(24).reshape(4, 6) % 2 == 0, 1.0, -1.0)).detach()
    assert gradcheck(lambda t: l1_weights([t]), (a.requires_grad_(True),))


def test_gradcheck_kl_sparsity():
    rho = _rand(6, seed=8, low=0.02, high=0.9)
    assert gradcheck(lambda r: kl_sparsity(r, 0.05), (rho,))


def test_gradcheck_activation_penalties():
    h = _rand(6, 5, seed=9)
    assert gradcheck(kurtosis_penalty, (h,))
    assert gradcheck(l1_activations, (_rand(6, 5, seed=10, low=0.05, high=1),))


def test_gradcheck_contractive_closed_form_and_jacobian():
    x = _rand(3, 3, seed=11).detach()
    W, b = _rand(4, 3, seed=12, low=-1, high=1), _rand(4, seed=13, low=-0.5, high=0.5)

    def closed(W, b):
        return contractive_sigmoid(torch.sigmoid(F.linear(x, W, b)), W)

    def generic(W, b):
        return contractive_jacobian(lambda v: torch.tanh(F.linear(v, W, b)), x)

    assert gradcheck(closed, (W, b))
    assert gradcheck(generic, (W, b))


# ------------------------------------------------------------ KL: values and the lecture's derivative
def test_kl_sparsity_values():
    rho0 = 0.05
    assert kl_sparsity(torch.full((3,), rho0, dtype=D64), rho0).item() == pytest.approx(0.0, abs=FEW)
    r = 0.2
    expected = rho0 * math.log(rho0 / r) + (1 - rho0) * math.log((1 - rho0) / (1 - r))
    assert kl_sparsity(torch.tensor([r, r], dtype=D64), rho0).item() == pytest.approx(2 * expected, rel=FEW)
    with pytest.raises(ValueError, match="rho0"):
        kl_sparsity(torch.tensor([0.5]), 1.5)


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_kl_derivative_matches_lecture(beta):
    rho0 = 0.1
    rho = _rand(8, seed=14, low=0.01, high=0.95)
    (grad,) = torch.autograd.grad(beta * kl_sparsity(rho, rho0), rho)
    expected = beta * (-rho0 / rho + (1 - rho0) / (1 - rho))
    torch.testing.assert_close(grad, expected.detach(), rtol=FEW, atol=0)


def test_kl_saturated_unit_gets_finite_push_towards_target():
    rho = torch.tensor([0.0, 1.0], dtype=torch.float32, requires_grad=True)
    value = kl_sparsity(rho, 0.05)
    (grad,) = torch.autograd.grad(value, rho)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    assert grad[0] < 0 and grad[1] > 0  # gradient descent moves both back towards 0.05


def test_straight_through_kl_value_at_estimate_gradient_through_batch():
    rho0, beta = 0.05, 3.0
    h = _rand(10, 4, seed=15, low=0.01, high=0.5)
    rho_est = torch.tensor([0.1, 0.3, 0.02, 0.07], dtype=D64)
    rho_used = straight_through(rho_est, h.mean(0))
    value = beta * kl_sparsity(rho_used, rho0)
    assert value.item() == pytest.approx(beta * kl_sparsity(rho_est, rho0).item(), rel=FEW)
    (grad,) = torch.autograd.grad(value, h)
    per_unit = beta * (-rho0 / rho_est + (1 - rho0) / (1 - rho_est))
    torch.testing.assert_close(grad, (per_unit / h.shape[0]).expand_as(h), rtol=FEW, atol=0)


# ------------------------------------------------------------ kurtosis
def test_kurtosis_hand_value_and_scipy():
    h = torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=D64)
    assert kurtosis(h).item() == pytest.approx(7.0 / 3.0, rel=FEW)  # μ₄/σ⁴ = 0.08203125 / 0.1875²
    rng = np.random.default_rng(0)
    a = rng.exponential(size=(50, 8))
    ref = scipy.stats.kurtosis(a.ravel(), fisher=False)
    assert kurtosis(torch.from_numpy(a)).item() == pytest.approx(ref, rel=FEW)
    assert kurtosis_penalty(torch.from_numpy(a)).item() == pytest.approx(-math.log(ref), rel=FEW)


def test_kurtosis_is_higher_for_sparser_codes():
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(200, 20, generator=g)
    sparse = dense * (torch.rand(200, 20, generator=g) < 0.05)
    assert kurtosis_penalty(sparse) < kurtosis_penalty(dense)


def test_l1_activations_and_weights_hand_values():
    h = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    assert l1_activations(h).item() == pytest.approx(3.5 / 2)
    assert l1_weights([h, torch.ones(2)]).item() == pytest.approx(5.5)
    assert weight_decay([h]).item() == pytest.approx(0.5 * (1 + 4 + 0.25))


# ------------------------------------------------------------ reconstruction losses
def test_squared_error_and_cross_entropy_hand_values():
    x = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=D64)
    y = torch.tensor([[0.5, 0.5], [0.5, 1.5]], dtype=D64)
    assert squared_error(y, x).item() == pytest.approx(0.5 * (0.25 + 0.25 + 0 + 1.0) / 2)
    z = torch.tensor([[0.0, 2.0], [-1.0, 3.0]], dtype=D64)
    p = torch.sigmoid(z)
    manual = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum() / 2
    assert cross_entropy(z, x).item() == pytest.approx(manual.item(), rel=FEW)


def test_cross_entropy_is_stable_for_saturated_logits():
    x = torch.tensor([[0.0, 1.0]])
    z = torch.tensor([[200.0, -200.0]], requires_grad=True)
    value = cross_entropy(z, x)
    assert value.item() == pytest.approx(400.0)
    value.backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_emphasized_loss_with_equal_weights_is_the_plain_loss(alpha):
    x, y = _rand(6, 9, seed=16).detach(), _rand(6, 9, seed=17).detach()
    mask = torch.rand(6, 9, generator=torch.Generator().manual_seed(3)) < 0.25
    w = emphasis_weights(mask, alpha, alpha, D64)
    assert squared_error(y, x, w).item() == pytest.approx(alpha * squared_error(y, x).item(), rel=FEW)
    assert cross_entropy(y, x, w).item() == pytest.approx(alpha * cross_entropy(y, x).item(), rel=FEW)


def test_emphasized_loss_splits_corrupted_and_other_dimensions():
    x, y = _rand(6, 9, seed=18).detach(), _rand(6, 9, seed=19).detach()
    mask = torch.rand(6, 9, generator=torch.Generator().manual_seed(4)) < 0.4
    on, off = emphasis_weights(mask, 1.0, 0.0, D64), emphasis_weights(mask, 0.0, 1.0, D64)
    both = emphasis_weights(mask, 3.0, 0.5, D64)
    for loss in (squared_error, cross_entropy):
        assert loss(y, x, both).item() == pytest.approx(3.0 * loss(y, x, on).item() + 0.5 * loss(y, x, off).item())
    assert squared_error(y, x, on).item() == pytest.approx(0.5 * ((y - x)[mask] ** 2).sum().item() / 6)


# ------------------------------------------------------------ contraction: closed form vs autograd Jacobian
@pytest.mark.parametrize(
    "act, slope",
    [
        (torch.sigmoid, lambda h: h * (1 - h)),
        (torch.tanh, lambda h: 1 - h * h),
        (torch.relu, lambda h: (h > 0).to(h.dtype)),
        (lambda a: a, lambda h: torch.ones_like(h)),
    ],
    ids=["sigmoid", "tanh", "relu", "linear"],
)
def test_contractive_closed_form_equals_autograd_jacobian(act, slope):
    x = _rand(5, 7, seed=20).detach()
    W, b = _rand(9, 7, seed=21, low=-2, high=2).detach(), _rand(9, seed=22, low=-1, high=1).detach()
    f = lambda v: act(F.linear(v, W, b))  # noqa: E731
    h = f(x)
    closed = contractive_elementwise(slope(h), W)
    exact = _jacobian_sq_norm(f, x)
    # float64 sums of 9 x 7 non-negative squares, each entry a length-7 dot product away from exact;
    # far inside the relative 1e-5 the closed form is specified to
    rel = rounding_bound(D64, 9 * 7 + 7 + 2)
    assert closed.item() == pytest.approx(exact.item(), rel=rel)
    if act is torch.sigmoid:
        assert contractive_sigmoid(h, W).item() == pytest.approx(exact.item(), rel=rel)


@pytest.mark.numerics
def test_contractive_sigmoid_float32_is_within_its_rounding_of_the_exact_value():
    g = torch.Generator().manual_seed(0)
    x, W, b = torch.rand(16, 64, generator=g), torch.randn(100, 64, generator=g) * 0.3, torch.randn(100, generator=g)
    f = lambda v: torch.sigmoid(F.linear(v, W, b))  # noqa: E731
    closed = contractive_sigmoid(f(x), W)
    exact = _jacobian_sq_norm(lambda v: torch.sigmoid(F.linear(v, W.double(), b.double())), x.double())
    # The float32 codes h are within e_h of the exact ones (half of forward_bound: one computation); the
    # slopes s = h (1 - h) then within ds = e_h + 4 u s (|1 - 2h| <= 1), their squares within 2 s ds + ds^2,
    # weighted by the exact squared row norms; plus the rounding of the 64- and 100-term sums.
    e_h = torch.from_numpy(forward_bound(torch.float32, x, [(W, b, torch.sigmoid)]) / 2)
    h = torch.sigmoid(F.linear(x.double(), W.double(), b.double()))
    s = h * (1 - h)
    ds = e_h + 4 * unit_roundoff(torch.float32) * s
    bound = ((2 * s * ds + ds**2) @ W.double().square().sum(1)).mean().item()
    bound += rounding_bound(torch.float32, 64 + 100, exact.item())
    assert abs(closed.item() - exact.item()) <= bound


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_contractive_jacobian_deep_encoder_matches_autograd(mode):
    x = _rand(4, 6, seed=23).detach()
    W1, W2 = _rand(5, 6, seed=24, low=-1, high=1), _rand(8, 5, seed=25, low=-1, high=1)
    f = lambda v: F.softplus(F.linear(torch.tanh(F.linear(v, W1)), W2))  # noqa: E731
    ours = contractive_jacobian(f, x, mode=mode, chunk_size=3)
    ref = _jacobian_sq_norm(f, x)
    # float64: 6 x 8 squared entries, each a sum over 5 hidden units of products along the two layers; the
    # gradients chain that through the layers once more (scale: the largest gradient entry)
    n = 6 * 8 * 5 + 6 + 5
    assert ours.item() == pytest.approx(ref.item(), rel=rounding_bound(D64, n))
    g_ours = torch.autograd.grad(ours, (W1, W2))
    g_ref = torch.autograd.grad(ref, (W1, W2))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=rounding_bound(D64, 2 * n, b.abs().max().item()))
    with pytest.raises(ValueError, match="Jacobian mode"):
        contractive_jacobian(f, x, mode="sideways")


def test_contractive_jacobian_works_under_no_grad():
    x = _rand(3, 4, seed=26).detach()
    W = _rand(5, 4, seed=27).detach()
    with torch.no_grad():
        value = contractive_jacobian(lambda v: torch.sigmoid(F.linear(v, W)), x)
    assert value.item() == pytest.approx(contractive_sigmoid(torch.sigmoid(F.linear(x, W)), W).item(),
                                         rel=rounding_bound(D64, 5 * 4 + 4 + 2))


# ------------------------------------------------------------ closed-form gradients, Hutchinson, chunks
def test_reconstruction_gradients_match_autograd():
    from aekit.autoencoders import cross_entropy_gradient, squared_error_gradient

    x = _rand(6, 5, seed=11).detach()
    w = emphasis_weights(torch.rand(6, 5, generator=torch.Generator().manual_seed(3)) < 0.4, 2.0, 0.5, D64)
    for weight in (None, w):
        z = _rand(6, 5, seed=12, low=-4, high=4)
        (g,) = torch.autograd.grad(cross_entropy(z, x, weight), z)
        assert torch.allclose(cross_entropy_gradient(z.detach(), x, weight), g, rtol=1e-12, atol=1e-15)
        y = _rand(6, 5, seed=13)
        (g,) = torch.autograd.grad(squared_error(y, x, weight), y)
        assert torch.allclose(squared_error_gradient(y.detach(), x, weight), g, rtol=1e-12, atol=1e-15)


def _deep_encoder(seed=0):
    g = torch.Generator().manual_seed(seed)
    w1, b1 = torch.randn(7, 5, generator=g, dtype=D64), torch.randn(7, generator=g, dtype=D64)
    w2, b2 = torch.randn(4, 7, generator=g, dtype=D64) / 2, torch.randn(4, generator=g, dtype=D64)
    return (w1, b1, w2, b2), lambda x: torch.sigmoid(torch.tanh(x @ w1.t() + b1) @ w2.t() + b2)


def test_hutchinson_estimates_are_unbiased():
    from aekit.autoencoders import contractive_hutchinson, contractive_hutchinson_chain

    (w1, b1, w2, b2), encode = _deep_encoder()
    x = _rand(6, 5, seed=14, low=-1, high=1).detach()
    exact = contractive_jacobian(encode, x).item()
    a1 = torch.tanh(x @ w1.t() + b1)
    h = torch.sigmoid(a1 @ w2.t() + b2)
    slopes = [1 - a1 * a1, h * (1 - h)]
    g = torch.Generator().manual_seed(0)
    draws = 4000
    chain = torch.stack([contractive_hutchinson_chain([w1, w2], slopes, torch.randn(1, 5, generator=g, dtype=D64))
                         for _ in range(draws)])
    jvp = torch.stack([contractive_hutchinson(encode, x, 1, generator=g) for _ in range(draws // 4)])
    for estimates in (chain, jvp):
        # unbiased: the mean of the draws lies within 4 standard errors of the exact value
        assert abs(estimates.mean().item() - exact) <= 4 * estimates.std().item() / len(estimates) ** 0.5


def test_hutchinson_gradient_is_unbiased_for_the_weights():
    from aekit.autoencoders import contractive_hutchinson_chain

    (w1, b1, w2, b2), _ = _deep_encoder(seed=1)
    x = _rand(5, 5, seed=15, low=-1, high=1).detach()
    w1 = w1.clone().requires_grad_()

    def slopes():
        a1 = torch.tanh(x @ w1.t() + b1)
        h = torch.sigmoid(a1 @ w2.t() + b2)
        return [1 - a1 * a1, h * (1 - h)]

    encode = lambda t: torch.sigmoid(torch.tanh(t @ w1.t() + b1) @ w2.t() + b2)  # noqa: E731
    (exact,) = torch.autograd.grad(contractive_jacobian(encode, x), w1)
    g = torch.Generator().manual_seed(1)
    draws = torch.stack([torch.autograd.grad(contractive_hutchinson_chain([w1, w2], slopes(),
                                                                         torch.randn(2, 5, generator=g, dtype=D64)),
                                             w1)[0] for _ in range(3000)])
    err = (draws.mean(0) - exact).abs()
    assert (err <= 5 * draws.std(0) / len(draws) ** 0.5 + 1e-12).all()


def test_jacobian_in_chunks_equals_one_pass():
    (_, _, _, _), encode = _deep_encoder(seed=2)
    x = _rand(9, 5, seed=16, low=-1, high=1).detach()
    whole = contractive_jacobian(encode, x, chunk_size=9)
    for chunk in (1, 2, 4):
        assert contractive_jacobian(encode, x, chunk_size=chunk).item() == pytest.approx(whole.item(), rel=1e-12)

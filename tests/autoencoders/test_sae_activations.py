"""The sparse-autoencoder activations: JumpReLU's straight-through gradients, BatchTopK, TopK with ReLU, ReLU+L1."""

import math

import pytest
import torch

from aekit.autoencoders import BatchTopK, JumpReLU, ReLUL1, TopK
from aekit.autoencoders._jumprelu import heaviside_step, jumprelu, jumprelu_smoothed, step_smoothed

EPS = 0.1  # bandwidth of the tests: wide enough to put many entries inside the windows


def _jumprelu_problem(seed=0):
    """Pre-activations in float64 with entries inside each threshold's window, none near a window's edge."""
    g = torch.Generator().manual_seed(seed)
    theta = 0.2 + torch.rand(6, generator=g, dtype=torch.float64)
    z = theta + (torch.rand(40, 6, generator=g, dtype=torch.float64) - 0.5) * 4 * EPS
    edges = ((z - theta).abs() - EPS / 2).abs()
    z = torch.where(edges < 1e-3, z + 3e-3, z)  # keep finite differences away from the kernel's jumps
    weights = torch.randn(40, 6, generator=g, dtype=torch.float64)
    return z, theta, weights


def test_jumprelu_threshold_gradient_is_the_finite_difference_of_the_smoothed_objective():
    # objective sum(c * JumpReLU(z; theta)) + lam * sum(H(z - theta)): the straight-through
    # theta-gradient equals the exact derivative of the same objective with the smoothed functions
    z, theta, c = _jumprelu_problem()
    lam = 0.7
    t = theta.clone().requires_grad_()
    ((c * jumprelu(z, t, EPS)).sum() + lam * heaviside_step(z, t, EPS).sum()).backward()

    def smoothed(th):
        return float((c * jumprelu_smoothed(z, th, EPS)).sum() + lam * step_smoothed(z, th, EPS).sum())

    h = 1e-6
    for j in range(theta.numel()):
        e = torch.zeros_like(theta)
        e[j] = h
        fd = (smoothed(theta + e) - smoothed(theta - e)) / (2 * h)
        assert t.grad[j].item() == pytest.approx(fd, rel=1e-6, abs=1e-6)
    assert bool(((z - theta).abs() < EPS / 2).any())  # the windows were not empty


def test_jumprelu_input_gradient_is_the_exact_one_and_l0_gives_none():
    z, theta, c = _jumprelu_problem(1)
    zz = z.clone().requires_grad_()
    ((c * jumprelu(zz, theta, EPS)).sum() + heaviside_step(zz, theta, EPS).sum()).backward()
    torch.testing.assert_close(zz.grad, c * (z > theta).double(), rtol=0, atol=0)


def test_jumprelu_module_trains_log_threshold_through_the_chain_rule():
    z, theta, c = _jumprelu_problem(2)
    act = JumpReLU(6, threshold=0.3, bandwidth=EPS, l0_coefficient=0.5).double()
    with torch.no_grad():
        act.log_threshold.copy_(theta.log())
    h = act(z)
    terms = act.loss_terms(z, h)
    ((c * h).sum() + terms["sparsity_l0"] * z.shape[0]).backward()
    t = theta.clone().requires_grad_()
    ((c * jumprelu(z, t, EPS)).sum() + 0.5 * heaviside_step(z, t, EPS).sum()).backward()
    torch.testing.assert_close(act.log_threshold.grad, theta * t.grad)  # d/dlog(theta) = theta d/dtheta
    assert terms["sparsity_l0"].item() == pytest.approx(0.5 * float((z > theta).sum()) / z.shape[0])


def test_jumprelu_rescaled_codes_scale_with_the_inputs():
    act = JumpReLU(4, threshold=0.5)
    z = torch.tensor([[0.4, 0.6, 1.0, -1.0]])
    before = act(z)
    act.scale_codes(2.0)
    torch.testing.assert_close(act(2 * z), 2 * before)


def test_batchtopk_keeps_k_times_rows_while_training_and_thresholds_at_inference():
    g = torch.Generator().manual_seed(0)
    act = BatchTopK(5, threshold_momentum=0.5)
    z = torch.randn(40, 100, generator=g)
    h = act(z)
    assert int((h != 0).sum()) == 5 * 40
    kept = h[h != 0]
    assert float(act.threshold) == pytest.approx(float(kept.min()))  # the first batch sets theta
    assert int((h != 0).sum(dim=1).max()) > 5  # rows differ in how many they keep
    z2 = torch.randn(40, 100, generator=g)
    second_min = float(act(z2)[act(z2) != 0].min())
    theta = float(act.threshold)
    act.eval()
    torch.testing.assert_close(act(z2), z2 * (z2 > theta))
    torch.testing.assert_close(act.extract(z2), z2 * (z2 > theta))
    codes = act.select(z2)
    torch.testing.assert_close(codes.to_dense(), z2 * (z2 > theta))
    assert second_min > 0


def test_batchtopk_threshold_is_a_running_average_of_the_smallest_kept_code():
    act = BatchTopK(1, threshold_momentum=0.9)
    act(torch.tensor([[1.0, 0.0], [0.5, 0.0]]))  # keeps 1.0 and 0.5: theta = 0.5
    act(torch.tensor([[3.0, 0.0], [2.0, 0.0]]))  # min 2.0: theta = 0.9 * 0.5 + 0.1 * 2.0
    assert float(act.threshold) == pytest.approx(0.65)
    act.scale_codes(2.0)
    assert float(act.threshold) == pytest.approx(1.3)


def test_nonnegative_topk_keeps_exactly_k_per_row():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(64, 2048, generator=g) + 1.0
    act = TopK(16, anneal_fraction=0.0, nonnegative=True)
    h = act(z)
    assert bool(((h != 0).sum(dim=1) == 16).all()) and float(h.min()) >= 0.0
    codes = act.select(z)
    torch.testing.assert_close(codes.to_dense(), h)
    negative = TopK(3, nonnegative=True)(torch.full((2, 10), -1.0))
    assert float(negative.abs().sum()) == 0.0  # the ReLU after the selection


def test_relu_l1_penalty_and_rescaling():
    act = ReLUL1(2.0)
    z = torch.tensor([[1.0, -2.0, 3.0], [0.0, 0.5, -1.0]])
    h = act(z)
    assert act.loss_terms(z, h)["sparsity_l1"].item() == pytest.approx(2.0 * (4.0 + 0.5) / 2)
    assert ReLUL1(0.0).loss_terms(z, h) == {}
    act.scale_codes(3.0)  # positively homogeneous: nothing changes
    torch.testing.assert_close(act(3 * z), 3 * h)
    assert act.derivative(h).tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def test_bad_activation_settings_are_clear_errors():
    with pytest.raises(ValueError, match="threshold > 0"):
        JumpReLU(3, threshold=0.0)
    with pytest.raises(ValueError, match="threshold_momentum"):
        BatchTopK(3, threshold_momentum=1.0)
    with pytest.raises(ValueError, match="3 thresholds but the code has 4"):
        JumpReLU(3).check_width(4)
    with pytest.raises(ValueError, match="k=5 must be between 1 and the number of latents \\(4\\)"):
        BatchTopK(5).check_width(4)
    assert math.isinf(BatchTopK(2).output_range[1])

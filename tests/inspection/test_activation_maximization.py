"""Activation maximization by projected gradient ascent, checked against closed forms."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from torch import nn

from aekit.inspection import (
    activation_maximization,
    mean_pairwise_cosine,
    preferred_inputs,
    project_onto_constraint,
)
from aekit.inspection._activation_maximization import _MIN_STEP

from _tolerance import forward_bound, rounding_bound

# The ascent's default stopping rule: a step changes the activation by less than TOL relative. Near a
# maximum the steps shrink geometrically, so what is left to gain is a few TOL: solver tolerances below
# allow 10 TOL on activations; an input is determined to second order (1 - cos ~ relative activation gap).
TOL = 1e-5
# SLSQP's reference solutions stop on a function tolerance ftol: their point is within about sqrt(ftol).


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: thread start-up costs dominate


def _layer(n_in=30, n_out=8, activation=None, seed=0):
    torch.manual_seed(seed)
    lin = nn.Linear(n_in, n_out)
    return lin if activation is None else nn.Sequential(lin, activation)


def _cosine_to(inputs, targets):
    """Cosine of every start's input with its unit's target, shape (units, starts)."""
    a = inputs / np.linalg.norm(inputs, axis=-1, keepdims=True)
    b = targets / np.linalg.norm(targets, axis=-1, keepdims=True)
    return np.einsum("usd,ud->us", a, b)


@pytest.mark.parametrize("activation", [None, nn.Sigmoid()], ids=["linear", "sigmoid"])
def test_first_layer_optimum_is_the_closed_form(activation):
    model = _layer(activation=activation)
    lin = model if activation is None else model[0]
    rho = 2.0
    res = activation_maximization(model, 30, n_starts=5, norm=rho, random_state=0)
    target = preferred_inputs(lin.weight, norm=rho)  # rho * w_i / ||w_i||
    assert res.inputs.shape == (8, 5, 30)
    assert _cosine_to(res.inputs, target).min() > 0.999
    assert res.mean_cosine.min() > 0.999  # a convex problem: every start finds the same input
    # on the sphere: x rho / ||x|| in float32, a length-30 norm and a division
    np.testing.assert_allclose(np.linalg.norm(res.inputs, axis=-1), rho, rtol=rounding_bound(np.float32, 30 + 2))
    with torch.no_grad():
        best = model(torch.tensor(target, dtype=torch.float32)).diagonal().numpy()
    layers = [(lin.weight, lin.bias, torch.sigmoid if activation is not None else (lambda z: z))]
    rounding = forward_bound(torch.float32, target, layers).diagonal()
    np.testing.assert_allclose(res.activations, np.repeat(best[:, None], 5, axis=1), rtol=10 * TOL,
                               atol=rounding.max())
    assert res.converged.all()


def test_ball_constraint_also_ends_on_the_sphere_for_a_linear_unit():
    model = _layer()
    res = activation_maximization(model, 30, n_starts=3, norm=1.5, constraint="ball", random_state=1)
    assert _cosine_to(res.inputs, preferred_inputs(model.weight)).min() > 0.999
    # inside the ball until the ascent stops: a linear unit's activation grows with the norm, so a norm
    # short of 1.5 by more than the stopping tolerance would still be gaining
    np.testing.assert_allclose(np.linalg.norm(res.inputs, axis=-1), 1.5, rtol=10 * TOL)


def test_fixed_step_ascent_reaches_the_closed_form_too():
    model = _layer(activation=nn.Sigmoid())
    res = activation_maximization(
        model, 30, n_starts=3, norm=1.0, adaptive=False, learning_rate=0.02, max_steps=1000, tol=1e-7, random_state=2
    )
    assert _cosine_to(res.inputs, preferred_inputs(model[0].weight)).min() > 0.999


def test_box_bounds_match_a_general_solver():
    # maximize w.x subject to ||x|| <= rho and 0 <= x <= 1 (pixel range), reference: SLSQP;
    # in float64 (the inputs follow the model's dtype) so the stopping rule can go below float32's resolution
    model = _layer(n_in=10, n_out=3, seed=3).double()
    rho = 1.2
    res = activation_maximization(
        model, 10, n_starts=3, norm=rho, constraint="ball", bounds=(0.0, 1.0), tol=1e-12, random_state=0
    )
    assert res.inputs.dtype == np.float64
    assert res.inputs.min() >= 0.0 and res.inputs.max() <= 1.0
    assert np.linalg.norm(res.inputs, axis=-1).max() <= rho * (1 + rounding_bound(np.float64, 10 + 2))
    W = model.weight.detach().double().numpy()
    for i in range(3):
        ref = minimize(
            lambda x: -W[i] @ x, np.full(10, 0.01), jac=lambda x: -W[i], bounds=[(0, 1)] * 10, method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda x: rho**2 - x @ x, "jac": lambda x: -2 * x}],
            options={"ftol": 1e-12, "maxiter": 500},
        ).x
        # both stop on a function tolerance of 1e-12: points within about sqrt(1e-12) each (a factor 10 for
        # the constraint's curvature; measured: 1.4e-6)
        np.testing.assert_allclose(res.inputs[i], np.repeat(ref[None], 3, axis=0), atol=10 * np.sqrt(1e-12))


def test_deeper_units_beat_random_inputs_and_ascent_is_monotone():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(20, 16), nn.Sigmoid(), nn.Linear(16, 6), nn.Sigmoid())
    gen = torch.Generator().manual_seed(5)
    init = torch.randn(4, 20, generator=gen)
    res = activation_maximization(model, 20, n_starts=4, norm=3.0, init=init, random_state=0)
    with torch.no_grad():
        start = model(3.0 * init / init.norm(dim=1, keepdim=True)).T.numpy()  # (units, starts)
        probe = torch.randn(4000, 20, generator=gen)
        random_best = model(3.0 * probe / probe.norm(dim=1, keepdim=True)).max(dim=0).values.numpy()
    # adaptive steps never lower the activation (to the float32 rounding of the two evaluations)
    layers = [(model[0].weight, model[0].bias, torch.sigmoid), (model[2].weight, model[2].bias, torch.sigmoid)]
    rounding = forward_bound(torch.float32, 3.0 * init / init.norm(dim=1, keepdim=True), layers).T
    assert np.all(res.activations >= start - rounding)
    # nor ends below the best of 4000 random inputs, to the stopping tolerance
    assert np.all(res.best_activations >= random_best * (1 - 10 * TOL) - rounding.max())


@pytest.mark.numerics
def test_a_whole_layer_in_one_batch_equals_one_unit_at_a_time():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(15, 10), nn.Tanh(), nn.Linear(10, 5))
    init = torch.randn(3, 15, generator=torch.Generator().manual_seed(0))
    full = activation_maximization(model, 15, n_starts=3, norm=1.0, init=init)
    for unit in (0, 3):
        one = activation_maximization(model, 15, units=[unit], n_starts=3, norm=1.0, init=init)
        # batched or alone, the rounding differs and each run stops within the tolerance of the same maximum
        np.testing.assert_allclose(one.activations[0], full.activations[unit], rtol=10 * TOL)
        cos = (one.inputs[0] * full.inputs[unit]).sum(1) / (np.linalg.norm(one.inputs[0], axis=1) * np.linalg.norm(full.inputs[unit], axis=1))
        assert cos.min() >= 1 - 10 * TOL


def test_bound_method_conv_input_shape_and_module_state():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.drop = nn.Dropout(0.5)

        def encode(self, x):  # (n, 1, 6, 6) -> (n, 2, 4, 4): flattened to 32 units
            return torch.sigmoid(self.drop(self.conv(x)))

    torch.manual_seed(7)
    net = Net().train()
    res = activation_maximization(net.encode, (1, 6, 6), units=[0, 31], n_starts=2, norm=1.0, random_state=0)
    assert res.inputs.shape == (2, 2, 1, 6, 6)
    assert res.activations.shape == res.n_iter.shape == res.converged.shape == (2, 2)
    np.testing.assert_array_equal(res.units, [0, 31])
    assert net.training  # evaluation mode only during the run (no dropout noise in the ascent)
    assert all(p.grad is None for p in net.parameters())  # gradients only w.r.t. the input
    assert res.mean_cosine.min() > 0.999  # one conv unit is linear in its 3x3 window: convex


def test_seeded_runs_are_identical_and_a_generator_is_accepted():
    model = _layer(activation=nn.Sigmoid())
    a = activation_maximization(model, 30, units=[1, 2], n_starts=2, random_state=3, max_steps=5, tol=0)
    b = activation_maximization(model, 30, units=[1, 2], n_starts=2, random_state=3, max_steps=5, tol=0)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    c = activation_maximization(model, 30, units=[1, 2], n_starts=2, random_state=torch.Generator().manual_seed(3), max_steps=5)
    assert c.inputs.shape == (2, 2, 30)


def test_tol_zero_runs_every_step_and_one_start_has_no_cosine():
    model = _layer()
    res = activation_maximization(model, 30, units=2, n_starts=1, max_steps=7, tol=0.0, random_state=0)
    assert res.n_iter.tolist() == [[7]] and not res.converged.any()
    assert np.isnan(res.mean_cosine).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_model_device():
    model = _layer(activation=nn.Sigmoid()).cuda()
    res = activation_maximization(model, 30, n_starts=3, random_state=0)
    assert _cosine_to(res.inputs, preferred_inputs(model[0].weight)).min() > 0.999


def test_mean_pairwise_cosine_hand_cases():
    X = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [3.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]]])
    np.testing.assert_allclose(mean_pairwise_cosine(X), [0.0, 1.0, -1.0])
    three = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # pairs: 1, 0, 0
    np.testing.assert_allclose(mean_pairwise_cosine(three), [1 / 3])


def test_projections():
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(project_onto_constraint(x, norm=1.0), [[0.6, 0.8], [0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(project_onto_constraint(x, norm=1.0, constraint="ball"), [[0.6, 0.8], [0.3, 0.4], [0, 0]])
    # ball and box: compare with a general solver on random points
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 5)) * 2
    got = project_onto_constraint(torch.tensor(pts), norm=1.3, constraint="ball", bounds=(-0.2, 0.9)).numpy()
    for p, g in zip(pts, got):
        ref = minimize(
            lambda z: ((z - p) ** 2).sum(), np.zeros(5), jac=lambda z: 2 * (z - p), bounds=[(-0.2, 0.9)] * 5,
            constraints=[{"type": "ineq", "fun": lambda z: 1.3**2 - z @ z, "jac": lambda z: -2 * z}],
            method="SLSQP", options={"ftol": 1e-14, "maxiter": 500},
        ).x
        np.testing.assert_allclose(g, ref, atol=10 * np.sqrt(1e-14))  # SLSQP's point: within about sqrt(ftol)


def test_bad_arguments_get_clear_errors():
    model = _layer()
    with pytest.raises(ValueError, match=r"units \[8\] out of range.*8 output units.*0\.\.7"):
        activation_maximization(model, 30, units=[0, 8])
    with pytest.raises(ValueError, match=r"units \[-1\] out of range"):
        activation_maximization(model, 30, units=-1)
    with pytest.raises(ValueError, match="units must be"):
        activation_maximization(model, 30, units=[0.5])
    with pytest.raises(ValueError, match="units must be"):
        activation_maximization(model, 30, units=[])
    with pytest.raises(ValueError, match="n_starts must be an integer >= 1"):
        activation_maximization(model, 30, n_starts=0)
    with pytest.raises(ValueError, match="Unknown constraint 'cube'"):
        activation_maximization(model, 30, constraint="cube")
    with pytest.raises(ValueError, match="bounds need constraint='ball'"):
        activation_maximization(model, 30, bounds=(0, 1))
    with pytest.raises(ValueError, match="no input satisfies both"):
        activation_maximization(model, 30, constraint="ball", bounds=(0.5, 1.0), norm=1.0)
    with pytest.raises(ValueError, match="init must have shape"):
        activation_maximization(model, 30, n_starts=2, init=np.zeros((3, 30)))
    with pytest.raises(ValueError, match="does not depend on its input"):
        activation_maximization(lambda x: torch.zeros(x.shape[0], 4), 30)
    with pytest.raises(ValueError, match=r"shape \(n, m\)"):
        activation_maximization(lambda x: x.sum(), 30)
    with pytest.raises(ValueError, match="input_shape"):
        activation_maximization(model, 0)
    with pytest.raises(ValueError, match="floating torch.dtype"):
        activation_maximization(model, 30, dtype=torch.int64)


def _autoencoder_layers():
    from aekit.autoencoders import AutoencoderModule

    module = AutoencoderModule(30, 6, hidden_layer_sizes=(12,), generator=torch.Generator().manual_seed(0)).train()
    (W0, W1), (b0, b1) = module.encoder_weights, module.encoder_biases
    return module, W0, b0, W1, b1


def test_autoencoder_encoder_first_layer_and_code_layer():
    module, W0, b0, W1, b1 = _autoencoder_layers()
    # the code units through module.encode (a bound method: eval mode during the run only)
    res = activation_maximization(module.encode, 30, n_starts=4, norm=2.0, random_state=0)
    assert res.inputs.shape == (6, 4, 30) and module.training
    # their pre-activations have the same maximizers and do not saturate: never worse than the outputs' run
    code = lambda x: nn.functional.linear(torch.sigmoid(nn.functional.linear(x, W0, b0)), W1, b1)  # noqa: E731
    pre = activation_maximization(code, 30, n_starts=4, norm=2.0, random_state=0)
    with torch.no_grad():
        reached = module.encode(torch.as_tensor(pre.best_inputs)).diagonal().numpy()
    layers = [(W0.detach(), b0.detach(), torch.sigmoid), (W1.detach(), b1.detach(), torch.sigmoid)]
    rounding = forward_bound(torch.float32, pre.best_inputs, layers).diagonal()
    assert np.all(reached >= res.best_activations * (1 - 10 * TOL) - rounding)
    # the first encoder layer's pre-activation: the closed form rho * w_i / ||w_i||
    first = lambda x: nn.functional.linear(x, W0, b0)  # noqa: E731
    res1 = activation_maximization(first, 30, n_starts=3, norm=2.0, random_state=0)
    assert _cosine_to(res1.inputs, preferred_inputs(W0, norm=2.0)).min() > 0.999


def test_nonconvex_unit_starts_end_at_distinct_local_maxima():
    # in float64 so that the stopping rule can resolve the flat top of each maximum
    W0, b0, W1, b1 = (t.detach().double() for t in _autoencoder_layers()[1:])
    code = lambda x: nn.functional.linear(torch.sigmoid(nn.functional.linear(x, W0, b0)), W1, b1)  # noqa: E731
    res = activation_maximization(code, 30, n_starts=6, norm=2.0, tol=1e-12, random_state=0, dtype=torch.float64)
    # every solution is a stationary point on the sphere: the gradient is radial and points outwards
    x = torch.tensor(res.inputs.reshape(-1, 30), requires_grad=True)
    units = torch.as_tensor(res.units).repeat_interleave(6)
    (g,) = torch.autograd.grad(code(x).gather(1, units[:, None]).sum(), x)
    x_hat = x.detach() / x.detach().norm(dim=1, keepdim=True)
    radial = (g * x_hat).sum(dim=1, keepdim=True)
    assert torch.all(radial > 0)
    # A step of length eta along the tangential gradient g_t gains about eta |g_t|^2; the ascent stops when
    # that is below tol |h| with eta down to its smallest step (_MIN_STEP of the norm 2), so
    # |g_t| <= sqrt(tol |h| / smallest step).
    h = torch.as_tensor(res.activations.reshape(-1)).abs()
    assert torch.all((g - radial * x_hat).norm(dim=1) <= torch.sqrt(1e-12 * h / (_MIN_STEP * 2.0)))
    # unit 2 has several local maxima: starts at the same maximum agree, the others do not
    values = res.activations[2]
    same = np.abs(values[:, None] - values[None, :]) < 1e-3
    assert 1 < len({round(float(v), 2) for v in values})
    x2 = res.inputs[2] / np.linalg.norm(res.inputs[2], axis=1, keepdims=True)
    cos = x2 @ x2.T
    assert np.all(cos[same] > 0.999) and np.all(cos[~same] < 0.95)
    assert res.mean_cosine[2] < 0.95

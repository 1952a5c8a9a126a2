"""Closed-form first-layer preferred inputs: x_ij = w_ij / sqrt(sum_k w_ik^2)."""

import numpy as np
import pytest
import torch

from aekit.inspection import preferred_inputs

from _tolerance import rounding_bound


def test_hand_computed_rows():
    W = np.array([[3.0, 4.0], [0.0, -2.0], [1.0, 1.0]])
    X = preferred_inputs(W)
    np.testing.assert_allclose(X, [[0.6, 0.8], [0.0, -1.0], [2**-0.5, 2**-0.5]], rtol=rounding_bound(np.float64, 2 + 2))


def test_norm_scales_the_result_and_tensor_input_is_accepted():
    W = torch.tensor([[3.0, 4.0]])
    np.testing.assert_allclose(preferred_inputs(W, norm=5.0), [[3.0, 4.0]], rtol=rounding_bound(np.float32, 2 + 2))


def test_every_row_has_the_requested_norm_and_a_zero_row_stays_zero():
    W = np.random.default_rng(0).normal(size=(7, 20))
    W[3] = 0.0
    X = preferred_inputs(W, norm=2.5)
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(np.delete(norms, 3), 2.5, rtol=rounding_bound(np.float64, 20 + 2))
    assert np.all(X[3] == 0.0)


@pytest.mark.parametrize("f", [torch.sigmoid, torch.tanh, torch.relu, lambda z: z])
def test_no_input_of_the_same_norm_activates_a_unit_more(f):
    # h_i = f(w_i . x + b_i) for increasing f: the closed form beats 5000 random inputs on the sphere
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 12))
    b = rng.normal(size=5)
    X_star = preferred_inputs(W, norm=1.0)
    X = rng.normal(size=(5000, 12))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    h_star = f(torch.tensor(np.sum(W * X_star, axis=1) + b))
    h_rand = f(torch.tensor(X @ W.T + b))  # (5000, 5)
    # both sides are float64 length-12 dot products of unit vectors with w_i (within 12 u |w_i| each)
    slack = rounding_bound(np.float64, 12 + 2, np.abs(W).sum(axis=1).max() + np.abs(b).max())
    assert torch.all(h_rand <= h_star[None, :] + slack)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-D weight matrix"):
        preferred_inputs(np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        preferred_inputs(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="norm must be a positive"):
        preferred_inputs(np.ones((2, 2)), norm=0.0)
    with pytest.raises(ValueError, match="empty"):
        preferred_inputs(np.ones((0, 3)))

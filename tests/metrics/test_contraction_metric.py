"""Mean contraction ||J_f(x)||_F against closed forms."""

import numpy as np
import pytest
import torch

from aekit.metrics import jacobian_norms, mean_contraction


def sigmoid_layer(d=6, k=4, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, k), torch.nn.Sigmoid()).double()


def test_sigmoid_layer_closed_form():
    # h = sigmoid(W x + b): J = diag(h (1 - h)) W, ||J||_F^2 = sum_j (h_j (1 - h_j))^2 ||W_j||^2
    enc = sigmoid_layer()
    X = np.random.default_rng(0).normal(size=(37, 6))
    W = enc[0].weight.detach().numpy()
    b = enc[0].bias.detach().numpy()
    H = 1 / (1 + np.exp(-(X @ W.T + b)))
    expected = np.sqrt(((H * (1 - H)) ** 2) @ (W**2).sum(axis=1))
    np.testing.assert_allclose(jacobian_norms(enc, X), expected, rtol=1e-12)
    assert mean_contraction(enc, X) == pytest.approx(expected.mean(), rel=1e-12)
    # batching does not change the answer
    assert mean_contraction(enc, X, batch_size=5) == pytest.approx(expected.mean(), rel=1e-12)


def test_linear_map_is_frobenius_norm_of_its_matrix():
    A = torch.tensor([[1.0, 2.0], [0.0, -2.0], [3.0, 0.0]])  # ||A||_F = sqrt(1 + 4 + 4 + 9) = sqrt(18)
    X = torch.randn(10, 2)
    assert mean_contraction(lambda x: x @ A.T, X) == pytest.approx(np.sqrt(18), rel=1e-6)


def test_float32_module_and_no_parameter_grads():
    enc = sigmoid_layer().float()
    X = torch.randn(8, 6)
    value = mean_contraction(enc, X)
    ref = mean_contraction(enc.double(), X.double())
    assert value == pytest.approx(ref, rel=1e-5)
    assert all(p.grad is None for p in enc.parameters())


def test_bound_method_of_a_module_uses_its_dtype():
    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = sigmoid_layer()

        def encode(self, x):
            return self.layer(x)

    enc = Enc()
    X = np.random.default_rng(1).normal(size=(4, 6))
    assert mean_contraction(enc.encode, X) == pytest.approx(mean_contraction(enc.layer, X), rel=1e-12)


def test_bad_input():
    enc = sigmoid_layer()
    with pytest.raises(ValueError, match=r"\(n_samples, n_features\)"):
        mean_contraction(enc, np.zeros(6))
    with pytest.raises(ValueError, match="zero samples"):
        mean_contraction(enc, np.zeros((0, 6)))
    with pytest.raises(ValueError, match="NaN"):
        mean_contraction(enc, np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="batch_size"):
        mean_contraction(enc, np.zeros((2, 6)), batch_size=0)
    with pytest.raises(TypeError, match="callable"):
        mean_contraction("encoder", np.zeros((2, 6)))

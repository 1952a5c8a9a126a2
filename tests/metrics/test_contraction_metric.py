"""Mean contraction ||J_f(x)||_F against closed forms."""

import numpy as np
import pytest
import torch

from aekit.metrics import jacobian_norms, mean_contraction

from _tolerance import forward_bound, rounding_bound

# float64 Jacobian norms of a 6 -> 4 sigmoid layer: 4 x 6 squared entries, each a length-6 dot product away
F64 = rounding_bound(np.float64, 4 * 6 + 6 + 4)


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
    np.testing.assert_allclose(jacobian_norms(enc, X), expected, rtol=F64)
    assert mean_contraction(enc, X) == pytest.approx(expected.mean(), rel=F64 + rounding_bound(np.float64, 37))
    # batching does not change the answer
    assert mean_contraction(enc, X, batch_size=5) == pytest.approx(expected.mean(), rel=F64 + rounding_bound(np.float64, 37))


def test_linear_map_is_frobenius_norm_of_its_matrix():
    A = torch.tensor([[1.0, 2.0], [0.0, -2.0], [3.0, 0.0]])  # ||A||_F = sqrt(1 + 4 + 4 + 9) = sqrt(18)
    X = torch.randn(10, 2)
    # float32 sum of 6 squared integers, exact; the mean over 10 rows and the square root round
    assert mean_contraction(lambda x: x @ A.T, X) == pytest.approx(np.sqrt(18), rel=rounding_bound(np.float32, 10 + 6))


def test_float32_module_and_no_parameter_grads():
    enc = sigmoid_layer().float()
    X = torch.randn(8, 6)
    layer = enc[0]
    # float32 slopes h (1 - h) from h within forward_bound (|1 - 2h| <= 1), squared and weighted by
    # |W_j|^2 (relative: 2 ds / s), a 24-term sum; the square root halves the relative error
    e_h = forward_bound(torch.float32, X, [(layer.weight, layer.bias, torch.sigmoid)]) / 2
    value = mean_contraction(enc, X)
    ref = mean_contraction(enc.double(), X.double())
    with torch.no_grad():
        h = torch.sigmoid(layer.double()(X.double())).numpy()
    rel = (e_h / (h * (1 - h))).max() + rounding_bound(np.float32, 4 * 6 + 8)
    assert value == pytest.approx(ref, rel=rel)
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
    assert mean_contraction(enc.encode, X) == pytest.approx(mean_contraction(enc.layer, X), rel=F64)


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

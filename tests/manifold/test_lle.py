"""Locally linear embedding (standard and modified): agreement with scikit-learn, weights, out-of-sample, errors."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.decomposition import PCA as SkPCA
from sklearn.datasets import make_s_curve
from sklearn.manifold import LocallyLinearEmbedding as SkLLE

from aekit import io as aio
from aekit.manifold import LocallyLinearEmbedding
from aekit.manifold._lle import barycenter_weights
from aekit.metrics import procrustes_disparity


@pytest.fixture(scope="module")
def curve():
    X, _ = make_s_curve(400, random_state=0)
    return X


@pytest.mark.parametrize("method", ["standard", "modified"])
@pytest.mark.parametrize("eigen_solver", ["dense", "arpack"])
def test_matches_sklearn(curve, method, eigen_solver):
    X = curve
    kw = dict(n_neighbors=10, method=method, eigen_solver=eigen_solver, random_state=0)
    ours = LocallyLinearEmbedding(**kw).fit(X)
    sk = SkLLE(**kw).fit(X)
    assert procrustes_disparity(ours.embedding_, sk.embedding_) < 1e-8
    assert ours.reconstruction_error_ == pytest.approx(sk.reconstruction_error_, rel=1e-6)
    X_new, _ = make_s_curve(30, random_state=1)
    both = np.vstack([ours.embedding_, ours.transform(X_new)])
    assert procrustes_disparity(both, np.vstack([sk.embedding_, sk.transform(X_new)])) < 1e-8


def test_barycenter_weights_by_hand():
    # x is the midpoint of its two neighbours: w = (1/2, 1/2) for any reg (symmetry)
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    nbrs = torch.tensor([[[0.0, 0.0], [2.0, 2.0]]], dtype=torch.float64)
    np.testing.assert_allclose(barycenter_weights(x, nbrs, 1e-3).numpy(), [[0.5, 0.5]], atol=1e-14)
    # general case against the closed form (G + r I)^-1 1, normalized
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    N = rng.normal(size=(7, 5, 3))
    W = barycenter_weights(torch.as_tensor(X), torch.as_tensor(N), 0.1).numpy()
    for i in range(7):
        Z = N[i] - X[i]
        G = Z @ Z.T
        w = np.linalg.solve(G + 0.1 * np.trace(G) * np.eye(5), np.ones(5))
        np.testing.assert_allclose(W[i], w / w.sum(), rtol=1e-10)
    np.testing.assert_allclose(W.sum(1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("method", ["standard", "modified"])
def test_transform_of_training_points_is_close_to_embedding(curve, method):
    est = LocallyLinearEmbedding(n_neighbors=10, method=method, random_state=0).fit(curve)
    Y = est.transform(curve)
    # a training point is rebuilt mostly from itself (it is its own nearest neighbour);
    # regularization spreads a little weight to the others
    scale = np.abs(est.embedding_).max()
    assert np.abs(Y - est.embedding_).max() < 0.01 * scale
    assert procrustes_disparity(Y, est.embedding_) < 1e-5


def test_embedding_unrolls_the_curve(curve):
    X, t = make_s_curve(400, random_state=0)
    Y = LocallyLinearEmbedding(n_neighbors=12, random_state=0).fit_transform(X)

    def ordering(Z):  # how well one coordinate orders the points along the S (rank correlation)
        return max(abs(spearmanr(Z[:, j], t)[0]) for j in range(2))

    # against the linear control: the 2-D PCA orders them to 0.914, LLE to 0.9998
    assert ordering(Y) > 0.99 and ordering(Y) > ordering(SkPCA(2).fit_transform(X)) + 0.05


def test_errors(curve):
    X = curve
    with pytest.raises(ValueError, match=r"n_neighbors=400 is larger than n_samples - 1 = 399"):
        LocallyLinearEmbedding(n_neighbors=400).fit(X)
    with pytest.raises(ValueError, match="larger than n_features=3"):
        LocallyLinearEmbedding(n_components=4).fit(X)
    with pytest.raises(ValueError, match="method.*'standard'"):
        LocallyLinearEmbedding(method="hessian2").fit(X)
    with pytest.raises(ValueError, match="infinity"):
        LocallyLinearEmbedding().fit(np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X))
    est = LocallyLinearEmbedding(n_neighbors=10).fit(X)
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :2])
    two_blobs = np.vstack([X[:50], X[:50] + 100.0])
    with pytest.warns(UserWarning, match="disconnected \\(2 connected components\\).*Increase n_neighbors"):
        LocallyLinearEmbedding(n_neighbors=5).fit(two_blobs)


def test_save_load_round_trip(curve, tmp_path):
    est = LocallyLinearEmbedding(n_neighbors=10, method="modified", random_state=0).fit(curve)
    aio.save(est, tmp_path / "lle")
    back = aio.load(tmp_path / "lle")
    X_new = curve[:20] + 0.01
    np.testing.assert_array_equal(back.transform(X_new), est.transform(X_new))

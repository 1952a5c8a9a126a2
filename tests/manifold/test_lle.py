"""Locally linear embedding (standard and modified): agreement with scikit-learn, weights, out-of-sample, errors."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.decomposition import PCA as SkPCA
from sklearn.datasets import make_s_curve
from sklearn.manifold import LocallyLinearEmbedding as SkLLE
from sklearn.neighbors import NearestNeighbors

from aekit import io as aio
from aekit.manifold import LocallyLinearEmbedding
from aekit.manifold._lle import barycenter_weights, modified_lle_cost
from aekit.metrics import procrustes_disparity

from _tolerance import rounding_bound, unit_roundoff


def cost_matrix(X, est):
    """The (n, n) matrix M whose bottom eigenvectors are the embedding, rebuilt as the estimator builds it."""
    n, k = X.shape[0], est.n_neighbors
    ind = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(return_distance=False)
    Xt = torch.as_tensor(X, dtype=torch.float64)
    M = np.zeros((n, n))
    if est.method == "standard":
        IW = np.eye(n)
        np.add.at(IW, (np.repeat(np.arange(n), k), ind.ravel()), -barycenter_weights(Xt, Xt[ind], est.reg).numpy().ravel())
        return IW.T @ IW
    rows, cols, vals = modified_lle_cost(Xt, torch.as_tensor(ind), est.n_components, est.reg, est.modified_tol)
    np.add.at(M, (rows.numpy(), cols.numpy()), vals.numpy())
    return M


def agreement_bounds(X, est, arpack):
    """(disparity, reconstruction error) bounds for two computations of the embedding of X.

    M is perturbed by E = n u |M| (rounding, the dense solver's backward error), plus ARPACK's stopping
    tolerance relative to the kept eigenvalues; each kept eigenvalue moves by E (Weyl), each eigenvector
    turns by E / gap (Davis-Kahan) and the disparity is quadratic in that, plus 64 u to compute it.
    """
    lam = np.linalg.eigvalsh(cost_matrix(X, est))  # ascending; lam[0] ~ 0 is skipped
    kept = range(1, est.n_components + 1)
    E = len(lam) * U64 * np.abs(lam).max() + (est.tol * lam[est.n_components] if arpack else 0.0)
    turn = sum(2 * E / min(lam[i] - lam[i - 1], lam[i + 1] - lam[i]) for i in kept)
    return turn**2 + 64 * U64, 2 * est.n_components * 2 * E


U64 = unit_roundoff(np.float64)


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
    disparity, error = agreement_bounds(X, ours, arpack=eigen_solver == "arpack")
    assert procrustes_disparity(ours.embedding_, sk.embedding_) <= disparity
    assert ours.reconstruction_error_ == pytest.approx(sk.reconstruction_error_, abs=error)
    X_new, _ = make_s_curve(30, random_state=1)
    both = np.vstack([ours.embedding_, ours.transform(X_new)])
    # new points: barycentric weights over 10 neighbours of the (agreeing) embedding
    assert procrustes_disparity(both, np.vstack([sk.embedding_, sk.transform(X_new)])) <= disparity


def test_barycenter_weights_by_hand():
    # x is the midpoint of its two neighbours: w = (1/2, 1/2) for any reg (symmetry)
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    nbrs = torch.tensor([[[0.0, 0.0], [2.0, 2.0]]], dtype=torch.float64)
    np.testing.assert_allclose(barycenter_weights(x, nbrs, 1e-3).numpy(), [[0.5, 0.5]], atol=rounding_bound(np.float64, 8))
    # general case against the closed form (G + r I)^-1 1, normalized
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    N = rng.normal(size=(7, 5, 3))
    W = barycenter_weights(torch.as_tensor(X), torch.as_tensor(N), 0.1).numpy()
    for i in range(7):
        Z = N[i] - X[i]
        G = Z @ Z.T
        R = G + 0.1 * np.trace(G) * np.eye(5)
        w = np.linalg.solve(R, np.ones(5))
        # two solutions of the same regularized 5 x 5 system: its condition number times the rounding
        np.testing.assert_allclose(W[i], w / w.sum(), rtol=np.linalg.cond(R) * rounding_bound(np.float64, 5 + 3))
    np.testing.assert_allclose(W.sum(1), 1.0, rtol=rounding_bound(np.float64, 5 + 1))


@pytest.mark.parametrize("method", ["standard", "modified"])
def test_transform_of_training_points_is_close_to_embedding(curve, method):
    est = LocallyLinearEmbedding(n_neighbors=10, method=method, random_state=0).fit(curve)
    Y = est.transform(curve)
    # a training point is rebuilt mostly from itself (it is its own nearest neighbour);
    # regularization spreads a little weight to the others
    scale = np.abs(est.embedding_).max()
    # not rounding: the regularization's share (reg = 1e-3 of the local Gram trace) moved to the neighbours
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

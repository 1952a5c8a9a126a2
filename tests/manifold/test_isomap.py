"""Isomap and landmark Isomap: agreement with scikit-learn, out-of-sample, landmarks, errors, persistence.

The command line (`aekit fit isomap`) is tested in tests/cli/test_fit_manifold_cli.py."""


import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path
from sklearn.datasets import make_s_curve
from sklearn.manifold import Isomap as SkIsomap

from aekit import io as aio
from aekit.manifold import Isomap
from aekit.manifold._graph import _floyd_warshall_torch, min_plus_through, symmetrize
from aekit.manifold._mds import classical_mds
from aekit.metrics import procrustes_disparity, trustworthiness

from _tolerance import rounding_bound, subspace_disparity_bound, unit_roundoff

U64 = unit_roundoff(np.float64)


def mds_spectrum(D):
    """All eigenvalues of the double-centred -D^2 / 2 that Isomap diagonalizes."""
    n = D.shape[0]
    J = np.eye(n) - 1.0 / n
    return np.linalg.eigvalsh(-0.5 * J @ (D**2) @ J)


def disparity_tol(D, k=2):
    return subspace_disparity_bound(np.float64, D.shape[0], mds_spectrum(D), k)


def out_of_sample_tol(est, D):
    """How far transform() of points at geodesic distances D (n, m) to the m fitted (or landmark) points may
    lie from the eigenvector embedding of the same points: y = (mean - d^2) V / (2 sqrt(lambda)) sums m
    terms, and embedding_ = sqrt(lambda) V equals it up to the eigensolver's residual m u lambda_max."""
    lam, V = est.eigenvalues_, est.eigenvectors_
    m = est.mean_sq_distances_.shape[0]
    scale = (0.5 * (np.abs(est.mean_sq_distances_)[None] + D**2) @ np.abs(V) / np.sqrt(lam)).max()
    return rounding_bound(np.float64, m + 2, scale) + 2 * m * U64 * lam.max() / np.sqrt(lam.min())


@pytest.fixture(scope="module")
def roll():
    # an S-shaped sheet: at 400 points its 10-NN graph has no short circuits
    X, t = make_s_curve(400, random_state=0)
    return X, t


@pytest.fixture(scope="module")
def fitted(roll):
    X, _ = roll
    return Isomap(n_neighbors=10).fit(X), SkIsomap(n_neighbors=10).fit(X)


def test_matches_sklearn(roll, fitted):
    X, _ = roll
    ours, sk = fitted
    assert procrustes_disparity(ours.embedding_, sk.embedding_) <= disparity_tol(sk.dist_matrix_)
    # shortest paths: sums of at most n - 1 positive edge lengths, added in another order
    np.testing.assert_allclose(ours.dist_matrix_, sk.dist_matrix_, rtol=rounding_bound(np.float64, X.shape[0]))
    # the same neighbour ranks: the score is the same rational number, up to its float64 sum over n k ranks
    t = trustworthiness(X, sk.embedding_, 10)
    assert trustworthiness(X, ours.embedding_, 10) == pytest.approx(t, abs=rounding_bound(np.float64, X.shape[0] * 10))


@pytest.mark.parametrize("path_method", ["FW", "D"])
@pytest.mark.parametrize("eigen_solver", ["dense", "arpack", "randomized"])
def test_solvers_agree(roll, fitted, path_method, eigen_solver):
    X, _ = roll
    Y = Isomap(n_neighbors=10, path_method=path_method, eigen_solver=eigen_solver, random_state=0).fit_transform(X)
    # ARPACK runs to machine precision (tol=0); the randomized solver's power iterations converge at the
    # rate (lambda_3 / lambda_2)^(2q) = (27 / 145)^14 < 1e-10 relative, below rounding once squared
    assert procrustes_disparity(Y, fitted[0].embedding_) <= disparity_tol(fitted[0].dist_matrix_)


def test_radius_graph_matches_sklearn(roll):
    X, _ = roll
    ours = Isomap(n_neighbors=None, radius=0.5).fit(X)
    sk = SkIsomap(n_neighbors=None, radius=0.5).fit(X)
    tol = disparity_tol(sk.dist_matrix_)
    assert procrustes_disparity(ours.embedding_, sk.embedding_) <= tol
    X_new = X[:20] + 0.02
    assert procrustes_disparity(ours.transform(X_new), sk.transform(X_new)) <= tol


def test_out_of_sample(roll, fitted):
    X, _ = roll
    ours, sk = fitted
    # a training point reaches the graph through itself: its embedding comes back, to rounding
    atol = out_of_sample_tol(ours, ours.dist_matrix_)
    np.testing.assert_allclose(ours.transform(X), ours.embedding_, rtol=0, atol=atol)
    # many queries go through in blocks of rows
    np.testing.assert_allclose(ours.transform(np.tile(X, (30, 1))), np.tile(ours.embedding_, (30, 1)), rtol=0, atol=atol)
    X_new, _ = make_s_curve(50, random_state=1)
    assert procrustes_disparity(
        np.vstack([ours.embedding_, ours.transform(X_new)]), np.vstack([sk.embedding_, sk.transform(X_new)])
    ) <= disparity_tol(sk.dist_matrix_)


def test_landmarks_all_points_is_exact_isomap(roll, fitted):
    X, _ = roll
    lm = Isomap(n_neighbors=10, n_landmarks=X.shape[0], random_state=0).fit(X)
    assert procrustes_disparity(lm.embedding_, fitted[0].embedding_) <= disparity_tol(fitted[0].dist_matrix_)


@pytest.mark.parametrize("landmark_method", ["maxmin", "random"])
def test_landmark_isomap(roll, fitted, landmark_method):
    X, _ = roll
    lm = Isomap(n_neighbors=10, n_landmarks=40, landmark_method=landmark_method, random_state=0).fit(X)
    assert not hasattr(lm, "dist_matrix_")  # O(n L), not O(n^2)
    assert lm.landmark_distances_.shape == (40, X.shape[0])
    assert len(np.unique(lm.landmarks_)) == 40
    np.testing.assert_allclose(lm.landmark_distances_, fitted[0].dist_matrix_[lm.landmarks_],
                               rtol=rounding_bound(np.float64, X.shape[0]))
    # an approximation (40 landmarks for 400 points), not rounding
    assert procrustes_disparity(lm.embedding_, fitted[0].embedding_) < 2e-3
    assert trustworthiness(X, lm.embedding_, 10) > trustworthiness(X, fitted[0].embedding_, 10) - 0.01
    atol = out_of_sample_tol(lm, lm.landmark_distances_.T)
    np.testing.assert_allclose(lm.transform(X), lm.embedding_, rtol=0, atol=atol)


def test_maxmin_spreads_landmarks(roll, fitted):
    X, _ = roll
    D = fitted[0].dist_matrix_

    def coverage(method):
        lm = Isomap(n_neighbors=10, n_landmarks=15, landmark_method=method, random_state=3).fit(X)
        return D[lm.landmarks_].min(axis=0).max()  # farthest any point is from a landmark

    assert coverage("maxmin") < coverage("random")


def test_residual_variance_curve_finds_two_dimensions(roll):
    X, _ = roll
    for est in (Isomap(n_neighbors=10), Isomap(n_neighbors=10, n_landmarks=50, random_state=0)):
        curve = est.fit(X).residual_variance_curve(4)
        assert curve.shape == (4,)
        # the elbow is at the intrinsic dimension 2: a large drop, then a flat curve
        assert curve[1] < 0.002 and curve[0] > 5 * curve[1]
        assert abs(curve[2] - curve[1]) < 0.001


def test_floyd_warshall_in_torch_matches_scipy(roll):
    X, _ = roll
    from sklearn.neighbors import kneighbors_graph

    G = kneighbors_graph(X[:120], 6, mode="distance")
    expected = shortest_path(G, method="D", directed=False)
    got = _floyd_warshall_torch(G, torch.device("cpu")).numpy()
    np.testing.assert_allclose(got, expected, rtol=rounding_bound(np.float64, 120))  # paths of < 120 edges


def test_symmetrize_and_min_plus():
    G = sp.csr_matrix(np.array([[0, 1.0, 0], [0.5, 0, 0], [2.0, 0, 0]]))
    np.testing.assert_array_equal(symmetrize(G).toarray(), [[0, 0.5, 2.0], [0.5, 0, 0], [2.0, 0, 0]])
    D = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 3.0], [4.0, 3.0, 0.0]], dtype=torch.float64)
    e = torch.tensor([[0.5, 2.0]], dtype=torch.float64)
    i = torch.tensor([[0, 2]])
    # paths through node 0 (0.5 + row 0) or node 2 (2 + row 2): min(0.5, 6) min(1.5, 5) min(4.5, 2)
    np.testing.assert_allclose(min_plus_through(e, i, D).numpy(), [[0.5, 1.5, 2.0]])
    np.testing.assert_allclose(min_plus_through(e, i, D.T.contiguous(), columns=True).numpy(), [[0.5, 1.5, 2.0]])


def test_classical_mds_recovers_points():
    Z = np.random.default_rng(0).normal(size=(30, 3))
    D = torch.as_tensor(np.linalg.norm(Z[:, None] - Z[None], axis=-1))
    Y, values, _ = classical_mds(D, 3)
    # The disparity is 1 - (sum of singular values)^2 of unit-norm float64 embeddings: even for identical
    # shapes it is a few float64 ulps (eps = 2.2e-16), never exactly 0.
    assert procrustes_disparity(Y.numpy(), Z) < 64 * np.finfo(np.float64).eps
    expected = np.linalg.eigvalsh(np.cov(Z.T, bias=True) * 30)[::-1]
    # Weyl: each eigenvalue of the 30 x 30 matrix within 30 u lambda_max, twice (two computations)
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=rounding_bound(np.float64, 30, expected.max()))


def test_errors(roll):
    X, _ = roll
    two_blobs = np.vstack([np.random.default_rng(0).normal(size=(20, 2)), 100 + np.random.default_rng(1).normal(size=(20, 2))])
    with pytest.raises(ValueError, match=r"disconnected: it has 2 connected components \(sizes 20, 20\).*increase n_neighbors"):
        Isomap(n_neighbors=5).fit(two_blobs)
    with pytest.raises(ValueError, match="increase radius"):
        Isomap(n_neighbors=None, radius=1.0).fit(two_blobs)
    with pytest.raises(ValueError, match=r"n_neighbors=40 is larger than n_samples - 1 = 39"):
        Isomap(n_neighbors=40).fit(two_blobs)
    with pytest.raises(ValueError, match="exactly one of n_neighbors and radius"):
        Isomap(n_neighbors=5, radius=1.0).fit(X)
    with pytest.raises(ValueError, match="n_landmarks=500 is larger than n_samples=400"):
        Isomap(n_landmarks=500).fit(X)
    with pytest.raises(ValueError, match="path_method.*'FW'"):
        Isomap(path_method="dijkstra").fit(X)
    with pytest.raises(ValueError, match="NaN"):
        Isomap().fit(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X))
    est = Isomap(n_neighbors=10).fit(X)
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :2])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA"):
            Isomap(device="cuda").fit(X)
    with pytest.raises(ValueError, match="no training point within radius"):
        Isomap(n_neighbors=None, radius=0.5).fit(X).transform(X[:2] + 100)


@pytest.mark.parametrize("n_landmarks", [None, 30])
def test_save_load_round_trip(roll, tmp_path, n_landmarks):
    X, _ = roll
    est = Isomap(n_neighbors=10, n_landmarks=n_landmarks, random_state=0).fit(X)
    aio.save(est, tmp_path / "iso")
    back = aio.load(tmp_path / "iso")
    X_new = X[:25] + 0.02
    np.testing.assert_array_equal(back.transform(X_new), est.transform(X_new))
    np.testing.assert_array_equal(back.embedding_, est.embedding_)

"""Kernel PCA: kernels, centring, agreement with scikit-learn, Nyström, pre-images, errors, persistence."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_s_curve
from sklearn.decomposition import PCA as SkPCA
from sklearn.decomposition import KernelPCA as SkKernelPCA
from sklearn.metrics.pairwise import pairwise_kernels

from aekit import io as aio
from aekit.manifold import KernelPCA
from aekit.manifold._kernel_pca import centre_kernel, centre_test_kernel, pairwise_kernel
from aekit.metrics import procrustes_disparity

from _tolerance import rounding_bound, subspace_disparity_bound, unit_roundoff

U64 = unit_roundoff(np.float64)


def centred_spectrum(X, kernel, **kw):
    """All eigenvalues of the centred kernel matrix kernel PCA diagonalizes."""
    n = X.shape[0]
    J = np.eye(n) - 1.0 / n
    return np.linalg.eigvalsh(J @ pairwise_kernels(X, metric=kernel, **kw) @ J)[::-1]


def assert_within(actual, desired, bound):
    """|actual - desired| <= bound entrywise (bound broadcast, e.g. one per column)."""
    excess = np.abs(np.asarray(actual) - np.asarray(desired)) - bound
    assert excess.max() <= 0, f"exceeds its bound by up to {excess.max():.3g}"


def embedding_tol(lam, n, k):
    """Per-component bound (k,) on how far two computations of sqrt(lambda_i) v_i may differ, entrywise:
    with E = n u lambda_max (rounding of the kernel, backward error of the solver), v_i turns by E / gap_i
    (Davis-Kahan) and sqrt(lambda_i) moves by E / (2 sqrt(lambda_i)); twice, for two computations."""
    E = n * U64 * np.abs(lam).max()
    gaps = np.array([min(lam[i - 1] - lam[i] if i else np.inf, lam[i] - lam[i + 1]) for i in range(k)])
    return 2 * (np.sqrt(lam[:k]) * E / gaps + E / np.sqrt(lam[:k]))

KERNEL_PARAMS = {
    "linear": {},
    "rbf": dict(gamma=0.5),
    "poly": dict(gamma=0.3, degree=3, coef0=1.0),
    "sigmoid": dict(gamma=0.05, coef0=0.1),
    "cosine": {},
}


@pytest.fixture(scope="module")
def data():
    X, _ = make_s_curve(300, random_state=0)
    return X


@pytest.mark.parametrize("kernel", list(KERNEL_PARAMS))
def test_kernels_match_sklearn(kernel):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    kw = dict(KERNEL_PARAMS[kernel])
    ours = pairwise_kernel(torch.as_tensor(A), torch.as_tensor(B), kernel, gamma=kw.get("gamma", 1.0),
                           degree=kw.get("degree", 3), coef0=kw.get("coef0", 1.0)).numpy()
    # a length-3 dot product (or distance) of O(1) entries, then one function of it: a few roundings, with
    # the function's condition number (degree 3 for the cube, gamma |a||b| for the exponential) at most 3
    ref = pairwise_kernels(A, B, metric=kernel, **kw)
    np.testing.assert_allclose(ours, ref, rtol=3 * rounding_bound(np.float64, 3 + 4), atol=rounding_bound(np.float64, 3 + 4))


def test_centring_by_hand():
    rng = np.random.default_rng(1)
    X, X_new = rng.normal(size=(5, 2)), rng.normal(size=(3, 2))
    K = X @ X.T  # linear kernel: centring in feature space = centring the data
    Kc, col, total = centre_kernel(torch.as_tensor(K))
    Xc = X - X.mean(0)
    # centring sums 5 x 5 entries of scale max|K|: that rounding, against the product of centred data
    atol = rounding_bound(np.float64, 25, np.abs(K).max())
    np.testing.assert_allclose(Kc.numpy(), Xc @ Xc.T, atol=atol)
    new = centre_test_kernel(torch.as_tensor(X_new @ X.T), col, total).numpy()
    np.testing.assert_allclose(new, (X_new - X.mean(0)) @ Xc.T, atol=atol + rounding_bound(np.float64, 5, np.abs(X_new @ X.T).max()))


@pytest.mark.parametrize("kernel", list(KERNEL_PARAMS))
def test_matches_sklearn(data, kernel):
    X = data
    kw = dict(n_components=3, kernel=kernel, fit_inverse_transform=True, **KERNEL_PARAMS[kernel])
    ours, sk = KernelPCA(**kw).fit(X), SkKernelPCA(**kw).fit(X)
    X_new = X[:20] + 0.05
    n = X.shape[0]
    lam = centred_spectrum(X, kernel, **KERNEL_PARAMS[kernel])
    # Weyl: every eigenvalue within E = n u lambda_max, for each computation
    np.testing.assert_allclose(ours.eigenvalues_, sk.eigenvalues_, rtol=0, atol=2 * n * U64 * lam.max())
    # same deterministic signs as scikit-learn (largest entry of each eigenvector positive)
    emb = embedding_tol(lam, n, 3)
    assert_within(ours.embedding_, sk.transform(X), emb)
    # a new point's coordinates: its centred kernel row (norm <= sqrt(n) max|k|) against the turned
    # eigenvectors over sqrt(lambda), plus the rounding of that length-n sum
    k_new = np.abs(pairwise_kernels(np.vstack([X, X_new]), X, metric=kernel, **KERNEL_PARAMS[kernel])).max()
    new = 2 * np.sqrt(n) * k_new * emb / lam[:3] + rounding_bound(np.float64, n + 4, n * k_new / np.sqrt(lam[:3]))
    assert_within(ours.transform(X_new), sk.transform(X_new), new)
    assert_within(ours.transform(X), ours.embedding_, new)
    if kernel == "rbf":  # many queries go through in blocks of rows
        assert_within(ours.transform(np.tile(X, (50, 1))), np.tile(ours.embedding_, (50, 1)), new)
    # Pre-images: a kernel ridge regression from the embedding, (K_Z + alpha I)^-1 X, conditioned by
    # cond(K_Z + alpha I); its inputs (the embeddings) already differ by the bound above.
    Z = ours.transform(X_new)
    K_Z = pairwise_kernels(ours.embedding_, metric=kernel, **KERNEL_PARAMS[kernel]) + ours.alpha * np.eye(n)
    lipschitz = np.abs(X).max() * n * (1 + np.abs(ours.embedding_).max()) / ours.alpha  # |d pre-image / d Z|
    pre = np.linalg.cond(K_Z) * rounding_bound(np.float64, n, np.abs(X).max()) + lipschitz * new.max()
    assert_within(ours.inverse_transform(Z), sk.inverse_transform(Z), pre)


@pytest.mark.parametrize("eigen_solver", ["dense", "arpack", "randomized"])
def test_solvers_agree(data, eigen_solver):
    kw = dict(n_components=2, kernel="rbf", gamma=0.5)
    ref = KernelPCA(**kw, eigen_solver="dense").fit(data)
    est = KernelPCA(**kw, eigen_solver=eigen_solver, random_state=0).fit(data)
    # ARPACK to machine precision (tol=0), the randomized solver's 7 power iterations far below rounding
    # at this spectrum's decay
    bound = subspace_disparity_bound(np.float64, data.shape[0], centred_spectrum(data, "rbf", gamma=0.5), 2)
    assert procrustes_disparity(est.embedding_, ref.embedding_) <= bound


def test_linear_kernel_is_pca(data):
    Y = KernelPCA(kernel="linear").fit_transform(data)
    assert Y.shape == (300, 3)  # n_components=None keeps the positive eigenvalues: rank 3
    # the Gram matrix's and the covariance's eigenvectors span the same space; both to rounding, and
    # 1 - (sum of singular values)^2 in float64 costs a few ulps even for identical shapes
    assert procrustes_disparity(Y, SkPCA(3).fit_transform(data)) <= subspace_disparity_bound(
        np.float64, 300, centred_spectrum(data, "linear"), 3)


def test_nystroem(data):
    X = data
    exact = KernelPCA(n_components=2, kernel="rbf", gamma=0.5).fit(X)
    full = KernelPCA(n_components=2, kernel="rbf", gamma=0.5, n_landmarks=300, random_state=0).fit(X)
    lam = centred_spectrum(X, "rbf", gamma=0.5)
    # all points as landmarks: the same eigenproblem, to rounding
    assert procrustes_disparity(full.embedding_, exact.embedding_) <= subspace_disparity_bound(np.float64, 300, lam, 2)
    ny = KernelPCA(n_components=2, kernel="rbf", gamma=0.5, n_landmarks=60, random_state=0).fit(X)
    # 60 landmarks: an approximation, not rounding
    assert procrustes_disparity(ny.embedding_, exact.embedding_) < 1e-3
    np.testing.assert_allclose(ny.eigenvalues_, exact.eigenvalues_, rtol=0.05)
    # transform repeats the fit's Nystrom map on the same points: length-60 sums of kernel values <= 1
    scale = 60 * np.abs(ny.embedding_).max()
    np.testing.assert_allclose(ny.transform(X), ny.embedding_, rtol=0, atol=rounding_bound(np.float64, 60 + 4, scale))
    assert not hasattr(ny, "eigenvectors_") and ny.X_fit_.shape == (60, 3)  # O(n m) state


@pytest.mark.parametrize("n_landmarks", [None, 100])
def test_pre_image_reconstructs(data, n_landmarks):
    X = data
    est = KernelPCA(n_components=3, kernel="rbf", gamma=0.5, alpha=1e-3, fit_inverse_transform=True,
                    n_landmarks=n_landmarks, random_state=0).fit(X)
    X_new, _ = make_s_curve(50, random_state=1)
    err = np.mean((est.inverse_transform(est.transform(X_new)) - X_new) ** 2)
    assert err < 0.1 * np.mean((X_new - X.mean(0)) ** 2)  # far better than the mean


def test_errors(data):
    X = data
    with pytest.raises(ValueError, match="square"):
        KernelPCA(kernel="precomputed").fit(X)
    K = X @ X.T
    with pytest.raises(ValueError, match="without n_landmarks"):
        KernelPCA(kernel="precomputed", n_landmarks=10).fit(K)
    with pytest.raises(ValueError, match="kernel.*'rbf'"):
        KernelPCA(kernel="gaussian").fit(X)
    with pytest.raises(ValueError, match="n_landmarks=400 is larger than n_samples=300"):
        KernelPCA(n_landmarks=400).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        KernelPCA().fit(np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X))
    est = KernelPCA(n_components=2, kernel="rbf").fit(X)
    assert not hasattr(est, "inverse_transform")  # scikit-learn's convention for a method a setting turns off
    with pytest.raises(AttributeError, match="no attribute 'inverse_transform'") as info:
        est.inverse_transform(np.zeros((1, 2)))
    assert "refit with fit_inverse_transform=True" in str(info.value.__cause__)  # shown with the traceback
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :2])
    est = KernelPCA(n_components=2, kernel="rbf", fit_inverse_transform=True).fit(X)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        est.inverse_transform(np.zeros((1, 3)))


@pytest.mark.parametrize("n_landmarks", [None, 50])
def test_save_load_round_trip(data, tmp_path, n_landmarks):
    est = KernelPCA(n_components=2, kernel="rbf", gamma=0.5, fit_inverse_transform=True,
                    n_landmarks=n_landmarks, random_state=0).fit(data)
    aio.save(est, tmp_path / "kpca")
    back = aio.load(tmp_path / "kpca")
    X_new = data[:20] + 0.05
    np.testing.assert_array_equal(back.transform(X_new), est.transform(X_new))
    Z = est.transform(X_new)
    np.testing.assert_array_equal(back.inverse_transform(Z), est.inverse_transform(Z))

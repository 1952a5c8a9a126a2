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
    np.testing.assert_allclose(ours, pairwise_kernels(A, B, metric=kernel, **kw), rtol=1e-12, atol=1e-14)


def test_centring_by_hand():
    rng = np.random.default_rng(1)
    X, X_new = rng.normal(size=(5, 2)), rng.normal(size=(3, 2))
    K = X @ X.T  # linear kernel: centring in feature space = centring the data
    Kc, col, total = centre_kernel(torch.as_tensor(K))
    Xc = X - X.mean(0)
    np.testing.assert_allclose(Kc.numpy(), Xc @ Xc.T, atol=1e-12)
    new = centre_test_kernel(torch.as_tensor(X_new @ X.T), col, total).numpy()
    np.testing.assert_allclose(new, (X_new - X.mean(0)) @ Xc.T, atol=1e-12)


@pytest.mark.parametrize("kernel", list(KERNEL_PARAMS))
def test_matches_sklearn(data, kernel):
    X = data
    kw = dict(n_components=3, kernel=kernel, fit_inverse_transform=True, **KERNEL_PARAMS[kernel])
    ours, sk = KernelPCA(**kw).fit(X), SkKernelPCA(**kw).fit(X)
    X_new = X[:20] + 0.05
    np.testing.assert_allclose(ours.eigenvalues_, sk.eigenvalues_, rtol=1e-9)
    # same deterministic signs as scikit-learn (largest entry of each eigenvector positive)
    np.testing.assert_allclose(ours.embedding_, sk.transform(X), atol=1e-9)
    np.testing.assert_allclose(ours.transform(X_new), sk.transform(X_new), atol=1e-9)
    np.testing.assert_allclose(ours.transform(X), ours.embedding_, atol=1e-9)
    if kernel == "rbf":  # many queries go through in blocks of rows
        np.testing.assert_allclose(ours.transform(np.tile(X, (50, 1))), np.tile(ours.embedding_, (50, 1)), atol=1e-9)
    Z = ours.transform(X_new)
    np.testing.assert_allclose(ours.inverse_transform(Z), sk.inverse_transform(Z), atol=1e-8)


@pytest.mark.parametrize("eigen_solver", ["dense", "arpack", "randomized"])
def test_solvers_agree(data, eigen_solver):
    kw = dict(n_components=2, kernel="rbf", gamma=0.5)
    ref = KernelPCA(**kw, eigen_solver="dense").fit(data)
    est = KernelPCA(**kw, eigen_solver=eigen_solver, random_state=0).fit(data)
    assert procrustes_disparity(est.embedding_, ref.embedding_) < 1e-8


def test_linear_kernel_is_pca(data):
    Y = KernelPCA(kernel="linear").fit_transform(data)
    assert Y.shape == (300, 3)  # n_components=None keeps the positive eigenvalues: rank 3
    # 1 - (sum of singular values)^2 in float64: a few ulps (eps = 2.2e-16) even for identical shapes
    assert procrustes_disparity(Y, SkPCA(3).fit_transform(data)) < 64 * np.finfo(np.float64).eps


def test_nystroem(data):
    X = data
    exact = KernelPCA(n_components=2, kernel="rbf", gamma=0.5).fit(X)
    full = KernelPCA(n_components=2, kernel="rbf", gamma=0.5, n_landmarks=300, random_state=0).fit(X)
    assert procrustes_disparity(full.embedding_, exact.embedding_) < 1e-12  # all points as landmarks: exact
    ny = KernelPCA(n_components=2, kernel="rbf", gamma=0.5, n_landmarks=60, random_state=0).fit(X)
    assert procrustes_disparity(ny.embedding_, exact.embedding_) < 1e-3
    np.testing.assert_allclose(ny.eigenvalues_, exact.eigenvalues_, rtol=0.05)
    np.testing.assert_allclose(ny.transform(X), ny.embedding_, atol=1e-9)
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

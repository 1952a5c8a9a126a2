import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA

from aekit import io as aio
from aekit.decomposition import PCA
from aekit.decomposition._pca import column_moments, combine_moments


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


def test_lecture_example_eigenvalues_and_eigenvectors():
    # Sample covariance exactly [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1) and (1, -1).
    Z = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64) * np.sqrt(3 / 4)  # cov = I
    root = np.array([[np.sqrt(3) + 1, np.sqrt(3) - 1], [np.sqrt(3) - 1, np.sqrt(3) + 1]]) / 2  # root @ root = A
    X = Z @ root + 5.0
    pca = PCA().fit(X)
    np.testing.assert_allclose(pca.explained_variance_, [3.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ratio_, [0.75, 0.25], rtol=1e-12)
    np.testing.assert_allclose(np.abs(pca.components_), np.full((2, 2), np.sqrt(0.5)), rtol=1e-12)
    np.testing.assert_allclose(pca.components_[0], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-12)
    np.testing.assert_allclose(pca.mean_, [5.0, 5.0], rtol=1e-12)
    np.testing.assert_allclose(pca.singular_values_, np.sqrt([9.0, 3.0]), rtol=1e-12)


def test_agrees_with_sklearn_on_digits(digits):
    ours = PCA(20).fit(digits)
    ref = SkPCA(20, svd_solver="full").fit(digits)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, atol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-5)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-5)
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-5)
    # Same sign convention as scikit-learn: the components agree entry by entry.
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-4)
    Z = ours.transform(digits)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z, ref.transform(digits), atol=1e-4)
    np.testing.assert_allclose(ours.inverse_transform(Z), ref.inverse_transform(ref.transform(digits)), atol=1e-4)
    np.testing.assert_allclose(ours.get_covariance(), ref.get_covariance(), atol=1e-6)
    assert PCA(0.9).fit(digits).n_components_ == SkPCA(0.9, svd_solver="full").fit(digits).n_components_


def test_sign_convention_largest_loading_positive(digits):
    C = PCA(10).fit(digits).components_
    rows = np.arange(len(C))
    assert np.all(C[rows, np.abs(C).argmax(1)] > 0)


def test_whitened_outputs_are_unit_variance_and_uncorrelated(digits):
    pca = PCA(15, whiten=True).fit(digits.astype(np.float64))
    Z = pca.transform(digits.astype(np.float64))
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(15), atol=1e-8)
    np.testing.assert_allclose(pca.inverse_transform(Z), PCA(15).fit(digits.astype(np.float64)).inverse_transform(
        PCA(15).fit(digits.astype(np.float64)).transform(digits.astype(np.float64))), atol=1e-8)


def test_all_components_reconstruct_exactly():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    pca = PCA().fit(X)
    assert pca.n_components_ == 6
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-10)
    assert pca.noise_variance_ == 0.0


def test_negligible_eigenvalues_are_discarded_and_counts_checked():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(40, 3))
    X = np.hstack([A, A[:, :1] * 2.0 - A[:, 1:2], np.ones((40, 1))])  # rank 3 of 5 features
    pca = PCA().fit(X)
    assert (pca.rank_, pca.n_components_) == (3, 3)
    with pytest.raises(ValueError, match="numerical rank 3"):
        PCA(4).fit(X)
    with pytest.raises(ValueError, match=r"min\(n_samples, n_features\)=5"):
        PCA(6).fit(X)
    assert PCA(4, rtol=0.0).fit(X + 1e-3 * rng.normal(size=X.shape)).n_components_ == 4


def test_shifted_moments_are_stable_for_large_offsets():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 4)) * [1.0, 2.0, 0.5, 3.0] + 1e8  # naive X^T X - n mu mu^T loses every digit
    n, mean, scatter = column_moments(torch.from_numpy(X), chunk_rows=512)
    np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-14)
    np.testing.assert_allclose(scatter.numpy() / (n - 1), np.cov(X, rowvar=False), rtol=1e-9, atol=1e-9)


def test_chan_update_equals_one_pass():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(301, 5)) + 7.0
    whole = column_moments(torch.from_numpy(X))
    a = column_moments(torch.from_numpy(X[:120]))
    b = column_moments(torch.from_numpy(X[120:]))
    merged = combine_moments(*a, *b)
    assert merged[0] == whole[0]
    torch.testing.assert_close(merged[1], whole[1], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(merged[2], whole[2], rtol=1e-12, atol=1e-11)


def test_partial_fit_matches_fit_and_survives_save_load(digits, tmp_path):
    full = PCA(10).fit(digits)
    inc = PCA(10)
    batches = np.array_split(digits, 10)
    for batch in batches[:5]:
        inc.partial_fit(batch)
    aio.save(inc, tmp_path / "half")
    inc = aio.load(tmp_path / "half")
    for batch in batches[5:]:
        inc.partial_fit(batch)
    assert inc.n_samples_seen_ == len(digits)
    cos = np.abs(np.sum(inc.components_ * full.components_, axis=1))
    assert cos.min() >= 0.9999
    np.testing.assert_allclose(inc.explained_variance_ratio_, full.explained_variance_ratio_, atol=1e-7)
    np.testing.assert_allclose(inc.mean_, full.mean_, atol=1e-7)


def test_save_load_roundtrip_gives_identical_transform(digits, tmp_path):
    pca = PCA(0.95, whiten=True).fit(digits)
    aio.save(pca, tmp_path / "pca")
    back = aio.load(tmp_path / "pca", device="cpu")
    assert isinstance(back, PCA) and back.n_components_ == pca.n_components_
    np.testing.assert_array_equal(back.transform(digits), pca.transform(digits))
    np.testing.assert_array_equal(back.covariance_, pca.covariance_)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "NaN"),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "infinity"),
        (np.arange(5.0), "2D array"),
        (np.empty((0, 3)), "0 sample"),
        (np.ones((1, 3)), "1 sample"),
        (np.ones((5, 3)), "no variance"),
        (np.array([[0.0, 1.0], [3e20, 2.0], [1.0, 1.0]], dtype=np.float32), "overflows"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        PCA().fit(X)


def test_wrong_feature_count_is_refused(digits):
    pca = PCA(5).fit(digits)
    with pytest.raises(ValueError, match="features"):
        pca.transform(digits[:, :10])
    with pytest.raises(ValueError, match="5 components"):
        pca.inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="features"):
        pca.partial_fit(digits[:, :10])


def test_unknown_device_is_refused(digits):
    with pytest.raises(ValueError, match="device"):
        PCA(device="gpu9").fit(digits)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(digits):
    cpu = PCA(10).fit(digits)
    gpu = PCA(10, device="cuda").fit(digits)
    np.testing.assert_allclose(gpu.explained_variance_ratio_, cpu.explained_variance_ratio_, atol=1e-7)
    np.testing.assert_allclose(gpu.transform(digits), cpu.transform(digits), atol=1e-4)


@pytest.mark.slow
def test_mnist_matches_sklearn_full_solver(mnist_home):
    from aekit.datasets import load_mnist

    X = load_mnist("train", data_home=mnist_home, download=False).X
    ours = PCA(50).fit(X)
    ref = SkPCA(50, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, atol=1e-6)
    err_ours = np.mean((ours.inverse_transform(ours.transform(X)) - X) ** 2)
    err_ref = np.mean((ref.inverse_transform(ref.transform(X)) - X) ** 2)
    assert abs(err_ours - err_ref) <= 1e-5 * err_ref
    inc = PCA(50)
    for batch in np.array_split(X, 10):
        inc.partial_fit(batch)
    assert np.abs(np.sum(inc.components_ * ours.components_, axis=1)).min() >= 0.9999


def test_offset_judged_wrong_on_the_first_rows_is_corrected():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 3))
    X[200:] += 1e7  # the first rows sit at the origin, the rest far from it
    n, mean, scatter = column_moments(torch.from_numpy(X), chunk_rows=100)
    np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-14)
    np.testing.assert_allclose(scatter.numpy() / (n - 1), np.cov(X, rowvar=False), rtol=1e-8)


def test_fit_restores_the_thread_counts(digits):
    # A CPU fit runs torch, and the eigen stage of a small covariance the BLAS, on one thread: both come back after.
    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # more than the one the fit uses, so that a missing restore shows
    try:
        blas_before = blas_threads()
        PCA(5).fit(digits)
        PCA(5).partial_fit(digits[:100])
        assert (torch.get_num_threads(), blas_threads()) == (2, blas_before)
        bad = digits[:20].copy()
        bad[3, 3] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            PCA(5).fit(bad)
        assert (torch.get_num_threads(), blas_threads()) == (2, blas_before)
    finally:
        torch.set_num_threads(threads)

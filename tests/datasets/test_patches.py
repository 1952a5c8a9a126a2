"""Natural image patches: UFLDL normalization, positions, whitening."""

import numpy as np
import pytest

from aekit.datasets._patches import natural_image_patches, sample_photographs

from _tolerance import rounding_bound, unit_roundoff


@pytest.fixture(scope="module")
def photos():
    return sample_photographs()[0]


def test_shape_range_and_determinism():
    ds = natural_image_patches(2000, 8, random_state=0)
    assert ds.X.shape == (2000, 64) and ds.X.dtype == np.float32 and ds.image_shape == (8, 8)
    assert ds.X.min() >= 0.1 - 1e-6 and ds.X.max() <= 0.9 + 1e-6
    # mean removed per patch: the data centre maps to 0.5 (up to asymmetric clipping)
    assert abs(float(ds.X.mean()) - 0.5) < 5e-3
    # a few percent of entries are clipped at +-3 std
    clipped = np.mean((ds.X <= 0.1 + 1e-6) | (ds.X >= 0.9 - 1e-6))
    assert 0.0 < clipped < 0.05
    np.testing.assert_array_equal(ds.X, natural_image_patches(2000, 8, random_state=0).X)
    assert not np.array_equal(ds.X, natural_image_patches(2000, 8, random_state=1).X)
    assert set(ds.extras["images"]) == {"china.jpg", "flower.jpg"}


def test_patches_come_from_the_recorded_positions(photos):
    ds = natural_image_patches(50, 6, scale=None, random_state=3)
    for (img, r, c), x in zip(ds.extras["positions"], ds.X):
        patch = photos[img][r : r + 6, c : c + 6].ravel()
        # float32: a mean of 36 pixels in [0, 1] and a difference
        np.testing.assert_allclose(x, patch - patch.mean(), atol=rounding_bound(np.float32, 36 + 2))
    assert set(ds.extras["positions"][:, 0]) == {0, 1}


def test_pca_and_zca_whitening(photos):
    pca = natural_image_patches(5000, 5, whiten="pca", scale=None, epsilon=1e-9, random_state=0)
    Z = pca.X.astype(np.float64)
    cov = np.cov(Z, rowvar=False, bias=True)
    raw = natural_image_patches(5000, 5, scale=None, random_state=0).X.astype(np.float64)
    values, U = np.linalg.eigh(np.cov(raw, rowvar=False, bias=True))
    # identity except the one direction removed with each patch's mean: its eigenvalue is float64 rounding
    # (at most 25 u lambda_max), whitened to that over epsilon = 1e-9
    diag = np.sort(np.diag(cov))
    assert diag[0] <= 25 * unit_roundoff(np.float64) * values.max() / 1e-9
    # whitened exactly in float64 on these very patches, then stored in float32: each covariance entry
    # moves by at most 2 u mean(z^2) per factor
    atol = 4 * unit_roundoff(np.float32) * (Z**2).mean(axis=0).max() + rounding_bound(np.float64, Z.shape[0])
    np.testing.assert_allclose(diag[1:], 1.0, atol=atol)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=atol)
    zca = natural_image_patches(5000, 5, whiten=True, scale=None, epsilon=1e-9, random_state=0)
    W = zca.extras["whitening_matrix"]
    # ZCA: a symmetric filter bank, U diag U^T in float64
    np.testing.assert_allclose(W, W.T, atol=rounding_bound(np.float64, 25, np.abs(W).max()))
    # ZCA = PCA rotated back to pixel space: float32 values (|z| up to 12) through a length-25 product
    np.testing.assert_allclose(zca.X, pca.X @ U.T, atol=rounding_bound(np.float32, 25 + 2, np.abs(pca.X).max()))


def test_whitened_patches_are_scaled_too():
    ds = natural_image_patches(1000, 8, whiten="zca", random_state=0)
    assert ds.X.min() >= 0.1 - 1e-6 and ds.X.max() <= 0.9 + 1e-6
    assert "ZCA-whitened" in ds.description


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_patches": 0}, "n_patches"),
        ({"patch_size": 1}, "patch_size must be an integer between 2 and 427"),
        ({"patch_size": 1000}, "patch_size"),
        ({"whiten": "pcaa"}, "Unknown whiten 'pcaa': use one of 'none', 'pca', 'zca'"),
        ({"scale": (0.9, 0.1)}, "low < high"),
        ({"scale": 3}, "pair"),
        ({"epsilon": 0}, "epsilon"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        natural_image_patches(**{"n_patches": 10, **kwargs})

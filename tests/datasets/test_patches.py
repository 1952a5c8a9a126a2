"""Natural image patches: UFLDL normalization, positions, whitening."""

import numpy as np
import pytest

from aekit.datasets._patches import natural_image_patches, sample_photographs


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
        np.testing.assert_allclose(x, patch - patch.mean(), atol=1e-6)
    assert set(ds.extras["positions"][:, 0]) == {0, 1}


def test_pca_and_zca_whitening(photos):
    pca = natural_image_patches(5000, 5, whiten="pca", scale=None, epsilon=1e-9, random_state=0)
    Z = pca.X.astype(np.float64)
    cov = np.cov(Z, rowvar=False, bias=True)
    # identity except the one direction removed with each patch's mean (eigenvalue ~0)
    diag = np.sort(np.diag(cov))
    assert diag[0] < 1e-3
    np.testing.assert_allclose(diag[1:], 1.0, atol=1e-3)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-3)
    zca = natural_image_patches(5000, 5, whiten=True, scale=None, epsilon=1e-9, random_state=0)
    W = zca.extras["whitening_matrix"]
    np.testing.assert_allclose(W, W.T, atol=1e-8)  # ZCA: a symmetric filter bank
    # ZCA = PCA rotated back to pixel space
    U = np.linalg.eigh(np.cov(natural_image_patches(5000, 5, scale=None, random_state=0).X.astype(np.float64), rowvar=False, bias=True))[1]
    np.testing.assert_allclose(zca.X, pca.X @ U.T, atol=2e-4)


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

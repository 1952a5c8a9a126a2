"""Offline datasets: digits, swiss roll, S-curve."""

import numpy as np
import pytest
from sklearn import datasets as skd

from aekit.datasets import Dataset, load_digits, make_s_curve, make_swiss_roll


def test_digits():
    ds = load_digits()
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.float32
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.y.dtype == np.int64 and set(ds.y) == set(range(10))
    assert ds.image_shape == (8, 8)
    np.testing.assert_array_equal(ds.X * 16, skd.load_digits().data)


def test_swiss_roll_matches_sklearn_and_position():
    ds = make_swiss_roll(300, noise=0.2, random_state=3)
    X, t = skd.make_swiss_roll(300, noise=0.2, random_state=3)
    np.testing.assert_allclose(ds.X, X.astype(np.float32))
    np.testing.assert_allclose(ds.y, t)
    t_, h = ds.extras["intrinsic"].T
    np.testing.assert_allclose(t_, t)
    clean = np.column_stack([t * np.cos(t), h, t * np.sin(t)])
    assert (ds.X - clean).std() == pytest.approx(0.2, rel=0.15)
    assert ds.X.shape == (300, 3) and ds.X.dtype == np.float32 and ds.image_shape is None
    same = make_swiss_roll(300, noise=0.2, random_state=3)
    np.testing.assert_array_equal(same.X, ds.X)


def test_swiss_roll_hole_leaves_a_gap():
    ds = make_swiss_roll(2000, hole=True, random_state=0)
    t, h = ds.extras["intrinsic"].T
    # sklearn cuts the middle third of t and of h out of the sheet
    t_mid = (t > 1.5 * np.pi + np.pi) & (t < 1.5 * np.pi + 2 * np.pi)
    h_mid = (h > 7) & (h < 14)
    assert not np.any(t_mid & h_mid)


def test_s_curve():
    ds = make_s_curve(200, random_state=1)
    X, t = skd.make_s_curve(200, random_state=1)
    np.testing.assert_allclose(ds.X, X.astype(np.float32))
    np.testing.assert_allclose(ds.y, t)
    np.testing.assert_allclose(ds.X[:, 0], np.sin(ds.y), atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"n_samples": 0}, "n_samples"), ({"noise": -1.0}, "noise")])
def test_manifold_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_swiss_roll(**kwargs)


def test_dataset_record_checks_shapes():
    with pytest.raises(ValueError, match="X must be 2-D"):
        Dataset("a", np.zeros(3))
    with pytest.raises(ValueError, match="y must have shape"):
        Dataset("a", np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(ValueError, match="image_shape"):
        Dataset("a", np.zeros((3, 4)), image_shape=(3, 3))
    ds = Dataset("a", np.zeros((3, 4), dtype=np.float64), image_shape=[2, 2])
    assert ds.X.dtype == np.float32 and ds.image_shape == (2, 2) and len(ds) == 3
    assert "float32[3, 4]" in repr(ds)

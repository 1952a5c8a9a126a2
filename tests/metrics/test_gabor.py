"""Gabor fits of filters: the model, its Jacobian, recovery of known Gabors, noise fitting poorly."""

import numpy as np
import pytest

from aekit.metrics import fit_gabor, gabor_function, gabor_r2
from aekit.metrics._gabor import _gabor, _gabor_jacobian

from _tolerance import unit_roundoff


def test_gabor_function_hand_computed_values():
    # A=2, centre (1, 2), theta=0, sigma_x=1, sigma_y=2, f=0.25, phi=0, c=0.5 on a 4 x 3 grid
    g = gabor_function([2.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.25, 0.0, 0.5], (4, 3))
    assert g.shape == (4, 3)
    assert g[2, 1] == pytest.approx(2.5)  # at the centre: A cos(0) + c
    assert g[2, 2] == pytest.approx(2 * np.exp(-0.5) * np.cos(np.pi / 2) + 0.5)  # x' = 1: a quarter period
    assert g[2, 0] == pytest.approx(0.5)  # x' = -1: cos(-pi/2) = 0
    assert g[3, 1] == pytest.approx(2 * np.exp(-0.5 / 4) + 0.5)  # y' = 1, sigma_y = 2
    # rotating by 90 degrees swaps the roles of the axes
    h = gabor_function([2.0, 1.0, 2.0, np.pi / 2, 1.0, 2.0, 0.25, 0.0, 0.5], (4, 3))
    assert h[3, 1] == pytest.approx(2 * np.exp(-0.5) * np.cos(np.pi / 2) + 0.5)


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:8, 0:8].astype(np.float64)
    for _ in range(5):
        p = np.array([1.3, 3.2, 4.1, rng.uniform(0, np.pi), 1.7, 2.3, 0.18, rng.uniform(0, 6), 0.2])
        J = _gabor_jacobian(p, x, y)
        for i in range(p.size):
            e = np.zeros_like(p)
            e[i] = 1e-6
            numeric = (_gabor(p + e, x, y) - _gabor(p - e, x, y)).ravel() / 2e-6
            # Central differences err by h^2 |g^(3)| / 6 (the third derivative along p_i estimated by a third
            # difference with step 1e-2, doubled) plus 2 e_g / h, e_g the rounding of one evaluation: a few
            # dozen roundings of terms as large as |A| (1 + 2 pi f |x'|), |x'| <= 8 (the cosine's argument), and |c|
            E = 1e4 * e
            g3 = _gabor(p + 2 * E, x, y) - 2 * _gabor(p + E, x, y) + 2 * _gabor(p - E, x, y) - _gabor(p - 2 * E, x, y)
            g3 = np.abs(g3).max() / (2 * 1e-2**3)
            e_g = 32 * unit_roundoff(np.float64) * (abs(p[0]) * (1 + 2 * np.pi * p[6] * 8) + abs(p[8]))
            atol = 1e-12 * 2 * g3 / 6 + 2 * e_g / 1e-6
            np.testing.assert_allclose(J[:, i], numeric, rtol=0, atol=atol)


def _random_gabors(n, rng, size=8):
    params = np.column_stack([
        rng.uniform(0.5, 2.0, n) * rng.choice([-1, 1], n),
        rng.uniform(2.5, size - 3.5, n), rng.uniform(2.5, size - 3.5, n),
        rng.uniform(0, np.pi, n), rng.uniform(1.2, 2.5, n), rng.uniform(1.2, 2.5, n),
        rng.uniform(0.1, 0.3, n), rng.uniform(0, 2 * np.pi, n), rng.normal(0, 0.1, n),
    ])
    return params, np.stack([gabor_function(p, (size, size)) for p in params])


def test_synthetic_gabors_fit_with_r2_above_099_and_their_parameters_are_recovered():
    rng = np.random.default_rng(1)
    params, G = _random_gabors(6, rng)
    fit = fit_gabor(G.reshape(6, -1), (8, 8))
    assert (fit["r2"] > 0.99).all(), fit["r2"]
    assert fit["median_r2"] > 0.99 and fit["params"].shape == (6, 9)
    for p, q in zip(params, fit["params"]):
        # the carrier wave vector f (cos theta, sin theta) is recovered up to its sign
        k_true = p[6] * np.array([np.cos(p[3]), np.sin(p[3])])
        k_fit = q[6] * np.array([np.cos(q[3]), np.sin(q[3])])
        assert min(np.abs(k_true - k_fit).max(), np.abs(k_true + k_fit).max()) < 0.01
        np.testing.assert_allclose(gabor_function(q, (8, 8)), gabor_function(p, (8, 8)), atol=0.02)
    # R^2 is 1 - SS_res / SS_tot of the returned parameters
    w = G[0]
    res = ((w - gabor_function(fit["params"][0], (8, 8))) ** 2).sum()
    assert fit["r2"][0] == pytest.approx(1 - res / ((w - w.mean()) ** 2).sum())


def test_noise_fits_poorly_and_noisy_gabors_fit_well():
    rng = np.random.default_rng(2)
    r2 = gabor_r2(rng.normal(size=(4, 64)))
    assert (r2 < 0.5).all() and np.median(r2) < 0.4, r2
    _, G = _random_gabors(3, rng)
    noisy = G + 0.1 * G.std(axis=(1, 2), keepdims=True) * rng.normal(size=G.shape)
    assert (gabor_r2(noisy) > 0.95).all()


def test_shapes_constant_filters_and_errors():
    _, G = _random_gabors(2, np.random.default_rng(3), size=6)
    flat = G.reshape(2, 36)
    np.testing.assert_allclose(gabor_r2(flat), gabor_r2(G))  # square filters need no image_shape
    r2 = fit_gabor(np.vstack([flat, np.full((1, 36), 0.3)]))["r2"]
    assert np.isnan(r2[2]) and (r2[:2] > 0.99).all()
    wide = gabor_function([1, 5, 1.5, 0.3, 2, 1, 0.2, 0, 0], (3, 10))
    assert gabor_r2(wide.reshape(1, -1), (3, 10))[0] > 0.99
    with pytest.raises(ValueError, match="not a square number"):
        gabor_r2(np.zeros((1, 30)))
    with pytest.raises(ValueError, match="has 12 pixels"):
        gabor_r2(np.zeros((1, 30)), (3, 4))
    with pytest.raises(ValueError, match="NaN"):
        gabor_r2(np.full((1, 16), np.nan))
    with pytest.raises(ValueError, match="zero filters"):
        gabor_r2(np.zeros((0, 16)))

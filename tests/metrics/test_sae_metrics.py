"""Sparse-autoencoder metrics on tiny hand-computed cases."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aekit.metrics import (
    ce_loss_recovered,
    dead_latents,
    dense_latents,
    explained_variance,
    feature_density_histogram,
    firing_frequency,
    fraction_of_variance_unexplained,
    l0,
    mse,
    reconstruction_cosine,
)

# 4 rows, 5 latents: latent 0 fires on every row, 1 on two, 2 on one, 3 and 4 never
H = np.array([
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [2.0, 3.0, 0.0, 0.0, 0.0],
    [0.5, 1.0, 4.0, 0.0, 0.0],
    [1.0, 0.0, 0.0, 0.0, 0.0],
])


@pytest.mark.parametrize("as_", [np.asarray, sp.csr_matrix, torch.as_tensor])
def test_code_statistics_by_hand(as_):
    codes = as_(H)
    assert l0(codes) == pytest.approx((1 + 2 + 3 + 1) / 4)
    np.testing.assert_allclose(firing_frequency(codes), [1.0, 0.5, 0.25, 0.0, 0.0])
    assert dead_latents(codes).tolist() == [False, False, False, True, True]
    assert dead_latents(codes, window=1).tolist() == [False, True, True, True, True]  # only the last row
    assert dense_latents(codes).tolist() == [True, True, True, False, False]
    assert dense_latents(codes, threshold=0.3).tolist() == [True, True, False, False, False]
    counts, edges, n_dead = feature_density_histogram(codes)
    # log10 frequencies 0, -0.301, -0.602 in 0.25-wide bins from log10(1/4) = -0.602 (floored to -0.75)
    assert n_dead == 2 and counts.sum() == 3
    np.testing.assert_allclose(edges, [-0.75, -0.5, -0.25, 0.0])
    assert counts.tolist() == [1, 1, 1]


def test_reconstruction_metrics_by_hand():
    X = np.array([[1.0, 0.0], [3.0, 2.0]])
    X_hat = np.array([[1.0, 1.0], [3.0, 0.0]])
    # errors: 0, 1, 0, 4 -> sum 5; mean(X) = (2, 1): total variance 1 + 1 + 1 + 1 = 4
    assert mse(X, X_hat) == pytest.approx(5 / 4)
    assert fraction_of_variance_unexplained(X, X_hat) == pytest.approx(5 / 4)
    assert explained_variance(X, X_hat) == pytest.approx(-1 / 4)
    # cosines: (1,0).(1,1)/sqrt2 = 1/sqrt2; (3,2).(3,0)/(sqrt13*3) = 3/sqrt13
    assert reconstruction_cosine(X, X_hat) == pytest.approx((1 / np.sqrt(2) + 3 / np.sqrt(13)) / 2)
    assert reconstruction_cosine(X, np.zeros_like(X)) == 0.0
    assert explained_variance(X, X) == 1.0
    assert np.isnan(fraction_of_variance_unexplained(np.ones((3, 2)), np.zeros((3, 2))))
    with pytest.raises(ValueError, match="same shape"):
        mse(X, X_hat[:, :1])


def test_ce_loss_recovered_by_hand():
    assert ce_loss_recovered(2.0, 2.0, 6.0) == 1.0
    assert ce_loss_recovered(2.0, 6.0, 6.0) == 0.0
    assert ce_loss_recovered(2.0, 2.5, 6.0) == pytest.approx(1 - 0.5 / 4)
    assert ce_loss_recovered(2.0, 7.0, 6.0) == pytest.approx(-0.25)  # worse than ablation
    with pytest.raises(ValueError, match="must exceed ce_clean"):
        ce_loss_recovered(3.0, 3.5, 3.0)
    with pytest.raises(ValueError, match="finite"):
        ce_loss_recovered(3.0, float("nan"), 4.0)

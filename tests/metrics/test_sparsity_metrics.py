"""Sparsity statistics on hand-computed activation matrices."""

import numpy as np
import pytest
from scipy import stats

from aekit.metrics import kurtosis, sparsity_stats, treves_rolls_sparseness


def test_treves_rolls_by_hand():
    # one active of four -> a = 1/4, S = 1; all equal -> S = 0; two of four -> a = 1/2, S = (1/2)/(3/4) = 2/3
    np.testing.assert_allclose(treves_rolls_sparseness([[1, 0, 0, 0]], axis=1), [1.0])
    np.testing.assert_allclose(treves_rolls_sparseness([[1, 1, 1, 1]], axis=1), [0.0])
    np.testing.assert_allclose(treves_rolls_sparseness([[1, 1, 0, 0]], axis=1), [2 / 3])
    np.testing.assert_allclose(treves_rolls_sparseness([[-2, 2, 0, 0]], axis=1), [2 / 3])  # magnitudes
    assert np.isnan(treves_rolls_sparseness([[0, 0, 0]], axis=1)[0])


def test_sparsity_stats_by_hand():
    H = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 0.0],
        ]
    )
    s = sparsity_stats(H)
    np.testing.assert_allclose(s["mean_activation"], [1, 2 / 3, 1 / 3, 0])
    # unit 0 always on (S=0); unit 1 on 2 of 3: a = (2/3)^2/(2/3) = 2/3, S = (1/3)/(2/3) = 1/2;
    # unit 2 on 1 of 3: S = 1; unit 3 dead: undefined
    np.testing.assert_allclose(s["lifetime_sparsity"][:3], [0.0, 0.5, 1.0])
    assert np.isnan(s["lifetime_sparsity"][3])
    assert s["mean_lifetime_sparsity"] == pytest.approx(0.5)
    # sample codes: 1 of 4 -> 1, 2 of 4 -> 2/3, 3 of 4: a = (3/4)^2/(3/4) = 3/4, S = (1/4)/(3/4) = 1/3
    np.testing.assert_allclose(s["population_sparsity"], [1.0, 2 / 3, 1 / 3])
    assert s["mean_population_sparsity"] == pytest.approx(2 / 3)
    np.testing.assert_array_equal(s["dead_units"], [False, False, False, True])
    assert s["dead_fraction"] == 0.25
    assert s["active_fraction"] == 0.5


def test_kurtosis_lecture_definition():
    # [0, 0, 0, 1]: mu = 1/4, m2 = 3/16, m4 = 21/256 -> 7/3
    assert kurtosis([0, 0, 0, 1]) == pytest.approx(7 / 3)
    assert sparsity_stats(np.array([[0.0, 0.0], [0.0, 1.0]]))["kurtosis"] == pytest.approx(7 / 3)
    rng = np.random.default_rng(0)
    v = rng.laplace(size=(2000, 5))
    assert kurtosis(v) == pytest.approx(stats.kurtosis(v.ravel(), fisher=False))
    assert np.isnan(kurtosis([2, 2, 2]))


def test_threshold_defines_dead_and_active():
    H = np.array([[1e-4, 0.5], [2e-4, 0.0]])
    assert sparsity_stats(H)["dead_fraction"] == 0.5
    assert sparsity_stats(H, threshold=1e-5)["dead_fraction"] == 0.0
    assert sparsity_stats(H, threshold=0.0)["active_fraction"] == 0.75


def test_sparse_code_scores_sparser_than_dense():
    rng = np.random.default_rng(1)
    dense = rng.uniform(0.4, 0.6, size=(500, 20))
    sparse = dense * (rng.random((500, 20)) < 0.05)
    assert sparsity_stats(sparse)["mean_population_sparsity"] > 0.8 > 0.1 > sparsity_stats(dense)["mean_population_sparsity"]
    assert sparsity_stats(sparse)["kurtosis"] > sparsity_stats(dense)["kurtosis"]


def test_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        sparsity_stats(np.ones((2, 2)), threshold=-1)
    with pytest.raises(ValueError, match=r"\(n_samples, n_features\)"):
        sparsity_stats(np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        sparsity_stats(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        sparsity_stats(np.array([[np.nan]]))

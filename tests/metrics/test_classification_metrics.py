"""Linear probe and k-NN accuracy on hand-built codes."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aekit.metrics import knn_accuracy, linear_probe_accuracy

Z_TRAIN = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
Y_TRAIN = np.array([0, 0, 0, 1, 1, 1])


def test_knn_by_hand():
    Z_test = np.array([[1.5], [10.5], [5.9]])
    # k=3 neighbours of 5.9: 2 (3.9), 10 (4.1), 1 (4.9) -> labels 0, 1, 0 -> vote 0
    assert knn_accuracy(Z_TRAIN, Y_TRAIN, Z_test, [0, 1, 1], k=3) == pytest.approx(2 / 3)
    # k=1: nearest to 5.9 is 2 -> label 0
    assert knn_accuracy(Z_TRAIN, Y_TRAIN, Z_test, [0, 1, 0], k=1) == 1.0
    assert knn_accuracy(Z_TRAIN, Y_TRAIN, Z_test, [1, 0, 1], k=1) == 0.0


def test_linear_probe_by_hand():
    # separable in one dimension: the probe reads the labels; the last test point is mislabelled on purpose
    Z_test = np.array([[0.5], [11.5], [1.5], [0.2]])
    assert linear_probe_accuracy(Z_TRAIN, Y_TRAIN, Z_test, [0, 1, 0, 1]) == 0.75
    assert linear_probe_accuracy(Z_TRAIN, Y_TRAIN, Z_test, [0, 1, 0, 0]) == 1.0


def test_linear_probe_agrees_with_sklearn_pipeline():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 5)) * [1, 10, 100, 0.1, 1]
    y = (Z[:, 0] + Z[:, 1] / 10 + rng.normal(scale=0.8, size=300) > 0).astype(int) + (Z[:, 2] > 50)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500, random_state=0))
    ref.fit(Z[:200], y[:200])
    expected = np.mean(ref.predict(Z[200:]) == y[200:])
    assert linear_probe_accuracy(Z[:200], y[:200], Z[200:], y[200:], C=0.5, max_iter=500) == expected
    assert 0.7 < expected < 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: knn_accuracy(Z_TRAIN, Y_TRAIN, np.zeros((2, 2)), [0, 1]), "Z_train has 1 features but Z_test has 2"),
        (lambda: knn_accuracy(Z_TRAIN, Y_TRAIN[:3], Z_TRAIN, Y_TRAIN), r"y_train must have shape \(6,\)"),
        (lambda: knn_accuracy(Z_TRAIN, Y_TRAIN, Z_TRAIN, Y_TRAIN, k=7), "k must be an integer between 1 and n_train=6"),
        (lambda: linear_probe_accuracy(Z_TRAIN, np.zeros(6), Z_TRAIN, Y_TRAIN), "single class"),
        (lambda: linear_probe_accuracy(Z_TRAIN, Y_TRAIN, Z_TRAIN, Y_TRAIN, C=0), "C must be a positive"),
        (lambda: linear_probe_accuracy(np.ones(6), Y_TRAIN, Z_TRAIN, Y_TRAIN), r"\(n_samples, n_features\)"),
        (lambda: linear_probe_accuracy(Z_TRAIN + np.inf, Y_TRAIN, Z_TRAIN, Y_TRAIN), "NaN or infinity"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()

"""Trustworthiness, continuity, residual variance and Procrustes disparity."""

import numpy as np
import pytest
import torch
from scipy.spatial import procrustes
from sklearn.manifold import trustworthiness as sk_trustworthiness

import aekit.metrics._embedding as emb
from aekit.metrics import continuity, procrustes_disparity, residual_variance, trustworthiness, trustworthiness_continuity

from _tolerance import rounding_bound


def score_tol(n, k):
    """Trustworthiness from the same integer rank penalties (float64 distances, no ties here), summed over
    n k neighbours in another order and scaled: the rounding of that float64 sum."""
    return rounding_bound(np.float64, n * k)

# Six points on a line with gaps 1, 2, 3, 4, 5; the embedding swaps the two ends.
LINE = np.array([[0.0], [1.0], [3.0], [6.0], [10.0], [15.0]])
SWAPPED = np.array([[15.0], [1.0], [3.0], [6.0], [10.0], [0.0]])


def test_tiny_case_by_hand():
    # k = 1. Embedding neighbours: 0->4, 1->5, 2->1, 3->2, 4->3, 5->1; their ranks in the
    # data: 4, 5, 1, 1, 1, 4 -> penalties 3 + 4 + 3 = 10. Data neighbours 0->1, 1->0, 5->4
    # rank 4, 5, 4 in the embedding -> also 10. T = C = 1 - 2 * 10 / (6 * 1 * (12 - 3 - 1)).
    expected = 1 - 20 / 48
    assert trustworthiness(LINE, SWAPPED, 1) == pytest.approx(expected, abs=score_tol(6, 1))
    assert continuity(LINE, SWAPPED, 1) == pytest.approx(expected, abs=score_tol(6, 1))
    Z = np.random.default_rng(0).normal(size=(40, 2))
    assert trustworthiness(Z, -3 * Z[:, ::-1] + 1, 5) == 1.0  # similar embeddings keep every neighbour


def test_agrees_with_sklearn_and_is_symmetric(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    Ys = [X[:, :2] + 0.5 * rng.normal(size=(200, 2)), rng.normal(size=(200, 2))]
    for Y in Ys:
        for k in (1, 5, 30, 99):
            t, c = trustworthiness_continuity(X, Y, k)
            assert t == pytest.approx(sk_trustworthiness(X, Y, n_neighbors=k), abs=score_tol(200, k))
            assert c == pytest.approx(sk_trustworthiness(Y, X, n_neighbors=k), abs=score_tol(200, k))
    assert continuity(X, Ys[0], 5) == pytest.approx(trustworthiness(Ys[0], X, 5), abs=score_tol(200, 5))
    # small blocks: every chunk loop and the full-row ranking of far neighbours run many times
    monkeypatch.setattr(emb, "_BLOCK", 20000)
    t, c = trustworthiness_continuity(X, Ys[1], 7)
    assert t == pytest.approx(sk_trustworthiness(X, Ys[1], n_neighbors=7), abs=score_tol(200, 7))
    assert c == pytest.approx(sk_trustworthiness(Ys[1], X, n_neighbors=7), abs=score_tol(200, 7))


def test_accepts_tensors_and_float32():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3)).astype(np.float32)
    Y = X[:, :2] + 0.1 * rng.normal(size=(120, 2)).astype(np.float32)
    expected = sk_trustworthiness(X.astype(np.float64), Y.astype(np.float64), n_neighbors=7)
    assert trustworthiness(torch.from_numpy(X), torch.from_numpy(Y), 7) == pytest.approx(expected, abs=score_tol(120, 7))


@pytest.mark.parametrize(
    "X, Y, k, match",
    [
        (LINE, SWAPPED, 3, "less than n_samples / 2"),
        (LINE, SWAPPED[:5], 1, "must match row for row"),
        (LINE, np.full((6, 1), np.nan), 1, "NaN"),
        (LINE[:, 0], SWAPPED, 1, "2-D"),
        (LINE, SWAPPED, 0, "positive integer"),
        (LINE[:0], SWAPPED[:0], 1, "zero samples"),
    ],
)
def test_trustworthiness_bad_input(X, Y, k, match):
    with pytest.raises(ValueError, match=match):
        trustworthiness(X, Y, k)


def test_residual_variance_by_hand():
    # pairs (0,1), (0,2), (1,2): geodesic 1, 2, 3; embedding 0, 1, 3 -> distances 1, 3, 2;
    # centred (-1, 0, 1) and (-1, 1, 0): r = (1/3) / (2/3) = 1/2, so 1 - r^2 = 3/4
    D = np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]])
    Y = np.array([[0.0], [1.0], [3.0]])
    assert residual_variance(D, Y) == pytest.approx(0.75, abs=rounding_bound(np.float64, 3 * 3))


def test_residual_variance_zero_for_isometry_and_rows():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(80, 2))
    D = np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    Y = 2.0 * Z @ np.array([[0.0, 1.0], [-1.0, 0.0]]) + 5.0  # scaled rotation: distances x 2
    # 1 - r^2 over the 80 x 80 pairs' float64 sums (the distances themselves a few roundings apart)
    assert residual_variance(D, Y) == pytest.approx(0.0, abs=rounding_bound(np.float64, 80 * 80))
    rows = np.array([3, 17, 40])
    assert residual_variance(D[rows], Y, rows=rows) == pytest.approx(0.0, abs=rounding_bound(np.float64, 3 * 80))
    assert residual_variance(D, Y[:, :1]) > 0.1
    with pytest.raises(ValueError, match="rows"):
        residual_variance(D[rows], Y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        residual_variance(np.full((80, 80), np.inf), Y)


def test_procrustes_by_hand():
    # centred and normalized: a = (-1, 0, 1)/sqrt(2), b = (-1, 1, 0)/sqrt(2); a.b = 1/2 -> 1 - (1/2)^2
    assert procrustes_disparity([[0.0], [1.0], [2.0]], [[0.0], [2.0], [1.0]]) == pytest.approx(0.75, abs=rounding_bound(np.float64, 3 * 4))


def test_procrustes_matches_scipy_and_is_invariant():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(50, 2))
    B = rng.normal(size=(50, 2))
    # centring, normalizing and an SVD of the 2 x 2 cross product of 50 rows, in float64 (64 u for the SVD)
    tol = rounding_bound(np.float64, 50 * 2) + 64 * np.finfo(np.float64).eps
    assert procrustes_disparity(A, B) == pytest.approx(procrustes(A, B)[2], abs=tol)
    assert procrustes_disparity(A, B) == pytest.approx(procrustes_disparity(B, A), abs=tol)
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = 3.0 * (A @ R) * np.array([1.0, -1.0]) + 4.0  # rotate, reflect, scale, shift
    assert procrustes_disparity(A, moved) == pytest.approx(0.0, abs=tol)
    with pytest.raises(ValueError, match="same shape"):
        procrustes_disparity(A, B[:10])
    with pytest.raises(ValueError, match="two distinct points"):
        procrustes_disparity(np.ones((5, 2)), B[:5])

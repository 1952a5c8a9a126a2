import math

import numpy as np
import pytest
import torch
from scipy.spatial import procrustes
from sklearn.decomposition import PCA as SkPCA

from aekit import io as aio
from aekit.datasets import make_s_curve, make_swiss_roll
from aekit.manifold import CurvilinearComponentAnalysis
from aekit.manifold._cca import (
    WEIGHTS,
    cca_step,
    cca_stress,
    exponential_weight,
    kmeans_prototypes,
    place_points,
    step_weight,
)
from aekit.metrics import trustworthiness

from _tolerance import rounding_bound


# small problems: threads only add waiting (badly so on a shared machine); module-scoped fits included
pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


# ------------------------------------------------------------------ kernels
def test_weights_exact_values():
    Y = torch.tensor([0.0, 1.0, 2.0, 3.0])
    torch.testing.assert_close(step_weight(Y, 2.0), torch.tensor([1.0, 1.0, 1.0, 0.0]))
    torch.testing.assert_close(exponential_weight(Y, 2.0), torch.tensor([1.0, math.exp(-0.5), math.exp(-1.0), math.exp(-1.5)]))


def test_single_pivot_step_hand_computed():
    Y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 0.0]])
    D = torch.tensor([[0.0, 2.0, 2.0, 3.0]])  # input distances of pivot 0
    cca_step(Y, torch.tensor([0]), D, 0.5, 4.0, step_weight)
    # point 1: 0.5 * (2 - 1) / 1 * (1, 0); point 2: X = Y, no move; point 3: Y = 5 > radius 4, F = 0
    torch.testing.assert_close(Y, torch.tensor([[0.0, 0.0], [1.5, 0.0], [0.0, 2.0], [5.0, 0.0]]))


def test_step_is_minus_alpha_times_the_gradient_of_the_pivot_stress():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 5, generator=g, dtype=torch.float64)
    Y = torch.randn(12, 2, generator=g, dtype=torch.float64)
    D = torch.cdist(X, X)
    pivots, alpha, radius = torch.tensor([3, 7]), 0.1, 1.5
    # E = 1/2 sum_{i in pivots} sum_j F(Y_ij) (X_ij - Y_ij)^2 with F held fixed; the pivot itself does not move
    Yg = Y.clone().requires_grad_(True)
    Dy = torch.cdist(Yg[pivots].detach(), Yg)  # pivots act as fixed anchors, like the rule
    F = exponential_weight(Dy.detach(), radius)
    mask = Dy.detach() > 0
    E = 0.5 * (F * (D[pivots] - Dy) ** 2)[mask].sum()
    E.backward()
    Y_new = Y.clone()
    cca_step(Y_new, pivots, D[pivots], alpha, radius, exponential_weight)
    # float64: each point's move sums 2 pivots' terms, each a few operations on distances of order one
    torch.testing.assert_close(Y_new - Y, -alpha * Yg.grad, rtol=0, atol=rounding_bound(torch.float64, 16, Y.abs().max().item()))


def test_batch_of_pivots_adds_single_pivot_moves():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(10, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(10, 2, generator=g, dtype=torch.float64)
    D = torch.cdist(X, X)
    together = Y.clone()
    cca_step(together, torch.tensor([1, 4, 8]), D[[1, 4, 8]], 0.3, 2.0, step_weight)
    total = torch.zeros_like(Y)
    for i in (1, 4, 8):
        single = Y.clone()
        cca_step(single, torch.tensor([i]), D[[i]], 0.3, 2.0, step_weight)
        total += single - Y
    torch.testing.assert_close(together - Y, total)


def test_place_points_interpolates_nearest_prototypes():
    P_embedding = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    D_new = torch.tensor([[1.0, 1.0, 2.0, 5.0], [0.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    placed = place_points(D_new, P_embedding, n_neighbors=3)
    # row 0: weights 1, 1, 1/4 over prototypes 0, 1, 2 -> (2, 1) / 2.25; row 1: exactly prototype 0
    # row 2: weights 1, 1/4, 1/9 -> (2/4, 4/9) / (1 + 1/4 + 1/9)
    expected = torch.tensor([[2.0 / 2.25, 1.0 / 2.25], [0.0, 0.0], [0.5 / (49 / 36), (4 / 9) / (49 / 36)]])
    torch.testing.assert_close(placed, expected)


def test_kmeans_prototypes_finds_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = (centres.repeat_interleave(50, 0) + 0.1 * torch.randn(150, 2, generator=g))
    C = kmeans_prototypes(X, 3, torch.Generator().manual_seed(3))
    dist = torch.cdist(centres, C).min(1).values
    assert float(dist.max()) < 0.1


# ------------------------------------------------------------------ behaviour
def test_linear_manifold_keeps_all_distances():
    rng = np.random.default_rng(0)
    Z = rng.uniform(-1, 1, size=(300, 2))
    Q, _ = np.linalg.qr(rng.normal(size=(5, 2)))
    X = (Z @ Q.T).astype(np.float32)  # a flat sheet in 5-D
    Y = CurvilinearComponentAnalysis(max_iter=15, random_state=0).fit_transform(X)
    Dx = np.linalg.norm(X[:, None] - X[None], axis=-1)
    Dy = np.linalg.norm(Y[:, None] - Y[None], axis=-1)
    # An optimization tolerance (CCA's stochastic steps end at a finite learning rate), not a rounding one;
    # the PCA start is exact here (a linear sheet) and the steps must not spoil it by more than 2 %.
    assert np.abs(Dx - Dy).max() < 0.02 * Dx.max()


@pytest.mark.parametrize("make", [make_swiss_roll, make_s_curve], ids=["swiss-roll", "s-curve"])
def test_keeps_neighbourhoods_of_curved_sheets_better_than_its_pca_start(make):
    # With Euclidean input distances CCA does not unroll the swiss roll (the geodesic test below does),
    # but it keeps local neighbourhoods far better than its PCA start: trustworthiness 0.984 against
    # 0.875 on the roll, 0.996 against 0.932 on the S.
    X = make(800, random_state=0).X
    cca = CurvilinearComponentAnalysis(max_iter=15, random_state=0)
    Y = cca.fit_transform(X)
    assert trustworthiness(X, Y, 10) >= trustworthiness(X, SkPCA(2).fit_transform(X), 10) + 0.04
    assert len(cca.history_) == 15 and cca.history_[-1]["radius"] < cca.history_[0]["radius"]


@pytest.mark.parametrize("make", [make_swiss_roll, make_s_curve], ids=["swiss-roll", "s-curve"])
def test_geodesic_distances_unroll_to_the_intrinsic_coordinates(make):
    data = make(800, random_state=0)
    t, h = data.extras["intrinsic"].T
    # arc length along the roll's spiral r = t; the S is parametrized by arc length already
    s = 0.5 * (t * np.sqrt(1 + t * t) + np.arcsinh(t)) if make is make_swiss_roll else t
    Y = CurvilinearComponentAnalysis(metric="geodesic", max_iter=20, pivots_per_step=8, random_state=0).fit_transform(data.X)
    assert trustworthiness(data.X, Y, 10) >= 0.99
    assert procrustes(np.c_[s, h], Y)[2] < 0.05  # flat: the embedding is the unrolled sheet up to rotation and scale


def test_geodesic_disconnected_graph_is_a_clear_error():
    X = np.r_[np.zeros((20, 2)), np.full((20, 2), 100.0)] + np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(ValueError, match="disconnected parts.*raise graph_neighbors"):
        CurvilinearComponentAnalysis(metric="geodesic", graph_neighbors=3).fit(X)


def test_prototypes_and_out_of_sample_transform():
    X = make_swiss_roll(3500, random_state=1).X
    train, test = X[:3000], X[3000:]
    cca = CurvilinearComponentAnalysis(max_iter=20, n_prototypes=500, random_state=0).fit(train)
    assert cca.prototypes_.shape == (500, 3) and cca.embedding_.shape == (3000, 2)
    # Learning, against the PCA start of the same prototypes (CCA's initial embedding, up to a rotation
    # that changes no distance): the map lowers the stress CCA minimizes 3.5-fold (1.74 against 6.01)
    # and keeps the prototypes' neighbourhoods better (trustworthiness 0.968 against 0.944).
    P = torch.from_numpy(cca.prototypes_)
    start = torch.from_numpy(SkPCA(2).fit_transform(cca.prototypes_)).float()
    start_stress = cca_stress(start, torch.cdist(P, P), cca.radius_final_, WEIGHTS[cca.neighborhood])
    assert cca.stress_ <= 0.5 * start_stress, (cca.stress_, start_stress)
    t_start = trustworthiness(cca.prototypes_, start.numpy(), 10)
    assert trustworthiness(cca.prototypes_, cca.prototype_embedding_, 10) >= t_start + 0.01
    # The 3000 training points, placed by interpolating between prototypes, gain little over the PCA of
    # the roll (0.977 against 0.975): with Euclidean input distances CCA does not unroll it (see above), so
    # no improvement is claimed for them, only that placing loses nothing. New points keep their
    # neighbourhoods about as well as the training points (0.958 and 0.977).
    t_train = trustworthiness(train, cca.embedding_, 10)
    assert trustworthiness(test, cca.transform(test), 10) >= t_train - 0.03
    assert t_train >= trustworthiness(train, SkPCA(2).fit_transform(train), 10) - 0.005
    random = CurvilinearComponentAnalysis(max_iter=2, n_prototypes=300, quantizer="random", random_state=0).fit(train)
    rows = np.flatnonzero((random.prototypes_[:, None] == train[None]).all(-1).any(0))
    assert len(rows) == 300  # a random subset of the samples: each is embedded exactly at its prototype
    np.testing.assert_array_equal(random.transform(train[rows[:5]]), random.embedding_[rows[:5]])


def test_fit_transform_matches_transform_on_training_data():
    X = make_s_curve(200, random_state=0).X
    cca = CurvilinearComponentAnalysis(max_iter=5, random_state=0)
    np.testing.assert_array_equal(cca.fit_transform(X), cca.transform(X))


def test_save_load_roundtrip(tmp_path):
    X = make_s_curve(300, random_state=0).X
    cca = CurvilinearComponentAnalysis(max_iter=3, n_prototypes=100, metric="geodesic", random_state=0).fit(X)
    back = aio.load(aio.save(cca, tmp_path / "cca"))
    np.testing.assert_array_equal(back.transform(X), cca.transform(X))
    np.testing.assert_array_equal(back.embedding_, cca.embedding_)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="n_samples=1"):
        CurvilinearComponentAnalysis().fit(np.ones((1, 3)))
    X = make_s_curve(50, random_state=0).X.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        CurvilinearComponentAnalysis().fit(X)
    cca = CurvilinearComponentAnalysis(max_iter=2).fit(make_s_curve(50, random_state=0).X)
    with pytest.raises(ValueError, match="features"):
        cca.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="neighborhood"):
        CurvilinearComponentAnalysis(neighborhood="gauss").fit(np.ones((5, 3)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_unfolds_too():
    X = make_swiss_roll(800, random_state=0).X
    Y = CurvilinearComponentAnalysis(max_iter=20, random_state=0, device="cuda").fit_transform(X)
    assert trustworthiness(X, Y, 10) >= trustworthiness(X, SkPCA(2).fit_transform(X), 10) + 0.04

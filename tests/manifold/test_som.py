import math

import minisom  # a test dependency (the test extra): the reference implementation
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aekit import io as aio
from aekit.manifold import SOM, grid_adjacency, grid_positions, quantization_error, squared_distances, topographic_error
from aekit.manifold._som import (
    batch_map,
    bubble_neighborhood,
    constant_decay,
    exponential_decay,
    gaussian_neighborhood,
    inverse_decay,
    linear_decay,
    mexican_hat_neighborhood,
    online_step,
)
from aekit.manifold._som_kernels import unit_sums


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small problems: threads only add waiting (badly so on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


# ------------------------------------------------------------------ pure functions, exact values
def test_grid_positions_rectangular_and_hexagonal():
    np.testing.assert_array_equal(grid_positions((2, 3)), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])
    hexa = grid_positions((3, 3), "hexagonal")
    h = math.sqrt(3) / 2
    np.testing.assert_allclose(hexa[3:6], [[h, 0.5], [h, 1.5], [h, 2.5]])
    A = grid_adjacency(hexa)
    assert A[4].sum() == 6  # the centre of a 3x3 hexagonal grid has six neighbours
    assert sorted(np.flatnonzero(A[4])) == [1, 2, 3, 5, 7, 8]  # odd row shifted right: columns j, j+1 above and below
    assert grid_adjacency(grid_positions((3, 3)))[4].sum() == 4
    assert grid_adjacency(grid_positions((3, 3)), radius=math.sqrt(2))[4].sum() == 8


def test_neighborhoods_exact_values():
    d2 = torch.tensor([0.0, 1.0, 2.0, 4.0])
    torch.testing.assert_close(gaussian_neighborhood(d2, 1.0), torch.tensor([1.0, math.exp(-0.5), math.exp(-1.0), math.exp(-2.0)]))
    torch.testing.assert_close(gaussian_neighborhood(d2, 2.0), torch.exp(-d2 / 8))
    torch.testing.assert_close(bubble_neighborhood(d2, 1.0), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    torch.testing.assert_close(bubble_neighborhood(d2, 2.0), torch.tensor([1.0, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(mexican_hat_neighborhood(d2, 1.0), torch.tensor([1.0, 0.0, -math.exp(-1.0), -3 * math.exp(-2.0)]))


def test_decays_match_minisom_formulas():
    T = 100
    t = np.arange(T)
    # MiniSom asymptotic_decay: p / (1 + t / (T / 2)); inverse_decay_to_one: s / (1 + t (s - 1) / T)
    np.testing.assert_allclose(inverse_decay(0.5, 0.5 / 3, t / T), 0.5 / (1 + t / (T / 2)))
    np.testing.assert_allclose(inverse_decay(4.0, 1.0, t / T), 4.0 / (1 + t * 3.0 / T))
    assert linear_decay(2.0, 0.5, 1.0) == 0.5 and linear_decay(2.0, 0.5, 0.5) == 1.25
    assert exponential_decay(2.0, 0.5, 0.5) == pytest.approx(1.0)
    assert constant_decay(2.0, 0.5, 0.7) == 2.0


def test_online_step_hand_computed():
    W = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 2x2 grid
    G = torch.cdist(torch.tensor(grid_positions((2, 2)), dtype=torch.float32), torch.tensor(grid_positions((2, 2)), dtype=torch.float32)) ** 2
    x = torch.tensor([0.2, -0.2])
    expected = W.clone()
    h = torch.tensor([1.0, math.exp(-0.5), math.exp(-0.5), math.exp(-1.0)]) * 0.5  # BMU 0, sigma 1, eta 0.5
    expected += h[:, None] * (x - W)
    c = online_step(W, x, G, 1.0, 0.5, gaussian_neighborhood)
    assert int(c) == 0
    torch.testing.assert_close(W, expected)


def test_unit_sums_and_batch_map_hand_computed():
    X = torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 4.0]])
    bmu = torch.tensor([0, 0, 1])
    S, N = unit_sums(bmu, X, 3)
    torch.testing.assert_close(S, torch.tensor([[2.0, 0.0], [4.0, 4.0], [0.0, 0.0]]))
    torch.testing.assert_close(N, torch.tensor([2.0, 1.0, 0.0]))
    H = torch.tensor([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    W = torch.full((3, 2), 9.0)
    new = batch_map(W, S, N, H)
    # unit 0: (S0 + .5 S1) / (2 + .5) ; unit 1: (.5 S0 + S1) / (1 + 1) ; unit 2: no support, unchanged
    torch.testing.assert_close(new, torch.tensor([[4.0 / 2.5, 2.0 / 2.5], [5.0 / 2.0, 4.0 / 2.0], [9.0, 9.0]]))


def test_squared_distances_and_quantization_error_hand_computed():
    X = np.array([[0.0, 0.0], [3.0, 4.0]])
    W = np.array([[0.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(squared_distances(torch.tensor(X), torch.tensor(W)), torch.tensor([[0.0, 1.0], [25.0, 18.0]], dtype=torch.float64))
    assert quantization_error(X, W) == pytest.approx((0.0 + math.sqrt(18.0)) / 2)


def test_topographic_error_hand_computed():
    # a twisted 2x2 map: grid units (0,1) and (1,1) (indices 1 and 3) hold swapped prototypes
    W = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    X = np.array([[0.1, 0.2], [0.9, 0.2], [0.2, 0.9], [0.2, 0.1]])
    # best/second units: (0,3) diagonal; (2,1) diagonal; (3,1) adjacent; (0,2) adjacent
    assert topographic_error(X, W, grid_positions((2, 2))) == pytest.approx(0.5)
    assert topographic_error(X, W, (2, 2)) == pytest.approx(0.5)
    assert topographic_error(X, W, grid_positions((2, 2)), radius=math.sqrt(2)) == 0.0
    assert topographic_error(X, W, np.ones((4, 4), dtype=bool)) == 0.0
    with pytest.raises(ValueError, match="features"):
        topographic_error(X[:, :1], W, (2, 2))
    with pytest.raises(ValueError, match="NaN"):
        quantization_error(np.array([[np.nan, 0.0]]), W)


# ------------------------------------------------------------------ agreement with MiniSom
def test_online_step_matches_minisom_update():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    T = len(X)
    ref = minisom.MiniSom(4, 3, 5, sigma=1.5, learning_rate=0.5, random_seed=1)
    W0 = ref.get_weights().copy()  # (4, 3, 5): unit (i, j) -> our index i * 3 + j
    ref.train(X, T, random_order=False)
    W = torch.tensor(W0.reshape(12, 5))
    P = torch.tensor(grid_positions((4, 3)))
    G = torch.cdist(P, P) ** 2
    for t in range(T):
        online_step(W, torch.tensor(X[t]), G, inverse_decay(1.5, 0.5, t / T), inverse_decay(0.5, 0.5 / 3, t / T), gaussian_neighborhood)
    np.testing.assert_allclose(W.numpy(), ref.get_weights().reshape(12, 5), rtol=1e-9, atol=1e-9)


def test_quality_against_minisom_train_random(digits):
    X = digits
    ref = minisom.MiniSom(6, 6, X.shape[1], sigma=1.5, learning_rate=0.5, random_seed=0)
    ref.train_random(X, len(X))
    qe_ref = quantization_error(X, ref.get_weights().reshape(36, -1))
    online = SOM((6, 6), sigma=1.5, learning_rate=0.5, algorithm="online", max_iter=1, init="random", random_state=0).fit(X)
    batch = SOM((6, 6), sigma=1.5, algorithm="batch", max_iter=5, random_state=0).fit(X)
    default = SOM((6, 6), random_state=0).fit(X)
    te_ref = topographic_error(X, ref.get_weights().reshape(36, -1), grid_positions((6, 6)))
    assert online.quantization_error(X) == pytest.approx(qe_ref, rel=0.05)
    assert batch.quantization_error(X) <= qe_ref and batch.topographic_error(X) <= te_ref
    # The defaults were chosen on MNIST; on the digits they tie MiniSom's quantization error (1.4308 against
    # 1.4310 here), so the bound leaves 1 % for maps that part at a rounding-level tie on another CPU.
    assert default.quantization_error(X) <= 1.01 * qe_ref and default.topographic_error(X) <= te_ref


# ------------------------------------------------------------------ estimator
@pytest.mark.parametrize("algorithm", ["batch", "minibatch", "online"])
def test_save_load_roundtrip(tmp_path, digits, algorithm):
    som = SOM((4, 5), algorithm=algorithm, max_iter=2, topology="hexagonal", random_state=0).fit(digits[:400])
    back = aio.load(aio.save(som, tmp_path / "som"))
    np.testing.assert_array_equal(back.transform(digits), som.transform(digits))
    np.testing.assert_array_equal(back.positions_, som.positions_)
    assert back.history_ == som.history_
    assert back.get_params() == som.get_params()


@pytest.mark.parametrize("algorithm", ["batch", "minibatch"])
def test_streaming_chunks_give_the_same_map(tmp_path, digits, algorithm):
    whole = SOM((5, 5), algorithm=algorithm, max_iter=4, random_state=0).fit(digits)
    path = tmp_path / "x.npy"
    np.save(path, digits)
    memmap = np.load(path, mmap_mode="r")  # read-only memory map, streamed in chunks
    streamed = SOM((5, 5), algorithm=algorithm, max_iter=4, batch_size=128, random_state=0).fit(memmap)
    np.testing.assert_allclose(streamed.codebook_, whole.codebook_, rtol=1e-4, atol=1e-5)


def test_partial_fit_streams_to_a_good_map(digits):
    full = SOM((5, 5), max_iter=5, random_state=0).fit(digits)
    som = SOM((5, 5), max_iter=20, random_state=0)
    rng = np.random.default_rng(0)
    for _ in range(25):
        som.partial_fit(digits[rng.choice(len(digits), 300, replace=False)])
    assert som.n_iter_ == 25 and len(som.history_) == 25
    assert som.history_[-1]["sigma"] == pytest.approx(0.5)  # the default end: min(0.5, sigma / 3), sigma = 5 / 2
    assert som.quantization_error(digits) < 1.08 * full.quantization_error(digits)
    with pytest.raises(ValueError, match="features"):
        som.partial_fit(digits[:10, :5])


def test_transform_predict_u_matrix_hit_map(digits):
    som = SOM((4, 6), max_iter=3, random_state=0).fit(digits)
    D = som.transform(digits[:50])
    ref = np.sqrt(((digits[:50, None, :] - som.codebook_[None]) ** 2).sum(-1))
    np.testing.assert_allclose(D, ref, rtol=1e-4, atol=1e-4)
    bmu = som.predict(digits[:50])
    np.testing.assert_array_equal(bmu, ref.argmin(1))
    coords = som.set_params(transform_mode="coordinates").transform(digits[:50])
    np.testing.assert_array_equal(coords, som.positions_[bmu])
    hits = som.hit_map(digits)
    assert hits.shape == (4, 6) and hits.sum() == len(digits)
    np.testing.assert_array_equal(hits.ravel(), np.bincount(som.predict(digits), minlength=24))
    U = som.u_matrix()
    assert U.shape == (4, 6)
    W = som.codebook_.astype(np.float64)
    corner = np.mean([np.linalg.norm(W[0] - W[1]), np.linalg.norm(W[0] - W[6])])
    assert U[0, 0] == pytest.approx(corner, rel=1e-6)


def test_u_matrix_hand_built_2x2():
    som = SOM((2, 2))
    som.positions_ = grid_positions((2, 2))
    som.codebook_ = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]], dtype=np.float32)
    # unit 0 neighbours 1 (dist 1) and 2 (dist 3): mean 2; same for every corner by symmetry
    np.testing.assert_allclose(som.u_matrix(), [[2.0, 2.0], [2.0, 2.0]])


def test_batch_training_orders_the_map(digits):
    # From a random start (prototypes drawn from the data; a PCA start is ordered before any training),
    # against that start as the untrained control: topographic error 0.93 -> 0.07, and the distance between
    # grid neighbours relative to all pairs of prototypes 0.99 -> 0.36.
    som = SOM((8, 8), sigma=4.0, sigma_final=1.0, algorithm="batch", max_iter=10, init="random", random_state=0).fit(digits)
    start = digits[np.random.default_rng(0).integers(0, len(digits), 64)]
    A, off = grid_adjacency(som.positions_), ~np.eye(64, dtype=bool)

    def neighbour_ratio(W):  # mean distance of grid neighbours over the mean distance of all pairs
        D = np.linalg.norm(W[:, None] - W[None], axis=-1)
        return D[A].mean() / D[off].mean()

    assert neighbour_ratio(start) > 0.9 and topographic_error(digits, start, som.positions_) > 0.8
    assert som.topographic_error(digits) < 0.15
    assert neighbour_ratio(som.codebook_) < 0.5
    qe = [h["quantization_error"] for h in som.history_]
    assert qe[-1] < qe[0]


def test_init_codebook_given_as_an_array(digits):
    W0 = digits[np.random.default_rng(0).choice(len(digits), 12, replace=False)].copy()
    kept = W0.copy()
    som = SOM((3, 4), init=W0, max_iter=1, random_state=0).fit(digits)
    # history_ holds the quantization error of the codebook entering each step: here W0 itself
    assert som.history_[0]["quantization_error"] == pytest.approx(quantization_error(digits, W0), rel=1e-5)
    online = SOM((3, 4), init=W0, algorithm="online", max_iter=1, random_state=0).fit(digits)
    np.testing.assert_array_equal(W0, kept)  # the online rule updates a copy, never the caller's array
    assert not np.array_equal(online.codebook_, W0)
    with pytest.raises(ValueError, match=r"= \(16, 64\) with finite values, got shape \(12, 64\)"):
        SOM((4, 4), init=W0).fit(digits)


def test_bfloat16_search_close_to_float32(digits):
    f32 = SOM((6, 6), max_iter=4, random_state=0).fit(digits)
    bf16 = SOM((6, 6), max_iter=4, precision="bfloat16", random_state=0).fit(digits)
    assert bf16.quantization_error(digits) == pytest.approx(f32.quantization_error(digits), rel=0.01)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"grid_shape": (1, 5)}, "smaller than 2 x 2"),
        ({"grid_shape": (3,)}, "two integers"),
        ({"neighborhood": "mexican_hat"}, "use algorithm='online'"),
        ({"neighborhood": "mexican_hat", "algorithm": "minibatch"}, "use algorithm='online'"),
        ({"neighborhood": "triangle"}, "neighborhood"),
        ({"sigma": 0.0}, "sigma"),
    ],
)
def test_bad_parameters_raise_clear_errors(digits, params, message):
    with pytest.raises(ValueError, match=message):
        SOM(**params).fit(digits[:50])


def test_bad_data_raises_clear_errors(digits):
    X = digits[:50].copy()
    X[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SOM((3, 3)).fit(X)
    som = SOM((3, 3), max_iter=2).fit(digits[:50])
    with pytest.raises(ValueError, match="features"):
        som.transform(digits[:5, :10])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("algorithm", ["batch", "minibatch", "online"])
def test_cuda_matches_cpu(digits, algorithm):
    cpu = SOM((5, 5), algorithm=algorithm, max_iter=2, random_state=0).fit(digits)
    gpu = SOM((5, 5), algorithm=algorithm, max_iter=2, random_state=0, device="cuda").fit(digits)
    assert gpu.quantization_error(digits) == pytest.approx(cpu.quantization_error(digits), rel=0.05)
    assert gpu.transform(digits[:3]).shape == (3, 25)


# ------------------------------------------------------------------ figures and command line
def test_map_figures_draw_one_cell_per_unit(digits):
    from aekit import viz

    som = SOM((3, 4), topology="hexagonal", max_iter=2, random_state=0).fit(digits[:300])
    fig = viz.plot_u_matrix(som.u_matrix(), som.positions_)
    cells = fig.axes[0].collections[0]
    assert len(cells.get_paths()) == 12
    np.testing.assert_allclose(cells.get_array(), som.u_matrix().ravel())
    assert len(cells.get_paths()[0].vertices) == 7  # hexagons (6 vertices, closed)
    fig = viz.plot_hit_map(som.hit_map(digits), som.positions_)
    assert [t.get_text() for t in fig.axes[0].texts][:2] == [str(v) for v in som.hit_map(digits).ravel()[:2]]
    fig = viz.plot_codebook(som.codebook_, (3, 4), (8, 8))
    assert fig.axes[0].images[0].get_array().shape[:2] == (3 * 8 + 2, 4 * 8 + 3)  # 3 x 4 tiles, 1-pixel gaps between
    with pytest.raises(ValueError, match="12 prototypes"):
        viz.plot_codebook(som.codebook_, (4, 4), (8, 8))
    import matplotlib.pyplot as plt

    plt.close("all")


def test_cli_fit_som_cca_pcurve_write_run_folders(tmp_path):
    import json

    from typer.testing import CliRunner

    from aekit.cli import app

    runner = CliRunner()
    commands = {
        "som": ["--dataset", "digits", "--n-samples", "400", "--rows", "4", "--cols", "5", "--max-iter", "3"],
        "cca": ["--dataset", "s-curve", "--n-samples", "300", "--max-iter", "3"],
        "pcurve": ["--dataset", "s-curve", "--n-samples", "300", "--max-iter", "5"],
    }
    expected = {
        "som": ({"quantization_error", "topographic_error", "unit_label_purity"}, {"u_matrix", "hit_map", "codebook", "embedding"}),
        "cca": ({"trustworthiness_k10", "stress"}, {"embedding"}),
        "pcurve": ({"mean_squared_distance", "pca_mean_squared_distance"}, {"curve", "history"}),
    }
    for method, args in commands.items():
        out = tmp_path / method
        result = runner.invoke(app, ["fit", method, *args, "--quiet", "--out", str(out)])
        assert result.exit_code == 0, result.output
        metrics = json.loads((out / "metrics.json").read_text())
        keys, figures = expected[method]
        assert keys <= set(metrics)
        assert figures <= {p.stem for p in (out / "figures").glob("*.png")}
        assert (out / "model" / "config.json").exists()
    assert json.loads((tmp_path / "pcurve" / "metrics.json").read_text())["distance_ratio_to_pca"] < 1.0
    result = runner.invoke(app, ["fit", "som", "--rows", "1", "--quiet", "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "smaller than 2 x 2" in result.output

"""Filter grids, reconstructions, training curves, activation histograms, activation-maximization grids."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aekit.inspection import activation_maximization, tile_images  # noqa: E402
from aekit.viz import (  # noqa: E402
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
    save_figure,
)
from aekit.viz._autoencoders import history_curves  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _image(fig, k=0):
    return np.asarray(fig.axes[k].images[0].get_array())


def _history(n=6, val=True):
    rows = []
    for e in range(1, n + 1):
        row = {"epoch": e, "reconstruction": 50.0 / e, "kl_sparsity": 0.3 / e, "loss": 50.0 / e + 0.3 / e}
        if val:
            row.update({"val_loss": 55.0 / e, "val_reconstruction": 54.0 / e, "val_kl_sparsity": 0.31 / e})
        row.update({"mean_activation": 0.05, "learning_rate": 1e-3, "epoch_time": 0.2})
        rows.append(row)
    return rows


def test_filters_are_the_first_n_rows_tiled_per_tile():
    W = torch.tensor(RNG.normal(size=(150, 64)))
    fig = plot_filters(W, (8, 8), n=100)
    assert isinstance(fig, Figure)
    np.testing.assert_allclose(_image(fig), tile_images(W[:100].numpy(), (8, 8)))
    assert _image(fig).shape == (10 * 9 - 1, 10 * 9 - 1)
    with pytest.raises(ValueError, match="2-D weight matrix"):
        plot_filters(np.ones(64), (8, 8))


def test_reconstruction_rows_share_one_grey_scale():
    clean = RNG.uniform(size=(12, 16))
    corrupted = clean * (RNG.uniform(size=clean.shape) > 0.3)
    recon = 0.5 * clean  # a faint reconstruction must look faint
    fig = plot_reconstructions(clean, recon, (4, 4), corrupted=corrupted, n=5)
    assert [ax.get_ylabel() for ax in fig.axes] == ["clean", "corrupted", "reconstructed"]
    lo, hi = min(clean[:5].min(), corrupted[:5].min(), recon[:5].min()), max(clean[:5].max(), recon[:5].max())
    expected = tile_images((recon[:5] - lo) / (hi - lo), (4, 4), n_cols=5, normalize="none")
    np.testing.assert_allclose(_image(fig, 2), expected)
    assert len(plot_reconstructions(clean, recon, (4, 4)).axes) == 2
    with pytest.raises(ValueError, match="same shape"):
        plot_reconstructions(clean, recon[:, :8], (4, 4))


def test_history_has_one_panel_per_term_with_validation_overlaid():
    history = _history()
    fig = plot_history(history)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["reconstruction", "kl_sparsity", "loss", "mean_activation"]
    rec = fig.axes[0]
    assert len(rec.lines) == 2  # train + validation
    np.testing.assert_allclose(rec.lines[0].get_ydata(), [r["reconstruction"] for r in history])
    np.testing.assert_allclose(rec.lines[1].get_ydata(), [r["val_reconstruction"] for r in history])
    np.testing.assert_allclose(rec.lines[0].get_xdata(), np.arange(1, 7))
    assert len(fig.axes[3].lines) == 1  # no val_mean_activation
    only = plot_history(history, keys=["kl_sparsity"], logy=True)
    assert [ax.get_title() for ax in only.axes] == ["kl_sparsity"] and only.axes[0].get_yscale() == "log"


def test_history_curves_fill_gaps_and_bad_histories_are_refused():
    epochs, curves = history_curves([{"epoch": 1, "a": 1.0}, {"epoch": 2, "a": 2.0, "b": 3.0}])
    np.testing.assert_array_equal(epochs, [1, 2])
    np.testing.assert_array_equal(curves["b"], [np.nan, 3.0])
    with pytest.raises(ValueError, match="non-empty list"):
        plot_history([])
    with pytest.raises(ValueError, match="no column"):
        plot_history(_history(), keys=["contractive"])


def test_activation_histogram_counts_every_unit_and_marks_rho0():
    H = RNG.uniform(0, 0.1, size=(200, 40))  # codes: averaged over samples first
    fig = plot_activation_histogram(H, rho0=0.05, bins=10)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 40
    xs = [line.get_xdata()[0] for line in ax.lines]
    assert 0.05 in xs and pytest.approx(H.mean()) in xs
    with pytest.raises(ValueError, match="NaN"):
        plot_activation_histogram(np.array([0.1, np.nan]))


def test_activation_maximization_grid_from_a_result_or_arrays(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 6), torch.nn.Sigmoid())
    res = activation_maximization(model, 16, n_starts=3, random_state=0, max_steps=50)
    best = plot_activation_maximization(res, (4, 4))
    np.testing.assert_allclose(_image(best), tile_images(res.best_inputs, (4, 4)))
    assert "median cosine" in best.axes[0].get_title()
    every = plot_activation_maximization(res, (4, 4), starts="all", n=2)
    assert _image(every).shape == (2 * 5 - 1, 3 * 5 - 1)  # 2 units x 3 starts
    arr = plot_activation_maximization(res.inputs[:, 0], (4, 4))
    assert _image(arr).shape == _image(best).shape
    with pytest.raises(ValueError, match="Unknown starts"):
        plot_activation_maximization(res, (4, 4), starts="first")
    path = save_figure(best, tmp_path / "am.png")
    assert path.read_bytes().startswith(b"\x89PNG")

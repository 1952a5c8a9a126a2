"""Figures of what an autoencoder (or any layered model) learned and how it trained.

Every function takes arrays (or tensors) and returns a matplotlib Figure; the
arrays come from the model (an autoencoder's ``filters_``), from
:mod:`aekit.inspection` or from an estimator's ``history_``.
"""

from __future__ import annotations

import math

import numpy as np

from aekit.inspection import ActivationMaximization, tile_images
from aekit.viz._core import image_grid, plt

__all__ = [
    "plot_filters",
    "plot_reconstructions",
    "plot_history",
    "plot_activation_histogram",
    "plot_activation_maximization",
]

# History columns that are bookkeeping, not curves worth a panel of their own.
_HISTORY_SKIP = ("epoch", "learning_rate", "epoch_time")


def _as_array(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity; nothing meaningful to draw.")
    return a


def plot_filters(W, image_shape, *, n: int = 100, n_cols: int | None = None, title: str | None = "first-layer filters"):
    """Grid of the first ``n`` filters (rows of ``W``), each tile scaled to its own range.

    Parameters
    ----------
    W : array or tensor of shape (n_units, prod(image_shape))
        One filter per row, e.g. an autoencoder's ``filters_`` or PCA's
        ``components_``. Per-tile scaling makes a filter and its preferred
        input (:func:`aekit.inspection.preferred_inputs`) look identical.
    image_shape : tuple
        ``(height, width)`` of one input image.
    n : int
        Most filters to show (the first ``n`` rows).
    """
    W = _as_array(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D weight matrix (n_units, n_features), got shape {W.shape}.")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    return image_grid(W[:n], image_shape, title=title, n_cols=n_cols, normalize="tile")


def plot_reconstructions(clean, reconstructed, image_shape, *, corrupted=None, n: int = 10, title: str | None = None):
    """Rows of images: clean inputs, their corrupted versions (if given), the reconstructions.

    All rows share one grey scale (the range over every image shown), so a
    faint reconstruction looks faint.

    Parameters
    ----------
    clean, reconstructed : arrays of shape (n_samples, prod(image_shape))
    image_shape : tuple
    corrupted : array of shape (n_samples, prod(image_shape)), optional
        The corrupted inputs a denoising model saw.
    n : int
        Number of samples (columns) shown, the first ``n``.
    """
    rows = [("clean", clean)]
    if corrupted is not None:
        rows.append(("corrupted", corrupted))
    rows.append(("reconstructed", reconstructed))
    arrays = []
    for name, a in rows:
        a = _as_array(a, name)
        if a.ndim != 2:
            raise ValueError(f"{name} must have shape (n_samples, n_features), got {a.shape}.")
        arrays.append(a)
    if len({a.shape for a in arrays}) != 1:
        shapes = ", ".join(f"{name} {a.shape}" for (name, _), a in zip(rows, arrays))
        raise ValueError(f"the rows must have the same shape, got {shapes}.")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    shown = [a[:n] for a in arrays]
    lo = min(a.min() for a in shown)
    hi = max(a.max() for a in shown)
    span = hi - lo if hi > lo else 1.0
    n_shown = shown[0].shape[0]
    fig, axes = plt.subplots(len(rows), 1, figsize=(max(3.0, 0.9 * n_shown), 1.1 * len(rows) + 0.4), squeeze=False)
    for ax, (name, _), a in zip(axes[:, 0], rows, shown):
        strip = tile_images((a - lo) / span, image_shape, n_cols=n_shown, normalize="none")
        ax.imshow(strip, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig


def history_curves(history: list[dict], *, keys=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The epochs and one array per history column (NaN where a row lacks it).

    Columns are the numeric keys of the rows in first-seen order, except the
    bookkeeping ones (``epoch``, ``learning_rate``, ``epoch_time``), or
    exactly ``keys`` when given.
    """
    if not isinstance(history, (list, tuple)) or not history or not all(isinstance(r, dict) for r in history):
        raise ValueError("history must be a non-empty list of per-epoch dicts (an estimator's history_).")
    if keys is None:
        keys = []
        for row in history:
            for k, v in row.items():
                numeric = isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
                if k not in keys and k not in _HISTORY_SKIP and numeric:
                    keys.append(k)
    else:
        keys = list(keys)
        missing = [k for k in keys if not any(k in row for row in history)]
        if missing:
            present = sorted({k for row in history for k in row})
            raise ValueError(f"history has no column {missing}; it has {present}.")
    if not keys:
        raise ValueError("history has no numeric column to plot.")
    epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(history)], dtype=float)
    curves = {}
    for k in keys:
        values = []
        for row in history:
            v = row.get(k)
            values.append(float(v) if isinstance(v, (int, float, np.floating, np.integer)) else np.nan)
        curves[k] = np.array(values)
    return epochs, curves


def plot_history(history: list[dict], *, keys=None, logy: bool = False, title: str | None = None):
    """Training curves: one panel per loss term or metric, validation overlaid.

    Loss terms have different scales (a reconstruction of ~100 nats beside a
    sparsity penalty of ~0.1), so each gets its own panel; ``val_<name>`` is
    drawn dashed in the panel of ``<name>``.

    Parameters
    ----------
    history : list of dict
        One dict per epoch, as :class:`aekit.training.Trainer` returns
        (``{"epoch": 1, "reconstruction": ..., "kl_sparsity": ..., "loss": ...,
        "val_loss": ...}``).
    keys : sequence of str, optional
        Columns to draw; default every numeric column but ``epoch``,
        ``learning_rate`` and ``epoch_time``.
    logy : bool
        Logarithmic y axes.
    """
    epochs, curves = history_curves(history, keys=keys)
    panels = [k for k in curves if not (k.startswith("val_") and k[4:] in curves)]
    n_cols = min(3, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.0 * n_cols, 2.9 * n_rows), squeeze=False)
    for ax, name in zip(axes.ravel(), panels):
        ax.plot(epochs, curves[name], marker="." if len(epochs) < 30 else None, label="train")
        val = curves.get(f"val_{name}")
        if val is not None:
            ax.plot(epochs, val, linestyle="--", label="validation")
            ax.legend(fontsize="small")
        if logy and np.nanmin(curves[name]) > 0:
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("epoch")
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_activation_histogram(mean_activation, rho0: float | None = None, *, bins: int = 30, title: str | None = None):
    """Histogram of each hidden unit's mean activation, with the sparsity target marked.

    Parameters
    ----------
    mean_activation : array of shape (n_units,) or (n_samples, n_units)
        Each unit's average activation ``rho_hat_j`` over the data; a 2-D
        array of codes ``H`` is averaged over its rows first.
    rho0 : float, optional
        The KL sparsity target, drawn as a vertical line.
    bins : int
    """
    a = _as_array(mean_activation, "mean_activation")
    if a.ndim == 2:
        a = a.mean(axis=0)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"mean_activation must be a non-empty (n_units,) or (n_samples, n_units) array, got {a.shape}."
        )
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.hist(a, bins=bins, color="0.45")
    ax.axvline(a.mean(), color="tab:blue", linestyle="--", label=f"mean over units = {a.mean():.3g}")
    if rho0 is not None:
        ax.axvline(rho0, color="tab:red", label=f"target rho0 = {rho0:.3g}")
    ax.set_xlabel("mean activation of a unit")
    ax.set_ylabel("units")
    ax.legend(fontsize="small")
    ax.set_title(title or f"{a.size} hidden units")
    return fig


def plot_activation_maximization(result, image_shape, *, n: int = 100, starts: str = "best", title: str | None = None):
    """Grid of the inputs that maximize each unit (activation maximization).

    Parameters
    ----------
    result : ActivationMaximization or array
        The result of :func:`aekit.inspection.activation_maximization`, or its
        ``inputs`` array of shape (n_units, n_starts, d), or one input per
        unit, shape (n_units, d).
    image_shape : tuple
    n : int
        Most units shown (the first ``n``).
    starts : {"best", "all"}
        One tile per unit (the start that reached the highest activation;
        the first start for a bare array), or one row per unit with every
        start side by side, showing whether the starts agree.
    """
    if starts not in ("best", "all"):
        raise ValueError(f"Unknown starts {starts!r}: use one of 'best', 'all'.")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    cosine = None
    if isinstance(result, ActivationMaximization):
        inputs = result.inputs.reshape(result.inputs.shape[:2] + (-1,))
        best = result.best_inputs.reshape(len(result.units), -1)
        cosine = result.mean_cosine
    else:
        inputs = _as_array(result, "inputs")
        if inputs.ndim == 2:
            inputs = inputs[:, None, :]
        if inputs.ndim != 3:
            raise ValueError(f"inputs must have shape (n_units, n_starts, d) or (n_units, d), got {inputs.shape}.")
        best = inputs[:, 0]
    inputs, best = inputs[:n], best[:n]
    if title is None:
        title = f"activation maximization, {len(best)} units"
        if cosine is not None and np.isfinite(cosine).any():
            title += f" (median cosine across starts {np.nanmedian(cosine[:n]):.3f})"
    if starts == "best":
        return image_grid(best, image_shape, title=title, normalize="tile")
    every = inputs.reshape(-1, inputs.shape[-1])  # (units * starts, d), one grid row per unit
    return image_grid(every, image_shape, title=title, n_cols=inputs.shape[1], normalize="tile")

"""Figure primitives every other figure module uses; the only place matplotlib is set up.

The Agg backend is selected before pyplot is imported, so figures render on a
machine without a screen. :func:`save_figure` writes PNGs atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aekit.inspection import tile_images  # noqa: E402
from aekit.io import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure", "image_grid", "plot_embedding", "plot_curves"]


def save_figure(fig, path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def image_grid(images, image_shape, *, title: str | None = None, n_cols=None, normalize="tile", cmap="gray", ax=None):
    """Draw flattened images as a tiled grid (filters, eigen-images, samples); returns the figure."""
    grid = tile_images(images, image_shape, n_cols=n_cols, normalize=normalize)
    if ax is None:
        rows, cols = grid.shape[:2]
        scale = 6.0 / max(rows, cols)
        fig, ax = plt.subplots(figsize=(max(2.0, cols * scale), max(2.0, rows * scale)))
    else:
        fig = ax.figure
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_embedding(Y, labels=None, *, title: str | None = None, ax=None, s: float = 4.0, cmap="tab10"):
    """Scatter a 2-D embedding, coloured by label (or by a continuous value); returns the figure."""
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[1] < 2:
        raise ValueError(f"plot_embedding needs an embedding with at least 2 columns, got shape {Y.shape}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    else:
        fig = ax.figure
    sc = ax.scatter(Y[:, 0], Y[:, 1], c=labels, s=s, cmap=cmap if labels is not None else None, linewidths=0)
    if labels is not None:
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    if title:
        ax.set_title(title)
    return fig


def plot_curves(curves: dict[str, "np.ndarray | list"], *, x=None, xlabel="epoch", ylabel="value", title=None, logy=False, ax=None):
    """Plot several named curves against ``x`` (training curves, delta values, ...); returns the figure."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        xs = np.arange(1, len(values) + 1) if x is None else np.asarray(x)
        ax.plot(xs, values, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(curves) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return fig

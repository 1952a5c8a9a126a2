"""Figures of self-organizing maps and principal curves.

Map figures draw one cell per unit at the unit's map position (``SOM().positions_``):
squares on a rectangular grid, hexagons on a hexagonal one, row 0 at the top.
The values come from the estimator (``u_matrix()``, ``hit_map(X)``,
``codebook_``); nothing here computes map quantities.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.patches import RegularPolygon

from aekit.viz._core import image_grid, plt

__all__ = ["plot_som_map", "plot_u_matrix", "plot_hit_map", "plot_codebook", "plot_component_planes", "plot_principal_curve"]


def _cells(positions: np.ndarray, hexagonal: bool):
    """One patch per unit centred at (column, row) of its map position."""
    patches = []
    for r, c in positions:
        if hexagonal:  # pointy-top hexagon of width 1: neighbours at distance 1 touch
            patches.append(RegularPolygon((c, r), numVertices=6, radius=1 / math.sqrt(3), orientation=0.0))
        else:
            patches.append(RegularPolygon((c, r), numVertices=4, radius=math.sqrt(0.5), orientation=math.pi / 4))
    return patches


def _positions(values: np.ndarray, positions) -> np.ndarray:
    if positions is None:  # a rectangular grid given by the values' shape
        rows, cols = values.shape
        i, j = np.divmod(np.arange(rows * cols), cols)
        return np.stack([i, j], axis=1).astype(float)
    return np.asarray(positions, dtype=float)


def plot_som_map(values, positions=None, *, title=None, cmap="viridis", label=None, annotate=False, ax=None):
    """Draw one value per map unit (U-matrix, hits, a component plane); returns the figure.

    Parameters
    ----------
    values : array of shape grid_shape or (n_units,)
    positions : array (n_units, 2), optional
        ``SOM().positions_``; hexagonal grids are recognised from their row
        spacing. None: a rectangular grid of ``values.shape``.
    annotate : bool
        Write each value in its cell (small maps, counts).
    """
    values = np.asarray(values, dtype=float)
    P = _positions(values.reshape(values.shape if values.ndim == 2 else (1, -1)), positions)
    v = values.ravel()
    if len(v) != len(P):
        raise ValueError(f"{len(v)} values for {len(P)} units; pass one value per unit.")
    rows = np.unique(np.round(P[:, 0], 6))
    hexagonal = len(rows) > 1 and not np.isclose(rows[1] - rows[0], 1.0)
    if ax is None:
        width, height = np.ptp(P[:, 1]) + 1, np.ptp(P[:, 0]) + 1
        scale = 5.5 / max(width, height)
        fig, ax = plt.subplots(figsize=(max(3.0, width * scale + 1.2), max(2.5, height * scale)))
    else:
        fig = ax.figure
    coll = PatchCollection(_cells(P, hexagonal), cmap=cmap, edgecolor="white", linewidth=0.5)
    coll.set_array(v)
    ax.add_collection(coll)
    ax.set_xlim(P[:, 1].min() - 0.75, P[:, 1].max() + 0.75)
    ax.set_ylim(P[:, 0].max() + 0.75, P[:, 0].min() - 0.75)  # row 0 at the top
    ax.set_aspect("equal")
    ax.set_axis_off()
    fig.colorbar(coll, ax=ax, fraction=0.046, pad=0.04, label=label)
    if annotate:
        top = np.nanmax(v) if v.size else 0
        for (r, c), value in zip(P, v):
            text = f"{int(value)}" if float(value).is_integer() else f"{value:.2g}"
            ax.text(c, r, text, ha="center", va="center", fontsize=7, color="black" if value > 0.6 * top else "white")
    if title:
        ax.set_title(title)
    return fig


def plot_u_matrix(u_matrix, positions=None, *, title="U-matrix", ax=None):
    """The U-matrix (mean distance of each prototype to its neighbours'): light ridges separate clusters."""
    return plot_som_map(u_matrix, positions, title=title, cmap="bone_r", label="mean distance to neighbours", ax=ax)


def plot_hit_map(hits, positions=None, *, title="hits per unit", ax=None):
    """How many samples each unit wins (``SOM().hit_map(X)``), counts written in the cells of small maps."""
    hits = np.asarray(hits)
    return plot_som_map(hits, positions, title=title, cmap="magma", label="samples", annotate=hits.size <= 144, ax=ax)


def plot_codebook(codebook, grid_shape, image_shape, *, title="codebook", ax=None):
    """Prototypes of a map trained on images, tiled as the map (unit (i, j) at row i, column j)."""
    rows, cols = grid_shape
    codebook = np.asarray(codebook)
    if codebook.shape[0] != rows * cols:
        raise ValueError(f"codebook has {codebook.shape[0]} prototypes, grid_shape {grid_shape} has {rows * cols} units.")
    return image_grid(codebook, image_shape, n_cols=cols, normalize="global", title=title, ax=ax)


def plot_component_planes(codebook, positions, *, feature_names=None, n=9, n_cols=3):
    """One map per input feature (the first ``n``): the value of that feature in every prototype."""
    codebook = np.asarray(codebook, dtype=float)
    n = min(n, codebook.shape[1])
    n_rows = int(math.ceil(n / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.8 * n_rows), squeeze=False)
    for f, ax in enumerate(axes.ravel()):
        if f >= n:
            ax.set_axis_off()
            continue
        name = feature_names[f] if feature_names is not None else f"feature {f}"
        plot_som_map(codebook[:, f], positions, title=name, ax=ax)
    return fig


def plot_principal_curve(X, curve, *, color=None, title="principal curve", ax=None, s=4.0):
    """The data (first two coordinates) and the fitted polyline (``PrincipalCurve().curve_``)."""
    X = np.asarray(X)
    curve = np.asarray(curve)
    if X.ndim != 2 or X.shape[1] < 2 or curve.ndim != 2 or curve.shape[1] != X.shape[1]:
        raise ValueError(f"need X (n, d >= 2) and curve (k, d) with the same d; got {X.shape} and {curve.shape}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    else:
        fig = ax.figure
    sc = ax.scatter(X[:, 0], X[:, 1], c=color, s=s, cmap="viridis" if color is not None else None, linewidths=0, alpha=0.7)
    if color is not None:
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.04, label="position along the curve")
    ax.plot(curve[:, 0], curve[:, 1], color="crimson", linewidth=2, label="principal curve")
    ax.plot(curve[0, 0], curve[0, 1], "o", color="crimson", markersize=5)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return fig

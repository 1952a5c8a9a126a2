"""Figures of linear decompositions: scree plot, eigen-images, PCA reconstructions,
ICA sources against their estimates, slow features against time and the driving force.

Every function takes arrays (``components_``, ``explained_variance_ratio_``,
outputs of ``transform``) and returns a matplotlib Figure; what to compare is
computed by the library (e.g. :func:`aekit.decomposition.match_sources`).
"""

from __future__ import annotations

import numpy as np

from aekit.inspection import tile_images
from aekit.viz._core import plt

__all__ = [
    "plot_scree",
    "plot_eigenimages",
    "plot_pca_reconstructions",
    "plot_ica_sources",
    "plot_slow_features",
]


def _finite(a, name: str, ndim: int) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity; nothing meaningful to draw.")
    return a


def _thin(n_rows: int, n_points: int) -> np.ndarray:
    """At most ``n_points`` evenly spaced row indices (long signals draw faster, look the same)."""
    step = max(1, int(np.ceil(n_rows / max(n_points, 1))))
    return np.arange(0, n_rows, step)


def plot_scree(explained_variance_ratio, *, n_show: int | None = None, title: str | None = "scree plot"):
    """Explained variance ratio per component (bars) and its running sum (line, right axis).

    Parameters
    ----------
    explained_variance_ratio : array of shape (n_components,)
        e.g. ``PCA().fit(X).explained_variance_ratio_``.
    n_show : int, optional
        Draw only the first ``n_show`` components (the cumulative curve still
        counts them from the first).
    """
    ratio = _finite(explained_variance_ratio, "explained_variance_ratio", 1)
    if ratio.size == 0:
        raise ValueError("explained_variance_ratio is empty: nothing to draw.")
    k = ratio.size if n_show is None else max(1, min(int(n_show), ratio.size))
    x = np.arange(1, k + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x, ratio[:k], color="tab:blue", width=0.8, label="per component")
    ax.set_xlabel("component")
    ax.set_ylabel("explained variance ratio")
    right = ax.twinx()
    cumulative = np.cumsum(ratio)[:k]
    right.plot(x, cumulative, color="tab:red", marker="." if k <= 60 else None, label="cumulative")
    right.set_ylim(0, 1.02)
    right.set_ylabel("cumulative ratio", color="tab:red")
    for level in (0.9, 0.95):
        hit = np.searchsorted(cumulative, level)
        if hit < k:
            right.axhline(level, color="gray", lw=0.6, ls=":")
            right.annotate(f"{level:.0%}: {hit + 1}", (hit + 1, level), textcoords="offset points",
                           xytext=(4, -10), fontsize=8, color="gray")
    if title:
        ax.set_title(title)
    return fig


def plot_eigenimages(components, image_shape, *, mean=None, n: int = 24, n_cols: int | None = None,
                     title: str | None = "eigen-images"):
    """Principal axes drawn as images: red positive, blue negative, white zero.

    Each tile is scaled by its own largest magnitude, so the sign pattern of
    every component is visible whatever its norm.

    Parameters
    ----------
    components : array of shape (n_components, prod(image_shape))
        ``PCA.components_`` (one axis per row, largest variance first).
    image_shape : tuple
    mean : array of shape (prod(image_shape),), optional
        The mean image, drawn in grey beside the grid.
    n : int
        Number of components shown (the first ``n``).
    """
    V = _finite(components, "components", 2)[: max(1, int(n))]
    scale = np.abs(V).max(axis=1, keepdims=True)
    tiles = 0.5 + 0.5 * V / np.where(scale > 0, scale, 1.0)
    grid = tile_images(tiles, image_shape, n_cols=n_cols, normalize="none", fill=0.5)
    if mean is None:
        fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1]))
        axes = [ax]
    else:
        fig, axes = plt.subplots(1, 2, figsize=(8, 5), gridspec_kw={"width_ratios": [1, 3]})
        m = _finite(mean, "mean", 1).reshape(image_shape)
        axes[0].imshow(m, cmap="gray", interpolation="nearest")
        axes[0].set_title("mean")
        axes[0].set_axis_off()
    axes[-1].imshow(grid, cmap="RdBu_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[-1].set_axis_off()
    if title:
        axes[-1].set_title(f"{title} (first {V.shape[0]})")
    return fig


def plot_pca_reconstructions(X, reconstructions: dict, image_shape, *, n: int = 10,
                             title: str | None = "reconstructions"):
    """Originals (top row) and their reconstructions from a few component counts (one row each).

    Parameters
    ----------
    X : array of shape (n_samples, prod(image_shape))
        Original images; the first ``n`` are shown.
    reconstructions : dict label -> array of shape (n_samples, prod(image_shape))
        e.g. ``{"5 components": pca5.inverse_transform(pca5.transform(X)), ...}``.
    image_shape : tuple
    n : int
        Number of images (columns).

    All rows share the grey scale of the originals; reconstructions are
    clipped to it for display.
    """
    X = _finite(X, "X", 2)[: max(1, int(n))]
    lo, hi = X.min(), X.max()
    span = hi - lo if hi > lo else 1.0
    rows = [("original", X)]
    for label, R in reconstructions.items():
        R = _finite(R, f"reconstruction {label!r}", 2)[: X.shape[0]]
        if R.shape != X.shape:
            raise ValueError(f"reconstruction {label!r} has shape {R.shape}; expected {X.shape}.")
        rows.append((str(label), R))
    stack = np.concatenate([np.clip((R - lo) / span, 0.0, 1.0) for _, R in rows])
    grid = tile_images(stack, image_shape, n_cols=X.shape[0], normalize="none")
    fig, ax = plt.subplots(figsize=(1.0 * X.shape[0] + 1.5, 1.0 * len(rows) + 0.6))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    h = image_shape[0] + 1
    ax.set_yticks([i * h + image_shape[0] / 2 for i in range(len(rows))], [label for label, _ in rows])
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def plot_ica_sources(recovered, *, sources=None, order=None, correlations=None, t=None, n_points: int = 1000,
                     title: str | None = "independent components"):
    """Recovered sources against time; with ``sources``, each beside the true source it matches.

    Parameters
    ----------
    recovered : array of shape (n_samples, k)
        ``FastICA.transform(X)``.
    sources : array of shape (n_samples, m), optional
        The true sources (e.g. ``make_ica_mixture().extras["sources"]``).
    order, correlations : arrays of shape (m,), optional
        From :func:`aekit.decomposition.match_sources`: ``recovered[:, order[i]]``
        matches ``sources[:, i]`` with signed correlation ``correlations[i]``;
        the estimate is drawn with that sign so both curves look alike.
    t : array of shape (n_samples,), optional
        Time axis (default: sample index).
    n_points : int
        Points drawn per curve (long signals are thinned evenly).
    """
    Y = _finite(recovered, "recovered", 2)
    idx = _thin(Y.shape[0], n_points)
    time = np.arange(Y.shape[0]) if t is None else _finite(t, "t", 1)
    if sources is None:
        fig, axes = plt.subplots(Y.shape[1], 1, figsize=(7, 1.3 * Y.shape[1] + 0.6), sharex=True, squeeze=False)
        for j in range(Y.shape[1]):
            axes[j, 0].plot(time[idx], Y[idx, j], lw=0.8)
            axes[j, 0].set_ylabel(f"IC {j + 1}")
    else:
        S = _finite(sources, "sources", 2)
        if order is None or correlations is None:
            raise ValueError("pass order and correlations (aekit.decomposition.match_sources) with sources.")
        order = np.asarray(order, dtype=int)
        corr = np.asarray(correlations, dtype=np.float64)
        m = S.shape[1]
        fig, axes = plt.subplots(m, 2, figsize=(10, 1.3 * m + 0.8), sharex=True, squeeze=False)
        for i in range(m):
            axes[i, 0].plot(time[idx], S[idx, i], lw=0.8, color="black")
            axes[i, 0].set_ylabel(f"source {i + 1}")
            if order[i] >= 0:
                sign = 1.0 if corr[i] >= 0 else -1.0
                axes[i, 1].plot(time[idx], sign * Y[idx, order[i]], lw=0.8, color="tab:blue")
                axes[i, 1].set_title(f"IC {order[i] + 1}{' (sign flipped)' if sign < 0 else ''}: "
                                     f"|corr| = {abs(corr[i]):.4f}", fontsize=8)
            else:
                axes[i, 1].set_title("no component left to match", fontsize=8)
        axes[0, 0].set_title("true sources", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_slow_features(Y, *, t=None, driving_force=None, delta_values=None, n: int = 3, n_points: int = 2000,
                       title: str | None = "slow features"):
    """The slowest outputs against time; with a driving force, the first is overlaid on it.

    Parameters
    ----------
    Y : array of shape (n_samples, n_components)
        ``SFA.transform(X)`` (slowest first).
    t : array of shape (n_samples,), optional
        Time of each row (default: index).
    driving_force : array of shape (n_samples,), optional
        Known slow signal aligned with the rows of ``Y``. It is standardised
        and drawn with the sign of its correlation with ``Y[:, 0]``; a last
        panel scatters one against the other.
    delta_values : array of shape (n_components,), optional
        ``SFA.delta_values_``, written in the panel titles.
    n : int
        Number of slow features drawn.
    """
    Y = _finite(Y, "Y", 2)
    k = max(1, min(int(n), Y.shape[1]))
    idx = _thin(Y.shape[0], n_points)
    time = np.arange(Y.shape[0]) if t is None else _finite(t, "t", 1)
    force = None if driving_force is None else _finite(driving_force, "driving_force", 1)
    if force is not None and force.shape[0] != Y.shape[0]:
        raise ValueError(f"driving_force has {force.shape[0]} values; Y has {Y.shape[0]} rows.")
    panels = k + (force is not None)
    fig, axes = plt.subplots(panels, 1, figsize=(8, 1.6 * panels + 0.6), squeeze=False)
    axes = axes[:, 0]
    for j in range(k):
        ax = axes[j]
        ax.plot(time[idx], Y[idx, j], lw=0.8, color="tab:blue", label=f"y{j + 1}")
        label = f"y{j + 1}" + ("" if delta_values is None else f"  (Δ = {float(delta_values[j]):.3g})")
        ax.set_title(label, fontsize=9, loc="left")
        if j == 0 and force is not None:
            z = (force - force.mean()) / (force.std() or 1.0)
            corr = float(np.corrcoef(Y[:, 0], force)[0, 1])
            sign = 1.0 if corr >= 0 else -1.0
            ax.plot(time[idx], sign * z[idx], lw=1.2, color="tab:red", alpha=0.8,
                    label=f"{'-' if sign < 0 else ''}driving force (standardised)")
            ax.set_title(label + f"   |corr with driving force| = {abs(corr):.4f}", fontsize=9, loc="left")
            ax.legend(fontsize=7, loc="upper right")
    if force is not None:
        ax = axes[-1]
        ax.scatter(force[idx], Y[idx, 0], s=3, alpha=0.5)
        ax.set_xlabel("driving force")
        ax.set_ylabel("y1")
    else:
        axes[-1].set_xlabel("time")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

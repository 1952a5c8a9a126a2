"""Tile a stack of flattened images (filters, reconstructions, codebooks) into one array."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["tile_images"]


def tile_images(
    images,
    image_shape: tuple[int, ...],
    *,
    n_cols: int | None = None,
    padding: int = 1,
    normalize: str = "tile",
    fill: float = 1.0,
) -> np.ndarray:
    """Arrange ``images`` in a grid, one tile per row of ``images``.

    Parameters
    ----------
    images : array of shape (n_images, prod(image_shape))
        Flattened images, e.g. first-layer filters ``W`` (one unit per row).
    image_shape : (height, width) or (height, width, channels)
    n_cols : int, optional
        Tiles per grid row; default ``ceil(sqrt(n_images))``.
    padding : int
        Pixels between tiles, filled with ``fill``.
    normalize : {"tile", "global", "none"}
        ``"tile"`` rescales each tile to [0, 1] on its own (filters, whose
        scales differ), ``"global"`` uses one min/max for all, ``"none"`` keeps
        the values (images already in [0, 1]).
    fill : float
        Value of the padding.

    Returns
    -------
    grid : array of shape (rows*(h+padding)-padding, cols*(w+padding)-padding[, channels])
    """
    images = np.asarray(images, dtype=np.float64)
    size = int(np.prod(image_shape))
    if images.ndim == 1:
        images = images[None, :]
    if images.ndim != 2 or images.shape[1] != size:
        raise ValueError(
            f"images must have shape (n_images, {size}) for image_shape={tuple(image_shape)}, got {images.shape}."
        )
    n = images.shape[0]
    if n == 0:
        raise ValueError("images is empty: nothing to tile.")
    if normalize == "tile":
        lo = images.min(axis=1, keepdims=True)
        span = images.max(axis=1, keepdims=True) - lo
        images = (images - lo) / np.where(span > 0, span, 1.0)
    elif normalize == "global":
        lo, hi = images.min(), images.max()
        images = (images - lo) / (hi - lo if hi > lo else 1.0)
    elif normalize != "none":
        raise ValueError(f"Unknown normalize {normalize!r}: use one of 'tile', 'global', 'none'.")
    n_cols = n_cols or int(math.ceil(math.sqrt(n)))
    n_rows = int(math.ceil(n / n_cols))
    h, w = image_shape[:2]
    extra = tuple(image_shape[2:])
    grid = np.full(
        (n_rows * (h + padding) - padding, n_cols * (w + padding) - padding) + extra, fill, dtype=np.float64
    )
    tiles = images.reshape((n,) + tuple(image_shape))
    for i in range(n):
        r, c = divmod(i, n_cols)
        grid[r * (h + padding) : r * (h + padding) + h, c * (w + padding) : c * (w + padding) + w] = tiles[i]
    return grid

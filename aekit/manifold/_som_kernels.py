"""Self-organizing map kernels: the grid, the best-matching-unit search, and the map's quality measures.

A map is a grid of units ``j = 0 .. rows*cols - 1`` (numbered row by row) with
positions ``r_j`` in the plane and prototypes (the codebook) ``W`` ``(n_units,
n_features)`` in data space. The best-matching unit (BMU) of a sample is
``c(x) = argmin_j ||x - w_j||^2 = argmin_j (||w_j||^2 - 2 x.w_j)``: one matrix
product ranks the units for a whole batch (:func:`match_scores`), and every BMU
search of :class:`aekit.manifold.SOM` (online step, batch map, inference), of
CCA's vector quantization and of the quality measures goes through it.

Quality of a codebook against data ``X`` ``(n_samples, n_features)``:

- quantization error: ``mean_i ||x_i - w_{c(i)}||``;
- topographic error: the fraction of samples whose best and second-best
  matching units are not adjacent on the map grid (Kiviluoto 1996).

:mod:`aekit.metrics` re-exports the two measures.

References
----------
Kohonen, T. (2001). *Self-Organizing Maps*, 3rd ed. Springer.
Kiviluoto, K. (1996). Topology preservation in self-organizing maps. *ICNN*, 294-299.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "grid_positions",
    "grid_adjacency",
    "match_scores",
    "squared_distances",
    "best_matching_units",
    "unit_sums",
    "quantization_error",
    "topographic_error",
]

_HEX_ROW = math.sqrt(3.0) / 2.0

# Rows of X measured at once: bounds the (chunk, n_units) score matrix.
_CHUNK = 65536


# ---------------------------------------------------------------------------- grid
def grid_positions(grid_shape: tuple[int, int], topology: str = "rectangular") -> np.ndarray:
    """Positions of the units in the map plane, shape ``(rows * cols, 2)``, unit ``i * cols + j`` at row i, column j.

    Rectangular: ``(i, j)``. Hexagonal: odd rows shifted by half a unit and rows
    ``sqrt(3)/2`` apart, ``(i sqrt(3)/2, j + (i mod 2)/2)``, so that each unit has
    its 6 neighbours at distance exactly 1.
    """
    rows, cols = grid_shape
    i, j = np.divmod(np.arange(rows * cols), cols)
    if topology == "rectangular":
        return np.stack([i, j], axis=1).astype(np.float64)
    if topology == "hexagonal":
        return np.stack([i * _HEX_ROW, j + 0.5 * (i % 2)], axis=1)
    raise ValueError(f"Unknown topology {topology!r}: use one of 'rectangular', 'hexagonal'.")


def grid_adjacency(positions, radius: float = 1.0) -> np.ndarray:
    """Boolean ``(n_units, n_units)`` adjacency: units at grid distance ``<= radius`` (not self).

    With the positions of :func:`grid_positions`, ``radius=1`` gives the 4
    neighbours of a rectangular grid and the 6 of a hexagonal one;
    ``radius=sqrt(2)`` adds the diagonals of a rectangular grid.
    """
    P = np.asarray(positions, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"grid positions must be a 2-D array (n_units, n_dims), got shape {P.shape}.")
    D = np.sqrt(((P[:, None, :] - P[None, :, :]) ** 2).sum(-1))
    A = D <= radius * (1 + 1e-9)
    np.fill_diagonal(A, False)
    return A


# ---------------------------------------------------------------------------- distances and the BMU search
def row_norms_sq(x: torch.Tensor) -> torch.Tensor:
    """``||x_i||^2`` of each row, ``(n,)``."""
    return torch.linalg.vector_norm(x, dim=1).square_()


def match_scores(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``||w_j||^2 - 2 x.w_j``: the squared distance less ``||x||^2``, which ranks the units alike.

    ``X`` is ``(n, d)`` (returns ``(n, n_units)``, one matrix product) or one
    sample ``(d,)`` (returns ``(n_units,)``, one matrix-vector product). A
    bfloat16 ``X`` (a search copy of float32 data) is matched against ``W``
    rounded to bfloat16, the scores summed in ``W``'s dtype.
    """
    W_sq = row_norms_sq(W)
    if X.dtype != W.dtype:
        return W_sq - 2.0 * (X @ W.to(X.dtype).T).to(W.dtype)
    if X.ndim == 1:
        return torch.addmv(W_sq, W, X, alpha=-2.0)
    return torch.addmm(W_sq.unsqueeze(0), X, W.T, alpha=-2.0)


def squared_distances(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between rows, ``||x||^2 - 2 x.w + ||w||^2``, clipped at 0.

    One matrix product instead of an ``(n, n_units, n_features)`` difference
    tensor. ``X`` is ``(n, d)``, ``W`` is ``(m, d)``; returns ``(n, m)``.
    """
    return match_scores(X, W).add_(row_norms_sq(X).unsqueeze(1)).clamp_(min=0.0)


def best_matching_units(X: torch.Tensor, W: torch.Tensor, k: int = 1, *, X_sq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest units of every row of ``X`` ``(n, d)``: indices and squared distances, each ``(n, k)``.

    Sorted nearest first; ties are broken towards the lower unit index. The
    units are ranked by :func:`match_scores` and ``||x||^2`` is added to the
    ``k`` chosen only (rounding is monotone, so the distances equal those of
    :func:`squared_distances`). ``X_sq`` ``(n,)`` may pass ``||x||^2``, e.g.
    the float32 norms when ``X`` is a bfloat16 search copy.
    """
    scores = match_scores(X, W)
    if k == 1:
        best, idx = scores.min(dim=1, keepdim=True)
    else:
        best, idx = torch.topk(scores, k, dim=1, largest=False, sorted=True)
    if X_sq is None:
        X_sq = row_norms_sq(X.to(W.dtype))
    return idx, best.add_(X_sq.unsqueeze(1)).clamp_(min=0.0)


def unit_sums(bmu: torch.Tensor, X: torch.Tensor, n_units: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit sums ``S_c = sum_{i: c(i)=c} x_i`` ``(n_units, n_features)`` and counts ``N_c`` ``(n_units,)``."""
    S = torch.zeros(n_units, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, bmu, X)
    N = torch.bincount(bmu, minlength=n_units).to(X.dtype)
    return S, N


# ---------------------------------------------------------------------------- quality measures
def _as_float_tensor(A, name: str, device=None) -> torch.Tensor:
    if isinstance(A, torch.Tensor):
        t = A.detach()
        t = t.to(torch.float64) if t.dtype == torch.float64 else t.to(torch.float32)
    else:
        arr = np.asarray(A)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.")
        t = torch.as_tensor(np.array(arr, dtype=np.float64))
    if device is not None:
        t = t.to(device)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {tuple(t.shape)}.")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinity; clean or impute the data first.")
    return t


def _check_pair(X, codebook):
    W = _as_float_tensor(codebook, "codebook")
    X = _as_float_tensor(X, "X", device=W.device)
    dtype = torch.promote_types(X.dtype, W.dtype)
    X, W = X.to(dtype), W.to(dtype)
    if X.shape[0] == 0:
        raise ValueError("X has 0 samples; pass at least one sample.")
    if W.shape[0] == 0:
        raise ValueError("codebook has 0 units.")
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but the codebook has {W.shape[1]}; pass data of the dimension the map was trained on."
        )
    return X, W


def quantization_error(X, codebook) -> float:
    """Mean Euclidean distance of each sample to its best-matching unit.

    Parameters
    ----------
    X : array-like or tensor of shape (n_samples, n_features)
    codebook : array-like or tensor of shape (n_units, n_features)

    Returns
    -------
    float
        ``(1/n) sum_i min_j ||x_i - w_j||``.
    """
    X, W = _check_pair(X, codebook)
    total = 0.0
    for start in range(0, X.shape[0], _CHUNK):
        _, d2 = best_matching_units(X[start : start + _CHUNK], W)
        total += float(d2.sqrt().sum())
    return total / X.shape[0]


def _adjacency_from(grid, n_units: int, radius: float) -> np.ndarray:
    if isinstance(grid, tuple) and len(grid) == 2 and all(isinstance(g, (int, np.integer)) for g in grid):
        grid = grid_positions(tuple(int(g) for g in grid))  # a rectangular grid, units numbered row by row
    G = np.asarray(grid)
    if G.dtype == bool:
        if G.shape != (n_units, n_units):
            raise ValueError(f"an adjacency matrix must be ({n_units}, {n_units}) for {n_units} units, got {G.shape}.")
        return G
    if G.ndim != 2 or G.shape[0] != n_units:
        raise ValueError(
            f"grid must be unit positions (n_units={n_units}, 2), a boolean ({n_units}, {n_units}) adjacency "
            f"matrix or a (rows, cols) grid shape; got an array of shape {G.shape}."
        )
    return grid_adjacency(G, radius)


def topographic_error(X, codebook, grid, *, radius: float = 1.0) -> float:
    """Fraction of samples whose first and second best-matching units are not adjacent.

    Parameters
    ----------
    X : array-like or tensor of shape (n_samples, n_features)
    codebook : array-like or tensor of shape (n_units, n_features)
    grid : array-like
        Either the units' positions on the map, shape (n_units, 2) (adjacent
        means at distance ``<= radius``), a boolean adjacency matrix of shape
        (n_units, n_units), or a ``(rows, cols)`` tuple for a rectangular grid
        whose units are numbered row by row.
    radius : float, default=1.0
        Adjacency radius for positions: 1 gives 4-neighbourhoods on a
        rectangular grid and 6-neighbourhoods on a hexagonal one;
        ``sqrt(2)`` counts diagonal units as adjacent too (MiniSom's convention).

    Returns
    -------
    float in [0, 1]
    """
    X, W = _check_pair(X, codebook)
    if W.shape[0] < 2:
        raise ValueError("the topographic error needs a map with at least 2 units.")
    A = torch.as_tensor(_adjacency_from(grid, W.shape[0], radius), device=W.device)
    errors = 0
    for start in range(0, X.shape[0], _CHUNK):
        idx, _ = best_matching_units(X[start : start + _CHUNK], W, k=2)
        errors += int((~A[idx[:, 0], idx[:, 1]]).sum())
    return errors / X.shape[0]

"""Self-organizing map quality: quantization error and topographic error.

Both measure a codebook ``W`` (one prototype per map unit, shape
``(n_units, n_features)``) against data ``X`` (``(n_samples, n_features)``):

- quantization error: ``mean_i ||x_i - w_{c(i)}||`` with ``c(i)`` the best-matching
  unit (BMU) of ``x_i``;
- topographic error: the fraction of samples whose best and second-best matching
  units are not adjacent on the map grid (Kiviluoto 1996).

The distance kernels below are also what :class:`aekit.manifold.SOM` trains with.

References
----------
Kohonen, T. (2001). *Self-Organizing Maps*, 3rd ed. Springer.
Kiviluoto, K. (1996). Topology preservation in self-organizing maps. *ICNN*, 294-299.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "squared_distances",
    "best_matching_units",
    "grid_adjacency",
    "quantization_error",
    "topographic_error",
]

# Rows of X processed at once: bounds the (chunk, n_units) distance matrix.
_CHUNK = 65536


def squared_distances(X: torch.Tensor, W: torch.Tensor, *, W_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances between rows, ``||x||^2 - 2 x.w + ||w||^2``, clipped at 0.

    One matrix product instead of an ``(n, n_units, n_features)`` difference
    tensor. ``X`` is ``(n, d)``, ``W`` is ``(m, d)``; returns ``(n, m)``.
    ``W_sq`` (``(m,)``) may pass precomputed squared norms of ``W``.
    """
    if W_sq is None:
        W_sq = torch.einsum("md,md->m", W, W)
    X_sq = torch.linalg.vector_norm(X, dim=1).square_()
    d2 = torch.addmm(W_sq.unsqueeze(0), X, W.T, alpha=-2.0)  # (n, m)
    d2.add_(X_sq.unsqueeze(1))
    return d2.clamp_(min=0.0)


def best_matching_units(X: torch.Tensor, W: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest units of every row of ``X``: indices and squared distances, each ``(n, k)``.

    Sorted nearest first; ties are broken towards the lower unit index.
    """
    d2 = squared_distances(X, W)
    if k == 1:
        d, idx = d2.min(dim=1, keepdim=True)
        return idx, d
    d, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
    return idx, d


def grid_adjacency(positions, radius: float = 1.0) -> np.ndarray:
    """Boolean ``(n_units, n_units)`` adjacency: units at grid distance ``<= radius`` (not self).

    With the positions of ``aekit.manifold.SOM().positions_``, ``radius=1``
    gives the 4 neighbours of a rectangular grid and the 6 of a hexagonal one;
    ``radius=sqrt(2)`` adds the diagonals of a rectangular grid.
    """
    P = np.asarray(positions, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"grid positions must be a 2-D array (n_units, n_dims), got shape {P.shape}.")
    D = np.sqrt(((P[:, None, :] - P[None, :, :]) ** 2).sum(-1))
    A = D <= radius * (1 + 1e-9)
    np.fill_diagonal(A, False)
    return A


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
        rows, cols = (int(g) for g in grid)  # a rectangular grid, units numbered row by row
        grid = np.stack(np.divmod(np.arange(rows * cols), cols), axis=1).astype(np.float64)
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

"""Classical (Torgerson) multidimensional scaling and its landmark version, as pure functions.

Classical MDS turns a matrix of distances into coordinates: double centring
of the squared distances gives a Gram matrix whose top eigenvectors, scaled by
the square roots of their eigenvalues, are the coordinates. Landmark MDS
(de Silva & Tenenbaum 2003) does this for ``L`` landmarks only and places
every other point by distance-based triangulation, in ``O(n L)`` memory.
:func:`residual_variance` measures how well an embedding keeps the distances
MDS was given (Isomap's dimensionality curve).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from aekit._torch import as_float_matrix, resolve_device, sq_dists
from aekit.manifold._eigen import top_eigenpairs

__all__ = [
    "mean_square_rows",
    "double_centre",
    "classical_mds",
    "landmark_mds",
    "mds_project",
    "clip_spectrum",
    "residual_variance",
]

# Elements of one block of float64 distances in residual_variance (a few are alive at a time, ~256 MB at most).
_BLOCK = 2**23


def mean_square_rows(D: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """``mean_i D[i, j]^2`` (n,) of a symmetric distance matrix, a block of rows at a time (no n x n copy)."""
    out = torch.zeros(D.shape[1], dtype=D.dtype, device=D.device)
    for s in range(0, D.shape[0], chunk):
        block = D[s : s + chunk]
        out += (block * block).sum(dim=0)
    return out / D.shape[0]


def double_centre(S: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    r"""``B = -1/2 J S J`` with ``J = I - 11^T/n``: squared distances (n, n) to a Gram matrix.

    ``B_ij = -1/2 (S_ij - \bar S_{i.} - \bar S_{.j} + \bar S_{..})``; for
    Euclidean ``S_ij = |x_i - x_j|^2``, ``B = X_c X_c^T`` with centred ``X_c``.
    With ``inplace`` the result overwrites ``S`` (no second n x n matrix).
    """
    row = S.mean(dim=1, keepdim=True)
    col = S.mean(dim=0, keepdim=True)
    shift = row + col - row.mean()  # (n, n) broadcast of the three means
    if inplace:
        return S.sub_(shift).mul_(-0.5)
    return -0.5 * (S - shift)


def clip_spectrum(values: torch.Tensor, what: str = "the double-centred distance matrix") -> torch.Tensor:
    """Eigenvalues with the non-positive ones set to 0, warning when there are any.

    Distances that are not Euclidean (geodesic ones on a graph) or that span
    fewer than ``n_components`` dimensions give such eigenvalues; their
    coordinates are then 0 rather than NaN.
    """
    tiny = values[0].abs() * 1e-12
    bad = values <= tiny
    if bool(bad.any()):
        r = int((~bad).sum())
        warnings.warn(
            f"{what} has only {r} positive eigenvalue(s) among the top n_components={values.numel()}: "
            f"the distances do not support that many dimensions, so the last {values.numel() - r} "
            "coordinate(s) are zero. Lower n_components.",
            UserWarning,
            stacklevel=3,
        )
    return torch.where(bad, torch.zeros_like(values), values)


def classical_mds(
    D: torch.Tensor, n_components: int, *, solver: str = "auto", tol: float = 0.0, max_iter=None, random_state=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Coordinates whose Euclidean distances best match ``D``.

    .. math::

        B = -\tfrac12 J D^{\circ 2} J = V \Lambda V^T, \qquad
        Y = V_k \Lambda_k^{1/2}

    Parameters
    ----------
    D : tensor (n, n)
        Symmetric distances (geodesic ones for Isomap).
    n_components : int
    solver, tol, max_iter, random_state : see :func:`aekit.manifold._eigen.top_eigenpairs`.

    Returns
    -------
    Y : tensor (n, n_components)
    eigenvalues : tensor (n_components,), descending
    eigenvectors : tensor (n, n_components)

    References
    ----------
    Torgerson (1952), Multidimensional scaling: I. Theory and method, Psychometrika 17.
    """
    B = double_centre(D * D, inplace=True)
    values, vectors = top_eigenpairs(B, n_components, solver=solver, tol=tol, max_iter=max_iter, random_state=random_state)
    del B
    values = clip_spectrum(values)
    return vectors * values.sqrt(), values, vectors


def mds_project(sq_dist: torch.Tensor, mean_sq: torch.Tensor, eigenvalues: torch.Tensor, eigenvectors: torch.Tensor) -> torch.Tensor:
    r"""Place points from their squared distances to the reference points of an MDS.

    .. math::

        y = -\tfrac12 \Lambda^{-1/2} V^T (\delta - \bar\delta)

    where ``δ`` holds a point's squared distances to the m reference points
    and ``\bar δ`` their column means among the references. A reference
    point lands exactly on its MDS coordinates ``Λ^{1/2} V^T e_a``.
    Directions with a zero eigenvalue get coordinate 0.

    Parameters
    ----------
    sq_dist : tensor (p, m)   squared distances of p points to the m references
    mean_sq : tensor (m,)     mean squared distance of each reference to the others
    eigenvalues : tensor (k,)
    eigenvectors : tensor (m, k)

    Returns
    -------
    tensor (p, k)

    References
    ----------
    de Silva & Tenenbaum (2003), Global versus local methods in nonlinear
    dimensionality reduction, NIPS 15.
    """
    scale = torch.where(eigenvalues > 0, eigenvalues.clamp_min(1e-300).rsqrt(), torch.zeros_like(eigenvalues))
    return -0.5 * (sq_dist - mean_sq) @ (eigenvectors * scale)


def landmark_mds(
    D_landmarks: torch.Tensor,
    landmarks: torch.Tensor,
    n_components: int,
    *,
    solver: str = "auto",
    tol: float = 0.0,
    max_iter=None,
    random_state=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Landmark MDS: classical MDS of the landmarks, triangulation of everything else.

    Parameters
    ----------
    D_landmarks : tensor (L, n)
        Distances from each landmark to every point.
    landmarks : tensor (L,) int
        Which points the landmarks are.
    n_components : int

    Returns
    -------
    Y : tensor (n, n_components)
    eigenvalues : tensor (n_components,)
    eigenvectors : tensor (L, n_components)
    mean_sq : tensor (L,)  mean squared distance of each landmark to the others

    References
    ----------
    de Silva & Tenenbaum (2003), Global versus local methods in nonlinear
    dimensionality reduction, NIPS 15.
    """
    Delta = D_landmarks[:, landmarks]
    Delta = (Delta + Delta.T) / 2  # symmetric up to rounding of the path sums
    S = Delta * Delta
    B = double_centre(S.clone(), inplace=True)
    values, vectors = top_eigenpairs(B, n_components, solver=solver, tol=tol, max_iter=max_iter, random_state=random_state)
    values = clip_spectrum(values, "the double-centred landmark distance matrix")
    mean_sq = S.mean(dim=0)
    Y = torch.empty(D_landmarks.shape[1], n_components, dtype=D_landmarks.dtype, device=D_landmarks.device)
    chunk = 65536
    for s in range(0, D_landmarks.shape[1], chunk):
        block = D_landmarks[:, s : s + chunk].T  # (b, L)
        Y[s : s + chunk] = mds_project(block * block, mean_sq, values, vectors)
    return Y, values, vectors, mean_sq


def residual_variance(D_geodesic, Y, *, rows=None, device="cpu") -> float:
    r"""Residual variance ``1 - R^2`` of embedding distances against geodesic distances.

    .. math::

        1 - \operatorname{corr}\bigl(D_G(i, j), \lVert y_i - y_j \rVert\bigr)^2

    over all pairs ``i < j`` (Tenenbaum et al. 2000, Fig. 2). Small values
    mean the embedding distances are (up to an affine map) the geodesic ones.

    Parameters
    ----------
    D_geodesic : array-like, shape (n_samples, n_samples) or (n_rows, n_samples)
        Geodesic (graph shortest-path) distances. A rectangular matrix holds
        only the rows ``rows`` (e.g. the distances from landmark points); the
        pairs are then ``(rows[a], j)`` for every ``j != rows[a]``.
    Y : array-like, shape (n_samples, n_components)
        The embedding.
    rows : array-like of int, shape (n_rows,), optional
        Which points the rows of a rectangular ``D_geodesic`` belong to.
    device : str or torch.device

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Tenenbaum, de Silva & Langford (2000), A global geometric framework for
    nonlinear dimensionality reduction, Science 290.
    """
    device = resolve_device(device)
    D = as_float_matrix(D_geodesic, "D_geodesic", device)
    Y = as_float_matrix(Y, "Y", device)
    n = Y.shape[0]
    if D.shape[1] != n:
        raise ValueError(f"D_geodesic has {D.shape[1]} columns but Y has {n} rows; they must match.")
    if rows is None:
        if D.shape[0] != n:
            raise ValueError(
                f"D_geodesic has shape {tuple(D.shape)}; pass a square (n, n) matrix, "
                "or the row indices `rows` of a rectangular one."
            )
        rows_t = torch.arange(n, device=device)
        upper = True
    else:
        rows_t = torch.as_tensor(np.asarray(rows), device=device).long().reshape(-1)
        if rows_t.numel() != D.shape[0]:
            raise ValueError(f"rows has {rows_t.numel()} entries but D_geodesic has {D.shape[0]} rows.")
        if rows_t.numel() and (rows_t.min() < 0 or rows_t.max() >= n):
            raise ValueError(f"rows must be indices in [0, {n}).")
        upper = False
    if n < 3:
        raise ValueError(f"residual_variance needs at least 3 points, got {n}.")
    Y = Y - Y.mean(0)
    ny = (Y * Y).sum(1)
    sums = torch.zeros(5, dtype=torch.float64, device=device)  # sum a, b, a^2, b^2, ab
    count = 0
    cols = torch.arange(n, device=device)
    chunk = max(1, _BLOCK // n)
    for s in range(0, D.shape[0], chunk):
        r = rows_t[s : s + chunk]
        a = D[s : s + chunk]
        b = sq_dists(Y[r], Y, ny, ny[r]).sqrt_()
        keep = cols[None, :] > r[:, None] if upper else cols[None, :] != r[:, None]
        a, b = a[keep], b[keep]
        sums += torch.stack([a.sum(), b.sum(), (a * a).sum(), (b * b).sum(), (a * b).sum()])
        count += a.numel()
    sa, sb, saa, sbb, sab = (float(v) for v in sums)
    cov = sab / count - (sa / count) * (sb / count)
    var_a = saa / count - (sa / count) ** 2
    var_b = sbb / count - (sb / count) ** 2
    if var_a <= 0 or var_b <= 0:
        raise ValueError("residual_variance is undefined: all geodesic or all embedding distances are equal.")
    r2 = cov * cov / (var_a * var_b)
    return float(min(1.0, max(0.0, 1.0 - r2)))

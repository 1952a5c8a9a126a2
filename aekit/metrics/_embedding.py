"""How well an embedding keeps the geometry of its data: neighbourhoods, distances, shape.

All four metrics take arrays (numpy or torch) and return a float.

* :func:`trustworthiness` and :func:`continuity` (Venna & Kaski) compare the
  ``k`` nearest neighbours of every point in the data and in the embedding.
  Ranks are read off neighbour lists and, beyond them, counted over blocks of
  rows on a torch device: memory is ``O(n)``, never ``O(n^2)``, so they run
  on 50,000 points.
* :func:`residual_variance` is ``1 - R^2`` between geodesic distances and
  embedding distances (Tenenbaum et al.), the quantity of Isomap's
  dimensionality curve.
* :func:`procrustes_disparity` compares two embeddings up to translation,
  scale, rotation and reflection, with the semantics of
  :func:`scipy.spatial.procrustes`.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit._torch import resolve_device

__all__ = [
    "trustworthiness",
    "continuity",
    "trustworthiness_continuity",
    "residual_variance",
    "procrustes_disparity",
]

# Elements of one block of float64 distances (or comparisons); a few blocks are
# alive at a time, about 4 * 8 * _BLOCK bytes (~256 MB) at most.
_BLOCK = 2**23


def _as_2d(A, name: str, device, dtype=torch.float64) -> torch.Tensor:
    # a copy for arrays: torch will not share read-only numpy memory
    t = A.detach() if isinstance(A, torch.Tensor) else torch.tensor(np.asarray(A))
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {tuple(t.shape)}.")
    if t.shape[0] == 0:
        raise ValueError(f"{name} has zero samples.")
    if not t.dtype.is_floating_point and t.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise ValueError(f"{name} must hold numbers, got dtype {t.dtype}.")
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinity; clean the data or the embedding first.")
    return t


def _sq_dists(A_rows: torch.Tensor, A: torch.Tensor, sq_norms: torch.Tensor, row_norms: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``|a_i - a_j|^2`` of ``(chunk, d)`` rows to ``(n, d)`` points."""
    d = torch.addmm(row_norms[:, None] + sq_norms[None, :], A_rows, A.T, alpha=-2.0)
    return d.clamp_min_(0.0)


def _nearest(A: torch.Tensor, n_near: int) -> torch.Tensor:
    """Indices (n, n_near) of each point's nearest other points, nearest first.

    On the CPU scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`
    (a KD-tree for low-dimensional data: ``O(n log n)``); on other devices a
    chunked brute-force ``topk`` in torch.
    """
    n = A.shape[0]
    if A.device.type == "cpu":
        from sklearn.neighbors import NearestNeighbors

        ind = NearestNeighbors(n_neighbors=n_near).fit(A.numpy()).kneighbors(return_distance=False)
        return torch.from_numpy(ind)
    sq = (A * A).sum(1)
    out = torch.empty(n, n_near, dtype=torch.int64, device=A.device)
    chunk = max(1, _BLOCK // n)
    for s in range(0, n, chunk):
        d = _sq_dists(A[s : s + chunk], A, sq, sq[s : s + chunk])
        rows = torch.arange(d.shape[0], device=A.device)
        d[rows, rows + s] = float("inf")
        out[s : s + chunk] = torch.topk(d, n_near, dim=1, largest=False).indices
    return out


def _rank_excess(A: torch.Tensor, nearest: torch.Tensor, targets: torch.Tensor, k: int) -> int:
    """``sum_i sum_m max(0, r(i, targets[i, m]) - k)`` with ranks ``r`` by distance in ``A``.

    ``nearest`` (n, K) lists each point's K nearest others in ``A`` in order,
    so the rank of a target found there is its position + 1. Targets beyond
    them (rank > K) are ranked exactly against a full row of distances,
    ``r = 1 + #{l != i : d(i, l) < d(i, j)}``, computed for those rows only
    and a block of rows at a time.
    """
    n, n_near = nearest.shape
    device = A.device
    total = 0
    missing_rows, missing_cols = [], []
    chunk = max(1, _BLOCK // (n_near * targets.shape[1]))
    for s in range(0, n, chunk):
        match = nearest[s : s + chunk, :, None] == targets[s : s + chunk, None, :]  # (B, K, k)
        found = match.any(dim=1)  # (B, k)
        rank = match.to(torch.uint8).argmax(dim=1) + 1
        total += int((rank - k).clamp_min_(0)[found].sum())
        r, c = torch.nonzero(~found, as_tuple=True)
        missing_rows.append(r + s)
        missing_cols.append(c)
    rows = torch.cat(missing_rows)
    if rows.numel() == 0:
        return total
    cols = torch.cat(missing_cols)
    uniq, inverse = torch.unique(rows, return_inverse=True)
    sq = (A * A).sum(1)
    group = max(1, _BLOCK // n)
    for g in range(0, uniq.numel(), group):
        u = uniq[g : g + group]
        d = _sq_dists(A[u], A, sq, sq[u])  # (G, n)
        d[torch.arange(u.numel(), device=device), u] = float("inf")
        # rows are ascending, so the pairs of this group are one contiguous run
        lo, hi = (int(v) for v in torch.searchsorted(inverse, torch.tensor([g, g + group], device=device)))
        local, tgt = inverse[lo:hi] - g, targets[rows[lo:hi], cols[lo:hi]]
        for p in range(0, hi - lo, group):
            lr, tj = local[p : p + group], tgt[p : p + group]
            t = d[lr, tj]
            rank = torch.count_nonzero(d[lr] < t[:, None], dim=1) + 1
            total += int((rank.clamp_min_(n_near + 1) - k).sum())
    return total


def _neighbourhood_penalties(X, Y, k: int, device) -> tuple[float, float, int]:
    """The two rank sums of Venna & Kaski.

    Returns ``(sum_T, sum_C, n)``: ``sum_T`` penalises embedding neighbours by
    their rank in the data (trustworthiness), ``sum_C`` data neighbours by
    their rank in the embedding (continuity).
    """
    device = resolve_device(device)
    X = _as_2d(X, "X", device)
    Y = _as_2d(Y, "Y", device)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"X has {n} samples but the embedding Y has {Y.shape[0]}; they must match row for row.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    k = int(k)
    if k >= n / 2:
        raise ValueError(
            f"k={k} must be less than n_samples / 2 = {n / 2} for the measure to lie in [0, 1]; "
            "use a smaller k or more samples."
        )
    # Centring does not change distances and keeps |a|^2 + |b|^2 - 2ab accurate.
    X = X - X.mean(dim=0)
    Y = Y - Y.mean(dim=0)
    # Ranks up to n_near are read off the neighbour lists; larger ones are counted.
    n_near = min(n - 1, 4 * k + 32)
    near_x, near_y = _nearest(X, n_near), _nearest(Y, n_near)
    sum_t = _rank_excess(X, near_x, near_y[:, :k], k)  # embedding neighbours ranked in the data
    sum_c = _rank_excess(Y, near_y, near_x[:, :k], k)  # data neighbours ranked in the embedding
    return float(sum_t), float(sum_c), n


def _normalise(total: float, n: int, k: int) -> float:
    return 1.0 - 2.0 * total / (n * k * (2.0 * n - 3.0 * k - 1.0))


def trustworthiness_continuity(X, Y, k: int = 5, *, device="cpu") -> tuple[float, float]:
    """Trustworthiness and continuity at ``k``, computed together in one pass.

    Same arguments as :func:`trustworthiness`; returns ``(T(k), C(k))``.
    """
    sum_t, sum_c, n = _neighbourhood_penalties(X, Y, k, device)
    return _normalise(sum_t, n, k), _normalise(sum_c, n, k)


def trustworthiness(X, Y, k: int = 5, *, device="cpu") -> float:
    r"""Trustworthiness of an embedding: are its close neighbours close in the data?

    .. math::

        T(k) = 1 - \frac{2}{n k (2n - 3k - 1)} \sum_{i=1}^{n}
               \sum_{j \in U_k(i)} \bigl(r(i, j) - k\bigr)

    where :math:`U_k(i)` are the points among the ``k`` nearest neighbours of
    ``i`` in the embedding that are not among its ``k`` nearest neighbours in
    the data, and :math:`r(i, j)` is the rank of ``j`` by distance from ``i``
    in the data (the nearest other point has rank 1). ``T = 1`` when every
    embedding neighbourhood is a data neighbourhood. Equal to
    :func:`sklearn.manifold.trustworthiness` with Euclidean distances (up to
    the order of exactly tied distances).

    Parameters
    ----------
    X : array-like or tensor, shape (n_samples, n_features)
        The data.
    Y : array-like or tensor, shape (n_samples, n_components)
        Its embedding, row for row.
    k : int
        Neighbourhood size, ``1 <= k < n_samples / 2``.
    device : str or torch.device
        Where the distances are computed. On the CPU the nearest neighbours
        come from scikit-learn (a KD-tree in low dimension), elsewhere from a
        chunked ``topk``; ranks beyond the ``4k + 32`` nearest are counted
        exactly against full rows of distances, a block of rows at a time, so
        memory stays ``O(n)`` times a constant (about 2**23 distances).

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Venna & Kaski (2001), Neighborhood preservation in nonlinear projection
    methods: an experimental study, ICANN.
    """
    sum_t, _, n = _neighbourhood_penalties(X, Y, k, device)
    return _normalise(sum_t, n, k)


def continuity(X, Y, k: int = 5, *, device="cpu") -> float:
    r"""Continuity of an embedding: do the data's close neighbours stay close in it?

    .. math::

        C(k) = 1 - \frac{2}{n k (2n - 3k - 1)} \sum_{i=1}^{n}
               \sum_{j \in V_k(i)} \bigl(\hat r(i, j) - k\bigr)

    where :math:`V_k(i)` are the ``k`` nearest data neighbours of ``i`` that
    are not among its ``k`` nearest embedding neighbours and
    :math:`\hat r(i, j)` is the rank of ``j`` from ``i`` in the embedding.
    ``continuity(X, Y, k) == trustworthiness(Y, X, k)``. Arguments as in
    :func:`trustworthiness`.

    References
    ----------
    Venna & Kaski (2001), Neighborhood preservation in nonlinear projection
    methods: an experimental study, ICANN.
    """
    _, sum_c, n = _neighbourhood_penalties(X, Y, k, device)
    return _normalise(sum_c, n, k)


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
    D = _as_2d(D_geodesic, "D_geodesic", device)
    Y = _as_2d(Y, "Y", device)
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
        b = _sq_dists(Y[r], Y, ny, ny[r]).sqrt_()
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


def procrustes_disparity(Y1, Y2) -> float:
    r"""Procrustes disparity between two embeddings of the same points.

    Both are centred and scaled to unit Frobenius norm; then ``Y2`` is
    rotated / reflected by the orthogonal ``R`` and scaled by ``s`` that best
    match ``Y1``, and the disparity is the remaining sum of squares,

    .. math::

        d = \min_{R^T R = I,\ s} \lVert \tilde Y_1 - s \tilde Y_2 R \rVert_F^2
          = 1 - \bigl(\textstyle\sum_i \sigma_i(\tilde Y_1^T \tilde Y_2)\bigr)^2,

    the value :func:`scipy.spatial.procrustes` returns as ``disparity``.
    ``0`` means the embeddings are the same shape; it is symmetric in its
    arguments and lies in [0, 1].

    Parameters
    ----------
    Y1, Y2 : array-like, shape (n_samples, n_components)
        Same shape; at least two distinct rows each.

    Returns
    -------
    float

    References
    ----------
    Gower (1975), Generalized Procrustes analysis, Psychometrika 40.
    """
    A = _as_2d(Y1, "Y1", "cpu")
    B = _as_2d(Y2, "Y2", "cpu")
    if A.shape != B.shape:
        raise ValueError(f"Y1 and Y2 must have the same shape, got {tuple(A.shape)} and {tuple(B.shape)}.")
    A = A - A.mean(0)
    B = B - B.mean(0)
    na, nb = torch.linalg.norm(A), torch.linalg.norm(B)
    if na == 0 or nb == 0:
        raise ValueError("Procrustes needs at least two distinct points in each embedding; one is a single point.")
    sigma = torch.linalg.svdvals((A / na).T @ (B / nb))
    return float(max(0.0, 1.0 - float(sigma.sum()) ** 2))

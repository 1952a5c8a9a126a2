"""How well an embedding keeps the geometry of its data: neighbourhoods, distances, shape.

Each metric takes arrays (numpy or torch) and returns a float.

* :func:`trustworthiness` and :func:`continuity` (Venna & Kaski) compare the
  ``k`` nearest neighbours of every point in the data and in the embedding.
  Ranks are read off neighbour lists and, beyond them, counted over blocks of
  rows on a torch device: memory is ``O(n)``, never ``O(n^2)``, so they run
  on 50,000 points.
* :func:`~aekit.manifold.residual_variance` (``1 - R^2`` between geodesic
  and embedding distances, the quantity of Isomap's dimensionality curve) lives
  beside MDS in :mod:`aekit.manifold`; :mod:`aekit.metrics` re-exports it.
* :func:`procrustes_disparity` compares two embeddings up to translation,
  scale, rotation and reflection, with the semantics of
  :func:`scipy.spatial.procrustes`.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit._torch import as_float_matrix, resolve_device, sq_dists

__all__ = [
    "trustworthiness",
    "continuity",
    "trustworthiness_continuity",
    "procrustes_disparity",
]

# Elements of one block of float64 distances (or comparisons); a few blocks are
# alive at a time, about 4 * 8 * _BLOCK bytes (~256 MB) at most.
_BLOCK = 2**23


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
        d = sq_dists(A[s : s + chunk], A, sq, sq[s : s + chunk])
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
        d = sq_dists(A[u], A, sq, sq[u])  # (G, n)
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
    X = as_float_matrix(X, "X", device)
    Y = as_float_matrix(Y, "Y", device)
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
    A = as_float_matrix(Y1, "Y1", "cpu")
    B = as_float_matrix(Y2, "Y2", "cpu")
    if A.shape != B.shape:
        raise ValueError(f"Y1 and Y2 must have the same shape, got {tuple(A.shape)} and {tuple(B.shape)}.")
    A = A - A.mean(0)
    B = B - B.mean(0)
    na, nb = torch.linalg.norm(A), torch.linalg.norm(B)
    if na == 0 or nb == 0:
        raise ValueError("Procrustes needs at least two distinct points in each embedding; one is a single point.")
    sigma = torch.linalg.svdvals((A / na).T @ (B / nb))
    return float(max(0.0, 1.0 - float(sigma.sum()) ** 2))

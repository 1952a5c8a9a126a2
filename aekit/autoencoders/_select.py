"""Exact selection of the largest pre-activations: per row (TopK) and per batch (BatchTopK).

``top_k_rows(z, k)`` returns the ``k`` largest entries of each row of ``z``
(n, m), as :func:`torch.topk` does. On the CPU, ``torch.topk`` keeps a
``(value, index)`` pair for every entry of a row and heap-sorts them, which
for a sparse autoencoder (m in the thousands, k in the tens) costs more than
the encoder's matrix product. A two-level selection gives the same set
exactly with far less work:

1. cut each row into ``g`` strided groups ``{c, c + n_g, c + 2 n_g, ...}``
   (``n_g = m // g``) and take each group's maximum (one vectorized pass);
2. the ``k`` largest group maxima name ``k`` groups: every entry of the
   row's top k lies in one of them. (If an entry ``e`` of the top k were in
   another group, the ``k`` selected groups would each hold an entry
   ``>= their maximum >= e``, so ``e`` would have ``k`` larger entries
   besides itself: a contradiction, up to ties, which may be broken either way.)
3. select the top k among those ``k · g`` candidates.

Steps 2 and 3 are partitions of short rows, done by NumPy's introselect
(values only, no index pairs). The entries left over when ``g`` does not
divide ``m`` are candidates always. ``top_k_batch(z, count)`` selects the
``count`` largest entries of the whole batch (BatchTopK) from per-row
candidates, growing the candidates of the rows that could hold more.

References
----------
Gao et al., "Scaling and evaluating sparse autoencoders" (2024), TopK;
Bussmann, Leask & Nanda, "BatchTopK Sparse Autoencoders" (2024).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["top_k_rows", "top_k_batch", "check_k"]

# The two-level CPU path pays off once rows are long and k is small against them.
_MIN_WIDTH = 1024
_MIN_GROUPS_PER_K = 8


def check_k(k: int, width: int, name: str = "k") -> None:
    """Raise a clear ``ValueError`` unless ``1 <= k <= width``."""
    if not 1 <= k <= width:
        raise ValueError(
            f"{name}={k} must be between 1 and the number of latents ({width}); lower {name} or raise n_components."
        )


def _group_size(m: int, k: int) -> int:
    """Group size g minimizing the work ``m / g + 2 k g`` of the two partitions, with ``m // g >= 8 k`` groups."""
    g = max(1, int(round(math.sqrt(m / (2.0 * k)))))
    while g > 1 and m // g < _MIN_GROUPS_PER_K * k:
        g -= 1
    return g


_POOL: ThreadPoolExecutor | None = None
_PARALLEL_ROWS = 1024


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers != workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aekit-select")
    return _POOL


def _largest_columns(a: np.ndarray, k: int) -> np.ndarray:
    """Column indices (n, k) of the k largest entries of each row of ``a`` (n, c), unordered.

    Row blocks are partitioned in parallel on torch's intra-op thread count
    (NumPy releases the GIL while it partitions).
    """
    n, c = a.shape
    if k == c:
        return np.broadcast_to(np.arange(c), a.shape).copy()
    workers = min(torch.get_num_threads(), n // _PARALLEL_ROWS)
    if workers <= 1:
        return np.ascontiguousarray(np.argpartition(a, c - k, axis=1)[:, c - k:])
    out = np.empty((n, k), dtype=np.intp)
    bounds = np.linspace(0, n, workers + 1).astype(int)

    def part(i):
        lo, hi = bounds[i], bounds[i + 1]
        out[lo:hi] = np.argpartition(a[lo:hi], c - k, axis=1)[:, c - k:]

    list(_pool(workers).map(part, range(workers)))
    return out


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.float().numpy() if t.dtype != torch.float32 else t.numpy()


def _kth_largest(flat: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count``-th largest entry of the 1-D ``flat`` (a 0-d tensor on its device)."""
    at = flat.numel() - count
    if flat.device.type == "cpu":
        return torch.tensor(np.partition(flat.numpy(), at)[at])
    return torch.kthvalue(flat, at + 1).values


def top_k_rows(z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest entries of each row of ``z`` (n, m): ``(values (n, k), indices (n, k) int64)``, unordered.

    The same set as ``torch.topk(z, k, dim=1)`` (ties broken either way; NaN
    counts as largest); values keep ``z``'s dtype. Two-level selection on the
    CPU for long rows (see the module docstring), ``torch.topk`` otherwise.
    """
    n, m = z.shape
    check_k(k, m)
    if z.device.type != "cpu" or m < _MIN_WIDTH or m < 2 * _MIN_GROUPS_PER_K * k or n == 0:
        return torch.topk(z, k, dim=1, sorted=False)
    g = _group_size(m, k)
    n_groups = m // g
    main = z[:, : g * n_groups].view(n, g, n_groups)  # main[:, i, c] = z[:, i * n_groups + c]
    group_max = main.amax(dim=1)  # (n, n_groups)
    groups = torch.from_numpy(_largest_columns(_as_numpy(group_max), k))  # (n, k) group ids
    cand = main.gather(2, groups[:, None, :].expand(n, g, k)).reshape(n, g * k)  # cand[:, i*k + s]
    tail = m - g * n_groups
    if tail:
        cand = torch.cat([cand, z[:, g * n_groups:]], dim=1)
    pick = torch.from_numpy(_largest_columns(_as_numpy(cand), k))  # (n, k) candidate slots
    values = cand.gather(1, pick)
    member, slot = pick // k, pick % k
    indices = member * n_groups + groups.gather(1, slot.clamp(max=k - 1))
    if tail:
        indices = torch.where(pick >= g * k, pick - g * k + g * n_groups, indices)
    return values, indices


def top_k_batch(z: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``count`` largest entries of the whole batch ``z`` (n, m) as CSR rows.

    Returns ``(values (count,), indices (count,) int64, crow (n + 1,) int64)``:
    row ``r`` holds entries ``crow[r]:crow[r + 1]`` (latent ``indices``,
    value ``values``), rows in order. Exactly ``count`` entries; ties at the
    cut are taken in row order.

    Each row offers its top ``c`` entries (``c = 2 count / n`` at first) as
    candidates and the ``count``-th largest candidate ``t`` is found. A row
    whose ``c`` candidates are all ``>= t`` might hold more above ``t``: only
    those rows offer 4 times as many, until none does. Then every entry of
    ``z`` above ``t`` is a candidate, so ``t`` is the batch's ``count``-th
    largest entry.
    """
    n, m = z.shape
    check_k(count, n * m, "k * batch rows")
    c = min(m, max(1, math.ceil(2 * count / n)))
    values, indices = top_k_rows(z, c)
    row_min = values.float().amin(dim=1)
    width = torch.full((n,), c, dtype=torch.int64, device=z.device)
    rows = torch.arange(n, device=z.device).repeat_interleave(c)
    values, indices = values.reshape(-1), indices.reshape(-1)
    while True:
        cut = _kth_largest(values.float(), count)
        grow = (row_min >= cut) & (width < m)
        if not bool(grow.any()):
            break
        which = grow.nonzero()[:, 0]
        wider = min(m, 4 * int(width[which].max()))
        more_values, more_indices = top_k_rows(z[which], wider)
        keep = ~grow[rows]
        values = torch.cat([values[keep], more_values.reshape(-1)])
        indices = torch.cat([indices[keep], more_indices.reshape(-1)])
        rows = torch.cat([rows[keep], which.repeat_interleave(wider)])
        width[which] = wider
        row_min[which] = more_values.float().amin(dim=1)
    above = values.float() > cut
    missing = count - int(above.sum())
    if missing > 0:  # ties at the cut, by row
        tied = (values.float() == cut).nonzero()[:, 0]
        tied = tied[torch.argsort(rows[tied], stable=True)[:missing]]
        above[tied] = True
    chosen = above.nonzero()[:, 0]
    chosen = chosen[torch.argsort(rows[chosen], stable=True)]
    crow = torch.zeros(n + 1, dtype=torch.int64, device=z.device)
    torch.cumsum(torch.bincount(rows[chosen], minlength=n), 0, out=crow[1:])
    return values[chosen], indices[chosen], crow

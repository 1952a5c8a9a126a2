"""What each latent of a sparse autoencoder fires on: its top activations, histogram and frequency, in one pass.

For codes ``H`` (n, m) of ``n`` rows (tokens, images) over ``m`` latents,
streamed in chunks of rows, one pass keeps per latent ``j``:

    top rows        the ``n_top`` rows with the largest h_rj > 0        (m, n_top)   ties: the earlier row first
    count           #{r : h_rj != 0}                                   (m,)         firing frequency = count / n
    total           Σ_r h_rj                                           (m,)         mean activation when firing = total / count
    histogram       #{r : h_rj != 0, e_b <= h_rj < e_b+1}              (m, B)       fixed log-spaced edges e_0 < ... < e_B

so the memory is ``O(m · (n_top + B))`` whatever ``n``. The running top is a
merge (:func:`merge_top`): the current ``n_top`` entries of every latent and a
chunk's non-zero entries are sorted together by (latent, value descending,
row ascending) and the first ``n_top`` of every latent are kept; a chunk's
entries that cannot enter a full top (below its last value) are dropped
before the sort. The result equals sorting all of a latent's non-zero entries
at once (tested against that brute force).

The histogram's edges are fixed before the pass (``histogram_edges``: 20 bins
per decade from 1e-4 to 1e4 by default, wide enough for activations in raw
units of any layer), so that no second pass is needed; values below the first
edge (negative codes of a signed activation included) count in the first bin,
values at or above the last edge in the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aekit.autoencoders import SparseCodes, SparseDictionary, SparseDictionaryModule
from aekit.harvest import ActivationStore

__all__ = [
    "LatentActivations",
    "top_activations",
    "merge_top",
    "histogram_edges",
    "choose_latents",
    "sparse_dictionary_module",
    "activation_rows",
    "firing_frequency",
    "mean_when_firing",
]

CHUNK = 4096  # rows encoded at once: a (4096, m) float32 block of pre-activations (75 MB at m = 4608)


def firing_frequency(counts: np.ndarray, n_rows: int) -> np.ndarray:
    """Fraction of ``n_rows`` rows on which each latent fired, from its firing ``counts``."""
    return counts / max(n_rows, 1)


def mean_when_firing(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Mean non-zero activation per latent (``totals / counts``; NaN for a latent that never fired)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class LatentActivations:
    """The one-pass statistics of every latent (see the module docstring).

    Attributes
    ----------
    top_rows : ndarray of shape (m, n_top), int64
        Rows of the data (global row numbers of a store) with the largest
        activations, largest first; -1 where a latent fired on fewer rows.
    top_values : ndarray of shape (m, n_top), float32
        Their activations; -inf where ``top_rows`` is -1.
    counts : ndarray of shape (m,), int64
        Rows on which each latent is non-zero.
    totals : ndarray of shape (m,), float64
        Sum of each latent's activations.
    histogram : ndarray of shape (m, B), int64
        Non-zero activations per log-spaced bin.
    edges : ndarray of shape (B + 1,), float64
        The bins' edges.
    n_rows : int
        Rows seen.
    """

    top_rows: np.ndarray
    top_values: np.ndarray
    counts: np.ndarray
    totals: np.ndarray
    histogram: np.ndarray
    edges: np.ndarray
    n_rows: int

    @property
    def n_latents(self) -> int:
        return self.counts.shape[0]

    @property
    def frequency(self) -> np.ndarray:
        """(m,) fraction of the rows on which each latent fires."""
        return firing_frequency(self.counts, self.n_rows)

    @property
    def mean_when_firing(self) -> np.ndarray:
        """(m,) mean non-zero activation (NaN for a latent that never fired)."""
        return mean_when_firing(self.counts, self.totals)


# ------------------------------------------------------------------ pure functions
def histogram_edges(low: float = 1e-4, high: float = 1e4, per_decade: int = 20) -> np.ndarray:
    """Log-spaced bin edges ``low * 10^(i / per_decade)`` from ``low`` to ``high`` (both > 0)."""
    if not (0 < low < high) or per_decade < 1:
        raise ValueError(f"histogram edges need 0 < low < high and per_decade >= 1, got {low}, {high}, {per_decade}.")
    n = int(round(np.log10(high / low) * per_decade))
    return low * 10.0 ** (np.arange(n + 1) / per_decade)


def merge_top(top_values: torch.Tensor, top_rows: torch.Tensor, values: torch.Tensor, rows: torch.Tensor,
              latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``N`` largest entries of every latent among its current top and new entries.

    Parameters
    ----------
    top_values : tensor of shape (m, N)
        The current top values of each latent, largest first; -inf pads.
    top_rows : tensor of shape (m, N), int64
        Their rows; -1 pads.
    values, rows, latents : tensors of shape (e,)
        New entries: value, row and latent of each.

    Returns
    -------
    (top_values, top_rows) of shape (m, N)
        Per latent, the ``N`` entries with the largest values among old and
        new, ordered by value descending, then row ascending (so equal values
        keep the earlier row); a row is never counted twice if it is not
        passed twice.
    """
    m, n_top = top_values.shape
    last_value, last_row = top_values[latents, -1], top_rows[latents, -1]
    # an entry enters only if it beats the latent's N-th: a larger value, or an equal one on an earlier row
    enters = (values > last_value) | ((values == last_value) & ((rows < last_row) | (last_row < 0)))
    values, rows, latents = values[enters], rows[enters], latents[enters]
    if values.numel() == 0:
        return top_values, top_rows
    old_latents = torch.arange(m, device=top_values.device).repeat_interleave(n_top)
    all_v = torch.cat([top_values.reshape(-1), values.to(top_values.dtype)])
    all_r = torch.cat([top_rows.reshape(-1), rows])
    all_l = torch.cat([old_latents, latents])
    # padding rows (-1) sort after every real row of the same value: key on row ascending with -1 as +inf
    row_key = torch.where(all_r < 0, torch.iinfo(torch.int64).max, all_r)
    order = torch.argsort(row_key, stable=True)
    order = order[torch.argsort(-all_v[order], stable=True)]
    order = order[torch.argsort(all_l[order], stable=True)]
    l_sorted = all_l[order]
    group_start = torch.zeros(m + 1, dtype=torch.int64, device=top_values.device)
    torch.cumsum(torch.bincount(l_sorted, minlength=m), 0, out=group_start[1:])
    rank = torch.arange(order.numel(), device=order.device) - group_start[l_sorted]
    keep = rank < n_top  # every latent has >= N entries (its old ones, padding included)
    new_values = torch.empty_like(top_values)
    new_rows = torch.empty_like(top_rows)
    new_values[l_sorted[keep], rank[keep]] = all_v[order[keep]]
    new_rows[l_sorted[keep], rank[keep]] = all_r[order[keep]]
    return new_values, new_rows


def choose_latents(counts, n: int) -> np.ndarray:
    """``n`` latents spread over firing frequency: evenly spaced ranks among the latents that fired.

    The latents with ``counts > 0`` are sorted by count (ties by index) and
    the ones at ranks ``round(linspace(0, alive - 1, n))`` are taken, from the
    rarest to the densest, so that a page shows rare, typical and dense
    latents rather than only the most frequent. Returns them in that order
    (fewer than ``n`` when fewer fired).
    """
    counts = np.asarray(counts)
    alive = np.flatnonzero(counts > 0)
    if alive.size == 0 or n < 1:
        return np.zeros(0, dtype=np.int64)
    ordered = alive[np.lexsort((alive, counts[alive]))]
    ranks = np.unique(np.round(np.linspace(0, ordered.size - 1, min(n, ordered.size))).astype(np.int64))
    return ordered[ranks].astype(np.int64)


# ------------------------------------------------------------------ data and model
def sparse_dictionary_module(sae) -> SparseDictionaryModule:
    """The module of a fitted :class:`~aekit.autoencoders.SparseDictionary` (or the module itself)."""
    if isinstance(sae, SparseDictionary):
        if not hasattr(sae, "module_"):
            raise ValueError("the SparseDictionary is not fitted; call fit before inspecting its latents.")
        return sae.module_
    if isinstance(sae, SparseDictionaryModule):
        return sae
    raise TypeError(f"expected a fitted SparseDictionary or a SparseDictionaryModule, got {type(sae).__name__}.")


def activation_rows(data, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` of ``data`` (an :class:`~aekit.harvest.ActivationStore` or an (n, d) array) as float32."""
    if isinstance(data, ActivationStore):
        return data.rows(start, stop)
    return torch.as_tensor(np.asarray(data[start:stop]), dtype=torch.float32)


def _n_rows_and_width(data) -> tuple[int, int]:
    if isinstance(data, ActivationStore):
        return len(data), data.d
    shape = getattr(data, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"data must be an ActivationStore or a 2-D array of activations (n, d), got "
                         f"{type(data).__name__} of shape {shape}.")
    return int(shape[0]), int(shape[1])


# ------------------------------------------------------------------ the pass
@torch.no_grad()
def top_activations(sae, data, *, n_top: int = 16, max_rows: int | None = None, edges=None,
                    chunk_rows: int = CHUNK, progress: bool = False) -> LatentActivations:
    """Stream ``data`` through the sparse autoencoder once; per latent, the top rows, counts and histogram.

    Parameters
    ----------
    sae : SparseDictionary or SparseDictionaryModule
        The fitted sparse autoencoder; its feature codes (what ``transform``
        returns) are inspected, computed on the module's device in its dtype.
    data : ActivationStore or array of shape (n, d)
        The activations, read in order in chunks (a store out of core, a
        memory-mapped array without loading it).
    n_top : int
        Rows kept per latent.
    max_rows : int, optional
        Only the first ``max_rows`` rows.
    edges : array of shape (B + 1,), optional
        Histogram edges, increasing and positive (default :func:`histogram_edges`).
    chunk_rows : int
        Rows encoded at once.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    LatentActivations
    """
    module = sparse_dictionary_module(sae)
    n, d = _n_rows_and_width(data)
    if d != module.n_features:
        raise ValueError(f"the data has {d} features per row but the sparse autoencoder takes {module.n_features}; "
                         "inspect it on activations of the layer it was trained on.")
    if n_top < 1 or chunk_rows < 1:
        raise ValueError(f"n_top and chunk_rows must be >= 1, got {n_top} and {chunk_rows}.")
    n = n if max_rows is None else min(n, int(max_rows))
    if n < 1:
        raise ValueError("the data has no rows to inspect.")
    edges = histogram_edges() if edges is None else np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all() or edges[0] <= 0:
        raise ValueError("edges must be an increasing 1-D array of at least two positive numbers.")
    m, device = module.n_latents, module.W_enc.device
    n_bins = edges.size - 1
    top_v = torch.full((m, n_top), -torch.inf, device=device)
    top_r = torch.full((m, n_top), -1, dtype=torch.int64, device=device)
    counts = torch.zeros(m, dtype=torch.int64, device=device)
    totals = torch.zeros(m, dtype=torch.float64, device=device)
    hist = torch.zeros(m * n_bins, dtype=torch.int64, device=device)
    inner = torch.as_tensor(edges[1:-1], dtype=torch.float64, device=device)
    was_training = module.training
    module.eval()
    bar = _progress_bar(progress, n)
    try:
        for start in range(0, n, chunk_rows):
            x = activation_rows(data, start, min(start + chunk_rows, n)).to(device=device, dtype=module.W_enc.dtype)
            codes: SparseCodes = module.sparse_features(x)
            fired = codes.values != 0
            values = codes.values[fired].float()
            latents = codes.indices[fired]
            rows = codes.row_ids()[fired] + start
            counts += torch.bincount(latents, minlength=m)
            totals.index_add_(0, latents, values.double())
            bins = torch.bucketize(values.double(), inner, right=True)  # 0 .. B-1, out-of-range clipped
            hist += torch.bincount(latents * n_bins + bins, minlength=m * n_bins)
            top_v, top_r = merge_top(top_v, top_r, values, rows, latents)
            bar.update(x.shape[0])
    finally:
        bar.close()
        module.train(was_training)
    return LatentActivations(
        top_rows=top_r.cpu().numpy(), top_values=top_v.cpu().numpy().astype(np.float32),
        counts=counts.cpu().numpy(), totals=totals.cpu().numpy(), histogram=hist.reshape(m, n_bins).cpu().numpy(),
        edges=edges, n_rows=n,
    )


def _progress_bar(enabled: bool, total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="row", unit_scale=True, desc="latents", disable=not enabled, dynamic_ncols=True)

"""The text around a harvested token, and a latent's activation on every token of it.

A text store (:func:`aekit.harvest.harvest` over token windows) indexes every
row with its token id, document, position in the document, window and
position in the window (:data:`aekit.harvest.TEXT_COLUMNS`). A window's rows
are consecutive in the store, in position order, so the context of row ``r``
is read from the index of the rows around it: those of the same window, placed
by their window position. The context is thus exactly what the model saw at
that point (a causal model sees nothing before its window), plus a few tokens
after. A slot whose position is outside the window, or whose row is not in
the store (the window's excluded first positions, rows dropped for an extreme
norm), is padding: row -1, token -1.

The same works for activations held in an array, with an index of the same
columns built by hand (an ``(n, 5)`` integer array in ``TEXT_COLUMNS``
order, or with ``columns`` naming them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aekit.harvest import ARRAY_COLUMNS, TEXT_COLUMNS, ActivationStore
from aekit.inspection._latents import activation_rows, sparse_dictionary_module

__all__ = ["TokenContexts", "token_contexts", "context_activations", "index_column", "decode_tokens",
           "is_text_index", "is_array_index"]


@dataclass(frozen=True)
class TokenContexts:
    """Contexts of rows: ``before`` tokens, the row's own token (column ``before``), ``after`` tokens.

    Attributes
    ----------
    rows : ndarray of shape (..., before + 1 + after), int64
        The data row of each slot; -1 for padding.
    tokens : ndarray of the same shape, int64
        The token id of each slot; -1 for padding.
    before : int
        Index of the row's own token in the last axis.
    """

    rows: np.ndarray
    tokens: np.ndarray
    before: int

    @property
    def width(self) -> int:
        return self.rows.shape[-1]


def _columns(index, columns) -> tuple[str, ...]:
    if isinstance(index, ActivationStore):
        return index.columns
    return TEXT_COLUMNS if columns is None else tuple(columns)


def is_text_index(index, columns=None) -> bool:
    """Whether ``index`` (a store, or an index array with ``columns``) traces rows to tokens of windows."""
    return {"token", "window", "window_position"} <= set(_columns(index, columns))


def is_array_index(index, columns=None) -> bool:
    """Whether ``index`` traces rows to samples of an array (an image harvest, :data:`~aekit.harvest.ARRAY_COLUMNS`)."""
    return ARRAY_COLUMNS[0] in set(_columns(index, columns))


def _index_rows(index, lo: int, hi: int) -> np.ndarray:
    if isinstance(index, ActivationStore):
        return index.index_rows(lo, hi)
    return np.asarray(index[lo:hi])


def _n_index_rows(index) -> int:
    return len(index) if isinstance(index, ActivationStore) else int(np.asarray(index).shape[0])


def index_column(index, rows, name: str, *, columns=None) -> np.ndarray:
    """Column ``name`` of the index at ``rows`` (any shape; -1 rows give -1)."""
    cols = _columns(index, columns)
    if name not in cols:
        raise ValueError(f"the index has columns {', '.join(cols)}, not {name!r}.")
    c = cols.index(name)
    rows = np.asarray(rows, dtype=np.int64)
    out = np.full(rows.shape, -1, dtype=np.int64)
    for flat, r in zip(np.ndindex(rows.shape), rows.reshape(-1)):
        if r >= 0:
            out[flat] = int(_index_rows(index, int(r), int(r) + 1)[0, c])
    return out


def token_contexts(index, rows, *, before: int = 16, after: int = 4, columns=None) -> TokenContexts:
    """The tokens around each of ``rows`` within its window (see the module docstring).

    Parameters
    ----------
    index : ActivationStore or int array of shape (n, c)
        A text store, or the index of an array of activations (columns
        :data:`~aekit.harvest.TEXT_COLUMNS`, or ``columns``).
    rows : int array of any shape
        Data rows; -1 entries give contexts of padding only.
    before, after : int
        Tokens of context before and after the row's own.
    columns : sequence of str, optional
        Names of the index array's columns (a store knows its own).

    Returns
    -------
    TokenContexts
        Arrays of shape ``rows.shape + (before + 1 + after,)``.
    """
    if before < 0 or after < 0:
        raise ValueError(f"before and after must be >= 0, got {before} and {after}.")
    cols = _columns(index, columns)
    if not is_text_index(index, columns):
        raise ValueError(f"the rows' index has columns {', '.join(cols)}; token contexts need 'token', 'window' and "
                         "'window_position' (a store harvested from text).")
    tok, win, pos = cols.index("token"), cols.index("window"), cols.index("window_position")
    rows = np.asarray(rows, dtype=np.int64)
    n_index = _n_index_rows(index)
    width = before + 1 + after
    out_rows = np.full(rows.shape + (width,), -1, dtype=np.int64)
    out_tokens = np.full(rows.shape + (width,), -1, dtype=np.int64)
    for flat, r in zip(np.ndindex(rows.shape), rows.reshape(-1)):
        if r < 0:
            continue
        if r >= n_index:
            raise ValueError(f"row {r} is beyond the index's {n_index} rows.")
        lo, hi = max(0, int(r) - before), min(n_index, int(r) + after + 1)
        near = _index_rows(index, lo, hi)
        own = near[r - lo]
        slots = before + (near[:, pos].astype(np.int64) - int(own[pos]))
        ok = (near[:, win] == own[win]) & (slots >= 0) & (slots < width)
        out_rows[flat][slots[ok]] = np.arange(lo, hi)[ok]
        out_tokens[flat][slots[ok]] = near[ok, tok]
    return TokenContexts(out_rows, out_tokens, before)


@torch.no_grad()
def context_activations(sae, data, context_rows, latents) -> np.ndarray:
    """Each latent's activation on every slot of its contexts.

    Parameters
    ----------
    sae : SparseDictionary or SparseDictionaryModule
    data : ActivationStore or array of shape (n, d)
        The activations the contexts' rows index.
    context_rows : int array of shape (L, N, w)
        Rows of ``N`` contexts per latent (-1: padding), e.g. :attr:`TokenContexts.rows`.
    latents : int array of shape (L,)
        The latent of each group of contexts.

    Returns
    -------
    ndarray of shape (L, N, w), float32
        The latent's feature code on each slot's row (0 for padding): the
        same codes :func:`~aekit.inspection.top_activations` ranks, so the
        activating slot holds its top value (up to float32 rounding of a
        different batch).
    """
    module = sparse_dictionary_module(sae)
    context_rows = np.asarray(context_rows, dtype=np.int64)
    latents = np.asarray(latents, dtype=np.int64)
    if context_rows.ndim != 3 or context_rows.shape[0] != latents.shape[0]:
        raise ValueError(f"context_rows must be (L, N, w) with L = len(latents) = {latents.shape[0]}, "
                         f"got {context_rows.shape}.")
    out = np.zeros(context_rows.shape, dtype=np.float32)
    valid = context_rows >= 0
    if not valid.any():
        return out
    wanted = np.unique(context_rows[valid])
    # the rows of one context are consecutive: read runs of consecutive rows at once
    breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
    device, dtype = module.W_enc.device, module.W_enc.dtype
    was_training = module.training
    module.eval()
    try:
        parts = [activation_rows(data, int(run[0]), int(run[-1]) + 1) for run in np.split(wanted, breaks)]
        X = torch.cat(parts).to(device=device, dtype=dtype)
        codes = module.sparse_features(X)
    finally:
        module.train(was_training)
    m = module.n_latents
    # every entry of the codes keyed by (row of X, latent); each slot looks up its (row, its group's latent)
    keys = codes.row_ids().cpu().numpy() * m + codes.indices.cpu().numpy()
    values = codes.values.float().cpu().numpy()
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    wanted_keys = np.searchsorted(wanted, context_rows[valid]) * m + np.broadcast_to(latents[:, None, None],
                                                                                       context_rows.shape)[valid]
    if keys.size:
        at = np.searchsorted(keys, wanted_keys).clip(max=keys.size - 1)
        out[valid] = np.where(keys[at] == wanted_keys, values[at], 0.0)
    return out


def decode_tokens(tokenizer, ids) -> dict[int, str]:
    """``{id: text}`` of each distinct token id in ``ids`` (>= 0), decoded one token at a time.

    ``tokenizer`` is a list or tuple of strings indexed by id, or a Hugging
    Face tokenizer (``tokenizer.decode([id])``; a byte-level token that is
    part of a multi-byte character decodes to U+FFFD).
    """
    unique = np.unique(np.asarray(ids, dtype=np.int64))
    unique = unique[unique >= 0]
    if isinstance(tokenizer, (list, tuple)):
        return {int(i): str(tokenizer[int(i)]) for i in unique}
    return {int(i): str(tokenizer.decode([int(i)])) for i in unique}

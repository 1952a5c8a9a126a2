"""Token windows: the fixed-length model inputs cut from tokenized documents.

The documents are joined into one stream, each followed by the model's
document separator (``separator``, e.g. a Llama's end-of-text token), and
the stream is cut into pieces of ``body = context - len(prefix) - len(suffix)``
tokens. Each window is ``prefix + piece + suffix``: a causal language model's
windows start with its beginning-of-sequence token (whose position, 0, the
harvest leaves out); an encoder's are ``[CLS] piece [SEP]``. Beside the ids,
each window position records the document it came from and its position inside
that document (both -1 for special tokens), so that a harvested row can be
traced back to its text.

By default the pieces are consecutive and do not overlap (``stride = body``):
every text token appears in exactly one window, and the tail of the stream
that does not fill a window is dropped. With a smaller ``stride`` the piece of
window ``i`` starts at stream token ``i * stride``, so consecutive windows
overlap by ``body - stride`` tokens: a token then appears in up to
``ceil(body / stride)`` windows, each time at another window position and with
another context before it (in a transformer, different activations), and a
text yields about ``body / stride`` times more rows. The windows cover the
stream's first ``(n - 1) * stride + body`` tokens, every one of them, with
``n = (stream - body) // stride + 1`` windows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.datasets import TextCorpus, TokenDocuments

__all__ = ["WindowFormat", "TokenWindows", "cut_windows", "tokenize"]


@dataclass(frozen=True)
class WindowFormat:
    """The special tokens around a window's text and between documents.

    Parameters
    ----------
    prefix : tuple of int
        Token ids starting every window (a beginning-of-sequence token, ``[CLS]``).
    suffix : tuple of int
        Token ids ending every window (``[SEP]``), usually empty for causal models.
    separator : tuple of int
        Token ids following every document in the stream (an end-of-text token).
    """

    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()
    separator: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        return {"prefix": list(self.prefix), "suffix": list(self.suffix), "separator": list(self.separator)}


@dataclass(frozen=True, eq=False)
class TokenWindows:
    """Model inputs of one context length, with the origin of every token.

    Parameters
    ----------
    tokens : ndarray of shape (n_windows, context), int64
        Token ids.
    document : ndarray of shape (n_windows, context), int32
        Index (into ``titles``) of the document each token came from; -1 for special tokens.
    position : ndarray of shape (n_windows, context), int32
        Position of each token inside its document's token sequence; -1 for special tokens.
    titles : tuple of str
        The documents' titles.
    source : str
        What the text was (corpus name, split, tokenizer).
    window_format : WindowFormat
        The special tokens the windows were built with.
    stride : int or None
        Text tokens between the starts of consecutive windows' pieces (see the
        module docstring); None for windows not cut from one stream.
    """

    tokens: np.ndarray
    document: np.ndarray
    position: np.ndarray
    titles: tuple[str, ...]
    source: str
    window_format: WindowFormat
    stride: int | None = None

    def __post_init__(self):
        if self.tokens.ndim != 2:
            raise ValueError(f"TokenWindows.tokens must be 2-D (n_windows, context), got shape {self.tokens.shape}.")
        for name in ("document", "position"):
            if getattr(self, name).shape != self.tokens.shape:
                raise ValueError(f"TokenWindows.{name} has shape {getattr(self, name).shape}, tokens {self.tokens.shape}.")

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def context(self) -> int:
        return self.tokens.shape[1]

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.size)

    def fingerprint(self) -> str:
        """SHA-256 of the ids and their origins: equal windows, equal fingerprint."""
        digest = hashlib.sha256()
        for a in (self.tokens, self.document, self.position):
            digest.update(np.ascontiguousarray(a).tobytes())
        return digest.hexdigest()

    @classmethod
    def from_ids(cls, ids, source: str = "token ids") -> "TokenWindows":
        """Windows from a bare (n_windows, context) integer array: each row its own document."""
        ids = np.asarray(ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"token ids must be a 2-D integer array (n_windows, context), got {ids.dtype} {ids.shape}.")
        n, t = ids.shape
        return cls(np.ascontiguousarray(ids, np.int64), np.repeat(np.arange(n, dtype=np.int32)[:, None], t, 1),
                   np.repeat(np.arange(t, dtype=np.int32)[None], n, 0), tuple(f"row {i}" for i in range(n)), source,
                   WindowFormat())

    def take(self, n: int) -> "TokenWindows":
        """The first ``n`` windows."""
        return TokenWindows(self.tokens[:n], self.document[:n], self.position[:n], self.titles, self.source,
                            self.window_format, self.stride)


def tokenize(corpus: TextCorpus, tokenizer) -> TokenDocuments:
    """Token ids of every document of ``corpus``, without special tokens.

    ``tokenizer`` is a Hugging Face tokenizer (anything callable as
    ``tokenizer(list_of_str, add_special_tokens=False)`` returning
    ``input_ids``).
    """
    ids = tokenizer(list(corpus.documents), add_special_tokens=False)["input_ids"]
    name = Path(str(getattr(tokenizer, "name_or_path", "") or "")).name  # a hub id's last part or a folder's name
    by = type(tokenizer).__name__ + (f" ({name})" if name else "")
    return TokenDocuments(corpus.name, tuple(np.asarray(t, dtype=np.int64) for t in ids), corpus.titles, corpus.split,
                          f"{corpus.description}; tokenized by {by}")


def cut_windows(docs: TokenDocuments, context: int, window_format: WindowFormat = WindowFormat(),
                max_windows: int | None = None, stride: int | None = None) -> TokenWindows:
    """Cut ``docs`` into windows of ``context`` tokens (see the module docstring).

    Parameters
    ----------
    docs : TokenDocuments
        Tokenized documents.
    context : int
        Tokens per window, special tokens included.
    window_format : WindowFormat
        Prefix, suffix and document separator.
    max_windows : int, optional
        Keep only the first windows (the stream is cut no further).
    stride : int, optional
        Text tokens from the start of one window's piece to the next, from 1
        to the piece length ``body``; None (default): ``body``, windows that
        do not overlap. Smaller strides give overlapping windows.

    Returns
    -------
    TokenWindows
    """
    fmt = window_format
    body = int(context) - len(fmt.prefix) - len(fmt.suffix)
    if body < 1:
        raise ValueError(f"context={context} leaves no room for text beside {len(fmt.prefix) + len(fmt.suffix)} "
                         "special tokens; use a longer context.")
    step = body if stride is None else int(stride)
    if not 1 <= step <= body:
        raise ValueError(f"stride={stride} must be between 1 and the {body} text tokens of a window "
                         f"(context {context} minus {len(fmt.prefix) + len(fmt.suffix)} special tokens); "
                         "a larger stride would skip text.")
    sep = np.asarray(fmt.separator, dtype=np.int64)
    parts, doc_parts, pos_parts = [], [], []
    for i, t in enumerate(docs.tokens):
        parts += [t, sep]
        doc_parts += [np.full(t.shape[0], i, np.int32), np.full(sep.shape[0], -1, np.int32)]
        pos_parts += [np.arange(t.shape[0], dtype=np.int32), np.full(sep.shape[0], -1, np.int32)]
    stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    n = (stream.shape[0] - body) // step + 1 if stream.shape[0] >= body else 0
    if max_windows is not None:
        n = min(n, int(max_windows))
    if n == 0:
        raise ValueError(f"{docs.name}: {stream.shape[0]} tokens do not fill one window of {body} text tokens; "
                         "use more text or a shorter context.")
    # stream index of every text position of every window: piece i is stream[i * step : i * step + body]
    at = np.arange(n, dtype=np.int64)[:, None] * step + np.arange(body, dtype=np.int64)[None, :]

    def frame(values: np.ndarray, special, dtype) -> np.ndarray:
        out = np.empty((n, context), dtype)
        out[:, : len(fmt.prefix)] = special(fmt.prefix)
        out[:, len(fmt.prefix) : len(fmt.prefix) + body] = values[at]
        out[:, len(fmt.prefix) + body :] = special(fmt.suffix)
        return out

    return TokenWindows(
        frame(stream, lambda ids: np.asarray(ids, np.int64), np.int64),
        frame(np.concatenate(doc_parts), lambda ids: -1, np.int32),
        frame(np.concatenate(pos_parts), lambda ids: -1, np.int32),
        docs.titles,
        f"{docs.name} ({docs.split}): {docs.description}",
        fmt,
        step,
    )

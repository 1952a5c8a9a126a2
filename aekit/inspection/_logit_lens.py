"""The tokens a latent's decoder direction promotes: its atom read through the model's unembedding.

A latent ``j`` writes ``a · d_j`` into the residual stream (``a`` its
activation, ``d_j`` its unit-norm atom, a row of ``W_dec``). Follow only the
direct path to the output: the residual connections carry ``a · d_j`` to
the final norm unchanged (the later blocks' reaction to it is ignored). A
Llama's final RMSNorm computes ``y = g ⊙ x / rms(x)`` and the logits are
``W_U y``, so with ``rms(x)`` held fixed (first order) the logits change by

    Δlogits = (a / rms(x)) · W_U (g ⊙ d_j)                      (V,)

``a / rms(x) > 0`` is common to every token and the softmax ignores a shift
common to every token, so the tokens the latent promotes are the largest
entries of

    u_j = W_U (g ⊙ d_j) − mean_v [W_U (g ⊙ d_j)]_v               (V,)

and the tokens it suppresses the smallest. This is what is computed
(:func:`promoted_tokens`), in float32 from the model's weights: the
"logit lens" of the atom. A LayerNorm (``y = g ⊙ (x − mean(x)) / std(x) + b``)
also removes the mean of ``d_j`` over its coordinates first, and its bias
shifts every logit equally, so it drops out.

References
----------
nostalgebraist, "interpreting GPT: the logit lens" (2020); Bricken et al.,
"Towards Monosemanticity" (2023), logit weights of features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aekit.harvest import find_module

__all__ = ["LogitLens", "logit_lens", "PromotedTokens", "promoted_tokens"]


@dataclass(frozen=True)
class LogitLens:
    """A model's map from residual-stream directions to next-token logits (the direct path).

    Attributes
    ----------
    unembedding : tensor of shape (V, d)
        ``W_U``: the output embedding (a language model's ``lm_head``).
    norm_weight : tensor of shape (d,) or None
        The final norm's elementwise gain ``g`` (None: no norm, or ``g = 1``).
    center : bool
        Remove the mean of a direction over its coordinates first (LayerNorm).
    """

    unembedding: torch.Tensor
    norm_weight: torch.Tensor | None = None
    center: bool = False

    def logits(self, directions: torch.Tensor) -> torch.Tensor:
        """``u`` (L, V) of directions (L, d): ``W_U (g ⊙ d)`` minus its mean over the vocabulary."""
        u = directions.to(torch.float32)
        if self.center:
            u = u - u.mean(dim=1, keepdim=True)
        if self.norm_weight is not None:
            u = u * self.norm_weight.to(torch.float32)
        out = u @ self.unembedding.to(torch.float32).t()
        return out - out.mean(dim=1, keepdim=True)


def logit_lens(module: nn.Module, *, norm: str | None = "model.norm") -> LogitLens:
    """The :class:`LogitLens` of a Hugging Face causal language model.

    Parameters
    ----------
    module : torch.nn.Module
        A ``transformers`` causal LM (``get_output_embeddings()`` gives ``W_U``).
    norm : str or None
        Path of its final norm (``"model.norm"`` in the Llama family,
        ``"transformer.ln_f"`` in GPT-2); None for a model without one. An
        RMSNorm contributes its gain, a ``torch.nn.LayerNorm`` its gain and
        the centring.
    """
    head = module.get_output_embeddings() if hasattr(module, "get_output_embeddings") else None
    if head is None or not isinstance(getattr(head, "weight", None), torch.Tensor):
        raise ValueError(f"{type(module).__name__} has no output embedding (get_output_embeddings()); "
                         "the logit lens needs a causal language model with an unembedding matrix.")
    W_U = head.weight.detach()
    if norm is None:
        return LogitLens(W_U)
    final = find_module(module, norm)
    if isinstance(final, nn.LayerNorm):
        gain = final.weight.detach() if final.weight is not None else None
        return LogitLens(W_U, gain, center=True)
    if isinstance(final, nn.RMSNorm) or type(final).__name__.endswith("RMSNorm"):
        return LogitLens(W_U, final.weight.detach())
    raise ValueError(f"{norm!r} is a {type(final).__name__}; the logit lens knows RMSNorm and LayerNorm final norms "
                     "(pass norm=None for a model whose residual stream goes straight to the unembedding).")


@dataclass(frozen=True)
class PromotedTokens:
    """Per latent, the tokens its atom raises and lowers most (see the module docstring).

    Attributes
    ----------
    ids, values : ndarrays of shape (L, k)
        The ``k`` most promoted token ids and their ``u`` values, largest first.
    suppressed_ids, suppressed_values : ndarrays of shape (L, k)
        The ``k`` most suppressed, smallest (most negative) first.
    """

    ids: np.ndarray
    values: np.ndarray
    suppressed_ids: np.ndarray
    suppressed_values: np.ndarray


@torch.no_grad()
def promoted_tokens(atoms, lens: LogitLens, *, k: int = 10, chunk: int = 256) -> PromotedTokens:
    """The ``k`` tokens whose logits each atom raises most, and the ``k`` it lowers most.

    Parameters
    ----------
    atoms : array or tensor of shape (L, d)
        Decoder directions (a sparse autoencoder's ``components_[latents]``).
    lens : LogitLens
        The model's unembedding and final norm (:func:`logit_lens`).
    k : int
        Tokens per side.
    chunk : int
        Atoms per product (an (chunk, V) block of logits at a time).

    Returns
    -------
    PromotedTokens
    """
    A = torch.as_tensor(np.asarray(atoms) if not isinstance(atoms, torch.Tensor) else atoms).to(
        device=lens.unembedding.device, dtype=torch.float32)
    if A.ndim != 2 or A.shape[1] != lens.unembedding.shape[1]:
        raise ValueError(f"atoms must be (L, d) with d = {lens.unembedding.shape[1]} (the unembedding's width), "
                         f"got {tuple(A.shape)}.")
    k = min(int(k), lens.unembedding.shape[0])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    parts = []
    for s in range(0, A.shape[0], chunk):
        u = lens.logits(A[s : s + chunk])
        top, bottom = u.topk(k, dim=1), u.topk(k, dim=1, largest=False)
        parts.append((top.indices, top.values, bottom.indices, bottom.values))
    if not parts:
        empty = np.zeros((0, k))
        return PromotedTokens(empty.astype(np.int64), empty.astype(np.float32), empty.astype(np.int64),
                              empty.astype(np.float32))
    ids, values, s_ids, s_values = (torch.cat(p).cpu().numpy() for p in zip(*parts))
    return PromotedTokens(ids.astype(np.int64), values.astype(np.float32), s_ids.astype(np.int64),
                          s_values.astype(np.float32))

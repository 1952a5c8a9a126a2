"""How much of a model's behaviour survives when a layer's output is replaced by a reconstruction.

The reconstruction is spliced into the forward pass: the hooked layer's output
``h`` (B, T, d) becomes ``reconstruct(h)`` at positions ``exclude_positions``
and later, and stays clean before them (the same positions the harvest leaves
out, so a model trained on the harvest is only asked about rows like those it
saw). Any callable ``reconstruct(acts (n, d) float32) -> (n, d)`` works, e.g. a
sparse autoencoder's ``decode(encode(x))``.

For a causal model, :func:`next_token_splice` measures on held-out windows
the mean next-token cross-entropy of the clean model, of the spliced one and
of the zero-ablated one (the output replaced by zeros at the same positions),
and the KL divergence from the clean next-token distribution to the other
two, over the predictions that see a replaced position (positions
``exclude_positions`` to ``T - 2``, each predicting the next token). From
these, CE-loss recovered = 1 - (CE_spliced - CE_clean) / (CE_zero - CE_clean).
For an encoder, :func:`embedding_splice` measures the cosine between the clean
and the spliced sentence embeddings (and, as the control, the zero-ablated ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aekit.harvest._lm import TextModel
from aekit.harvest._modules import replace_output
from aekit.harvest._windows import TokenWindows

__all__ = ["NextTokenSplice", "EmbeddingSplice", "next_token_splice", "embedding_splice", "splice"]


@dataclass(frozen=True)
class NextTokenSplice:
    """Next-token losses with the clean, spliced and zero-ablated layer (nats per predicted token).

    Attributes
    ----------
    ce_clean, ce_spliced, ce_zero : float
        Mean cross-entropy of the next token.
    kl_spliced, kl_zero : float
        Mean KL(clean || spliced) and KL(clean || zero-ablated) of the next-token distributions.
    tokens : int
        Predictions averaged over.
    """

    ce_clean: float
    ce_spliced: float
    ce_zero: float
    kl_spliced: float
    kl_zero: float
    tokens: int


@dataclass(frozen=True)
class EmbeddingSplice:
    """Cosine between clean and spliced (and zero-ablated) sentence embeddings, averaged over windows."""

    cosine: float
    cosine_zero: float
    windows: int


def splice(model: torch.nn.Module, layer: str, fn: Callable[[torch.Tensor], torch.Tensor], exclude_positions: int = 1):
    """Context manager: ``layer``'s output (B, T, d) takes ``fn(rows (n, d) float32)`` at positions >= ``exclude_positions``."""

    def replace(h: torch.Tensor) -> torch.Tensor:
        tail = h[:, exclude_positions:]
        flat = tail.reshape(-1, h.shape[-1]).float()
        new = fn(flat)
        if not isinstance(new, torch.Tensor) or new.shape != flat.shape:
            raise ValueError(f"reconstruct must map rows (n, d) = {tuple(flat.shape)} to the same shape, got "
                             f"{tuple(new.shape) if isinstance(new, torch.Tensor) else type(new).__name__}.")
        return torch.cat([h[:, :exclude_positions], new.to(h.dtype).reshape(tail.shape)], dim=1)

    return replace_output(model, layer, replace)


def _batches(windows: TokenWindows, batch_size: int, device):
    for start in range(0, len(windows), batch_size):
        yield torch.from_numpy(windows.tokens[start : start + batch_size]).to(device)


def next_token_splice(model: TextModel, layer: str, windows: TokenWindows, reconstruct, *, batch_size: int = 8,
                      exclude_positions: int = 1, autocast: bool = False) -> NextTokenSplice:
    """Cross-entropy and KL of a causal model with ``reconstruct`` spliced in at ``layer`` (see the module docstring).

    Parameters
    ----------
    model : TextModel
        A causal model.
    layer : str
        Dotted path of the replaced submodule.
    windows : TokenWindows
        Held-out windows.
    reconstruct : callable
        ``acts (n, d) float32 -> (n, d)``.
    batch_size : int
        Windows per forward pass (three passes each).
    exclude_positions : int
        Leading positions kept clean.
    autocast : bool
        Run under bfloat16 autocast.
    """
    if model.kind != "causal":
        raise ValueError(f"{model.name} is a {model.kind} model; next_token_splice needs a causal one (use embedding_splice).")
    if not 0 <= exclude_positions < windows.context - 1:
        raise ValueError(f"exclude_positions={exclude_positions} leaves no prediction in windows of {windows.context}.")
    e = exclude_positions
    sums = torch.zeros(5, dtype=torch.float64)
    count = 0
    device = model.device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        for ids in _batches(windows, batch_size, device):
            target = ids[:, e + 1 :].reshape(-1)

            def logprobs(logits):
                return F.log_softmax(logits[:, e:-1].float(), dim=-1).reshape(target.shape[0], -1)

            clean = logprobs(model.output(ids))
            with splice(model.module, layer, reconstruct, e):
                spliced = logprobs(model.output(ids))
            with splice(model.module, layer, torch.zeros_like, e):
                zero = logprobs(model.output(ids))
            p = clean.exp()
            for i, lp in enumerate((clean, spliced, zero)):
                sums[i] += float(-lp.gather(1, target[:, None]).sum())
            sums[3] += float((p * (clean - spliced)).sum())
            sums[4] += float((p * (clean - zero)).sum())
            count += target.shape[0]
    m = (sums / count).tolist()
    return NextTokenSplice(ce_clean=m[0], ce_spliced=m[1], ce_zero=m[2], kl_spliced=m[3], kl_zero=m[4], tokens=count)


def embedding_splice(model: TextModel, layer: str, windows: TokenWindows, reconstruct, *, batch_size: int = 32,
                     exclude_positions: int = 1, autocast: bool = False) -> EmbeddingSplice:
    """Mean cosine between an encoder's clean and spliced sentence embeddings of ``windows``.

    Parameters as in :func:`next_token_splice`; ``model`` is an encoder.
    """
    if model.kind != "encoder":
        raise ValueError(f"{model.name} is a {model.kind} model; embedding_splice needs an encoder (use next_token_splice).")
    sums, count = [0.0, 0.0], 0
    device = model.device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        for ids in _batches(windows, batch_size, device):
            clean = model.output(ids).float()
            with splice(model.module, layer, reconstruct, exclude_positions):
                spliced = model.output(ids).float()
            with splice(model.module, layer, torch.zeros_like, exclude_positions):
                zero = model.output(ids).float()
            sums[0] += float(F.cosine_similarity(clean, spliced, dim=-1).sum())
            sums[1] += float(F.cosine_similarity(clean, zero, dim=-1).sum())
            count += ids.shape[0]
    return EmbeddingSplice(cosine=sums[0] / count, cosine_zero=sums[1] / count, windows=count)

"""k-sparse selection: the non-linearity of the k-sparse autoencoder.

The k-sparse autoencoder is the ordinary autoencoder with a linear encoder
whose activation keeps the ``k`` largest pre-activations of each sample and
zeroes the rest; it is an activation passed to the model, not a separate
architecture::

    AutoencoderModule(784, 1000, encoder_activation=TopK(25, alpha=3), tied_weights=True)

References
----------
Makhzani & Frey, "k-Sparse Autoencoders", ICLR 2014 (arXiv:1312.5663).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.autoencoders._activations import CodeActivation

__all__ = ["topk", "topk_mask", "k_schedule", "TopK"]


def _check_k(k: int, width: int) -> None:
    if not 1 <= k <= width:
        raise ValueError(
            f"k={k} must be between 1 and the number of hidden units ({width}); "
            f"lower k (or k_alpha) or raise n_components."
        )


def topk(z: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of each row of ``z`` (n, m), zero the rest.

    ``h = z ⊙ 1[z in the top k of its row]``. The backward pass scatters the
    incoming gradient to the kept entries only, so the weights of units that
    were not selected for a sample receive nothing from it.
    """
    _check_k(k, z.shape[-1])
    values, indices = torch.topk(z, k, dim=-1, sorted=False)
    return torch.zeros_like(z).scatter(-1, indices, values)


def topk_mask(z: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask (n, m) of the ``k`` largest entries of each row of ``z``."""
    _check_k(k, z.shape[-1])
    indices = torch.topk(z, k, dim=-1, sorted=False).indices
    return torch.zeros_like(z, dtype=torch.bool).scatter(-1, indices, True)


def k_schedule(epoch: int, max_epochs: int, k: int, k_start: int, anneal_fraction: float) -> int:
    """The number of units kept during ``epoch`` (0-based).

    Linear from ``k_start`` at epoch 0 down to ``k`` at epoch
    ``min(ceil(anneal_fraction · max_epochs), max_epochs − 1)``, then ``k``
    (so the last epoch always trains with ``k``). Starting with many
    units lets every unit be selected (and trained) early on, which avoids the
    dead units a small ``k`` gives from a random start (Makhzani & Frey, §3.2).
    """
    k_start = max(k_start, k)
    n_anneal = min(math.ceil(anneal_fraction * max_epochs), max_epochs - 1)
    if n_anneal <= 0 or epoch >= n_anneal:
        return k
    return int(round(k_start + (k - k_start) * epoch / n_anneal))


class TopK(CodeActivation, nn.Module):
    """k-sparse activation: ``h = topk(z, k)`` while training, ``topk(z, ⌈α·k⌉)`` for features.

    Parameters
    ----------
    k : int
        Units kept per sample at the end of training.
    alpha : float, default 1.0
        Feature-extraction multiplier (``α >= 1``): :meth:`extract` keeps
        ``min(⌈α·k⌉, m)`` units, which the paper found gives better features.
    k_start : int or None
        Units kept at the first epoch; ``None`` means ``4·k``.
    anneal_fraction : float, default 0.5
        Fraction of the epochs over which ``k`` anneals from ``k_start`` down
        to ``k``; 0 trains with ``k`` throughout.

    Attributes
    ----------
    k_current : int
        Units kept now; set by :meth:`on_epoch_start`, a pure function of the
        epoch (so a resumed run recomputes it and no state needs saving).
    """

    name = "topk"

    def __init__(self, k: int, *, alpha: float = 1.0, k_start: int | None = None, anneal_fraction: float = 0.5):
        super().__init__()
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        if not alpha >= 1.0:
            raise ValueError(f"alpha must be >= 1 (features use alpha*k units), got {alpha!r}.")
        if not 0.0 <= anneal_fraction <= 1.0:
            raise ValueError(f"anneal_fraction must be in [0, 1], got {anneal_fraction!r}.")
        self.k = int(k)
        self.alpha = float(alpha)
        self.k_start = 4 * self.k if k_start is None else int(k_start)
        self.anneal_fraction = float(anneal_fraction)
        self.k_current = self.k

    def check_width(self, width: int) -> None:
        """Raise unless ``k`` fits in ``width`` hidden units."""
        _check_k(self.k, width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return topk(z, min(self.k_current, z.shape[-1]))

    def extract(self, z: torch.Tensor) -> torch.Tensor:
        """Feature-extraction code: the ``⌈α·k⌉`` largest units (at most all of them)."""
        return topk(z, min(math.ceil(self.alpha * self.k), z.shape[-1]))

    def on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        self.k_current = k_schedule(epoch, max_epochs, self.k, self.k_start, self.anneal_fraction)

    def extra_repr(self) -> str:
        return f"k={self.k}, alpha={self.alpha}, k_start={self.k_start}, anneal_fraction={self.anneal_fraction}"

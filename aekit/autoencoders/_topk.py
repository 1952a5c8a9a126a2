"""k-sparse selection: the non-linearity of the k-sparse autoencoder.

The k-sparse autoencoder is the ordinary autoencoder with a linear encoder
whose activation keeps the ``k`` largest pre-activations of each sample and
zeroes the rest; it is an activation passed to the model, not a separate
architecture::

    AutoencoderModule(784, 1000, encoder_activation=TopK(25, alpha=3), tied_weights=True)

The TopK sparse autoencoder of Gao et al. is the same selection followed by a
ReLU (``TopK(k, nonnegative=True)``, ``k`` fixed): the kept codes are ``>= 0``.

References
----------
Makhzani & Frey, "k-Sparse Autoencoders", ICLR 2014 (arXiv:1312.5663);
Gao et al., "Scaling and evaluating sparse autoencoders" (2024, arXiv:2406.04093).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.autoencoders._activations import CodeActivation
from aekit.autoencoders._select import top_k_rows
from aekit.autoencoders._sparse_codes import SparseCodes

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
    with torch.no_grad():
        indices = top_k_rows(z.detach().reshape(-1, z.shape[-1]), k)[1].view(*z.shape[:-1], k)
    return torch.zeros_like(z).scatter(-1, indices, z.gather(-1, indices))


def topk_mask(z: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask (n, m) of the ``k`` largest entries of each row of ``z``."""
    _check_k(k, z.shape[-1])
    indices = top_k_rows(z.detach().reshape(-1, z.shape[-1]), k)[1].view(*z.shape[:-1], k)
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

    With ``nonnegative``, ``h = max(topk(z, k), 0)`` (Gao et al.'s TopK sparse autoencoder).

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
    nonnegative : bool, default False
        Apply a ReLU to the kept entries.

    Attributes
    ----------
    k_current : int
        Units kept now; set by :meth:`on_epoch_start`, a pure function of the
        epoch (so a resumed run recomputes it and no state needs saving).
    """

    name = "topk"

    def __init__(self, k: int, *, alpha: float = 1.0, k_start: int | None = None, anneal_fraction: float = 0.5,
                 nonnegative: bool = False):
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
        self.nonnegative = bool(nonnegative)
        self.k_current = self.k
        if self.nonnegative:
            self.output_range = (0.0, math.inf)

    def check_width(self, width: int) -> None:
        """Raise unless ``k`` fits in ``width`` hidden units."""
        _check_k(self.k, width)

    def _k(self, width: int, features: bool) -> int:
        return min(math.ceil(self.alpha * self.k) if features else self.k_current, width)

    def _finish(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(h) if self.nonnegative else h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self._finish(topk(z, self._k(z.shape[-1], False)))

    def extract(self, z: torch.Tensor) -> torch.Tensor:
        """Feature-extraction code: the ``⌈α·k⌉`` largest units (at most all of them)."""
        return self._finish(topk(z, self._k(z.shape[-1], True)))

    def select(self, z: torch.Tensor, *, features: bool = False) -> SparseCodes:
        """The kept entries of each row of ``z`` (n, m) as sparse codes (k per row; detached values)."""
        values, indices = top_k_rows(z.detach(), self._k(z.shape[-1], features))
        return SparseCodes.from_rows(self._finish(values), indices, z.shape[-1])

    def scale_codes(self, factor: float) -> None:
        """Nothing to rescale: the selection commutes with a positive factor."""

    def on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        self.k_current = k_schedule(epoch, max_epochs, self.k, self.k_start, self.anneal_fraction)

    def extra_repr(self) -> str:
        return (f"k={self.k}, alpha={self.alpha}, k_start={self.k_start}, anneal_fraction={self.anneal_fraction}, "
                f"nonnegative={self.nonnegative}")

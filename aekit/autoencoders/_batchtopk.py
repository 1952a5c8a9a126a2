"""BatchTopK: keep the ``k · n`` largest pre-activations of a batch of ``n`` rows.

While training, a batch ``z`` (n, m) keeps its ``k n`` largest entries
wherever they fall (a row may keep more than ``k``, another fewer), followed
by a ReLU::

    h = max(z, 0) ⊙ 1[z among the k n largest entries of the batch]

so ``k`` is the *average* number of active latents per row. At inference a
row cannot depend on the others, so the selection is replaced by one
threshold θ::

    h = z ⊙ 1[z > θ]

θ is estimated while training as the exponential moving average of the
smallest positive kept entry of each batch,
``θ ← μ θ + (1 − μ) min{h > 0}`` (the first batch sets θ), and saved as a
buffer with the model.

References
----------
Bussmann, Leask & Nanda, "BatchTopK Sparse Autoencoders" (2024, arXiv:2412.06410).
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.autoencoders._activations import CodeActivation
from aekit.autoencoders._select import check_k, top_k_batch
from aekit.autoencoders._sparse_codes import SparseCodes

__all__ = ["BatchTopK", "threshold_codes"]


def threshold_codes(z: torch.Tensor, threshold: torch.Tensor) -> SparseCodes:
    """The entries of ``z`` (n, m) above ``threshold`` (a scalar or an (m,) tensor) as sparse codes."""
    mask = z > threshold
    crow = torch.zeros(z.shape[0] + 1, dtype=torch.int64, device=z.device)
    torch.cumsum(mask.sum(dim=1), 0, out=crow[1:])
    return SparseCodes(z[mask], mask.nonzero()[:, 1], crow, z.shape[1])


class BatchTopK(CodeActivation, nn.Module):
    """BatchTopK activation: ``k n`` entries per batch while training, a threshold θ at inference.

    Parameters
    ----------
    k : int
        Average number of active latents per row.
    threshold_momentum : float, default 0.99
        μ of the running estimate of θ (see the module docstring).

    Buffers
    -------
    threshold : () float32
        θ; 0 until the first training batch.
    threshold_ready : () bool
    """

    name = "batchtopk"
    output_range = (0.0, float("inf"))

    def __init__(self, k: int, *, threshold_momentum: float = 0.99):
        super().__init__()
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        if not 0.0 <= threshold_momentum < 1.0:
            raise ValueError(f"threshold_momentum must be in [0, 1), got {threshold_momentum!r}.")
        self.k = int(k)
        self.threshold_momentum = float(threshold_momentum)
        self.register_buffer("threshold", torch.zeros(()))
        self.register_buffer("threshold_ready", torch.zeros((), dtype=torch.bool))

    def check_width(self, width: int) -> None:
        check_k(self.k, width)

    @torch.no_grad()
    def _update_threshold(self, values: torch.Tensor) -> None:
        positive = values[values > 0]
        if positive.numel() == 0:
            return
        smallest = positive.min().to(self.threshold.dtype)
        mu = torch.where(self.threshold_ready, self.threshold_momentum, 0.0)
        self.threshold.copy_(mu * self.threshold + (1.0 - mu) * smallest)
        self.threshold_ready.fill_(True)

    def select(self, z: torch.Tensor, *, features: bool = False) -> SparseCodes:
        """Training (module in train mode, not ``features``): the batch's ``k n`` largest entries, ReLU'd,
        and θ updated; otherwise the entries above θ. Values are detached."""
        z = z.detach()
        if features or not self.training:
            return threshold_codes(z, self.threshold.clamp(min=0.0).to(z.dtype))
        check_k(self.k, z.shape[1])
        values, indices, crow = top_k_batch(z, self.k * z.shape[0])
        values = torch.relu(values)
        self._update_threshold(values)
        return SparseCodes(values, indices, crow, z.shape[1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Dense codes (n, m): the batch selection in train mode, the threshold in eval mode."""
        codes = self.select(z)
        mask = torch.zeros_like(z, dtype=torch.bool)
        mask[codes.row_ids(), codes.indices] = True
        return torch.relu(z) * mask

    def extract(self, z: torch.Tensor) -> torch.Tensor:
        """Feature form: ``z ⊙ 1[z > θ]``."""
        return z * (z > self.threshold.clamp(min=0.0).to(z.dtype))

    def scale_codes(self, factor: float) -> None:
        self.threshold.mul_(float(factor))

    def extra_repr(self) -> str:
        return f"k={self.k}, threshold_momentum={self.threshold_momentum}"

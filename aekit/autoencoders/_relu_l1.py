"""ReLU codes with an L1 penalty: the classic sparse autoencoder on network activations.

::

    h = max(z, 0)
    penalty = λ (1/n) Σ_rows Σ_j |h_j| ‖d_j‖

with ``d_j`` the decoder atom of latent ``j``. The weighting by the atom norms
is the one of Anthropic's April 2024 update, which leaves the decoder free;
with atoms held at unit norm (as :class:`~aekit.autoencoders.SparseDictionaryModule`
does by default) every ``‖d_j‖ = 1`` and the penalty is the plain L1 norm of
"Towards Monosemanticity". The activation computes ``λ (1/n) Σ |h|`` of the
codes it is given; the sparse autoencoder gives it ``h_j ‖d_j‖``.

References
----------
Bricken et al., "Towards Monosemanticity: Decomposing Language Models With
Dictionary Learning", Transformer Circuits Thread (2023); Conerly et al.,
"Circuits Updates — April 2024: Update on how we train SAEs", Transformer
Circuits Thread (2024).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aekit.autoencoders._activations import CodeActivation
from aekit.autoencoders._sparse_codes import upcast

__all__ = ["ReLUL1"]


class ReLUL1(CodeActivation):
    """``h = max(z, 0)`` with the loss term ``"sparsity_l1": λ (1/n) Σ |h|``.

    Parameters
    ----------
    l1_coefficient : float
        λ.
    """

    name = "relu"
    output_range = (0.0, math.inf)
    init_gain = math.sqrt(2.0)

    def __init__(self, l1_coefficient: float):
        if not l1_coefficient >= 0:
            raise ValueError(f"l1_coefficient must be >= 0, got {l1_coefficient!r}.")
        self.l1_coefficient = float(l1_coefficient)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(z)

    def derivative(self, h: torch.Tensor) -> torch.Tensor:
        return (h > 0).to(h.dtype)

    def loss_terms(self, z: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.l1_coefficient == 0:
            return {}
        return {"sparsity_l1": self.l1_coefficient * upcast(h).abs().sum(dim=1).mean()}

    def scale_codes(self, factor: float) -> None:
        """Nothing to rescale: ``max(c z, 0) = c max(z, 0)`` for ``c > 0``."""

    def __repr__(self) -> str:
        return f"ReLUL1(l1_coefficient={self.l1_coefficient})"

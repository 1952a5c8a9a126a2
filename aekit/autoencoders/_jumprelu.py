"""JumpReLU: a ReLU that jumps at a learned per-latent threshold, trained with an L0 penalty.

::

    h_j = z_j · H(z_j − θ_j),      θ_j = exp(t_j) > 0  (the parameter is t = log θ)
    penalty = λ (1/n) Σ_rows Σ_j H(z_j − θ_j)          (the L0 norm of the codes)

``H`` is the Heaviside step, whose derivative in θ is zero almost everywhere.
The straight-through estimator replaces the θ-derivatives by kernel density
estimates with the rectangle kernel ``K(u) = 1[|u| < 1/2]`` of bandwidth ε::

    ∂h_j/∂θ_j   := −(θ_j / ε) K((z_j − θ_j) / ε)
    ∂H/∂θ_j     := −(1 / ε) K((z_j − θ_j) / ε)

and keeps the exact derivatives in z: ``∂h_j/∂z_j = H(z_j − θ_j)`` and
``∂H/∂z_j = 0`` (the L0 penalty trains θ only). These θ-derivatives are the
exact derivatives of smoothed functions, :func:`jumprelu_smoothed` and
:func:`step_smoothed` (the step replaced by a linear ramp of width ε, the
jump by ``((z + ε/2)² − θ²) / 2ε`` inside the window), which the tests
differentiate by finite differences.

References
----------
Rajamanoharan et al., "Jumping Ahead: Improving Reconstruction Fidelity with
JumpReLU Sparse Autoencoders" (2024, arXiv:2407.14435), §3 and eqs. 11–12.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.autoencoders._activations import CodeActivation
from aekit.autoencoders._sparse_codes import upcast

__all__ = ["JumpReLU", "jumprelu", "heaviside_step", "jumprelu_smoothed", "step_smoothed", "rectangle"]


def rectangle(u: torch.Tensor) -> torch.Tensor:
    """The rectangle kernel ``K(u) = 1[−1/2 < u < 1/2]`` (same dtype as ``u``)."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return z * (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_z = grad * (z > theta).to(grad.dtype) if ctx.needs_input_grad[0] else None
        grad_theta = None
        if ctx.needs_input_grad[1]:
            kernel = rectangle((z - theta) / eps)
            grad_theta = (-(theta / eps) * kernel * grad).sum(dim=0).to(theta.dtype)
        return grad_z, grad_theta, None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_theta = None
        if ctx.needs_input_grad[1]:
            grad_theta = (-(1.0 / eps) * rectangle((z - theta) / eps) * grad).sum(dim=0).to(theta.dtype)
        return None, grad_theta, None


def jumprelu(z: torch.Tensor, theta: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``z · H(z − θ)`` for ``z`` (n, m), ``θ`` (m,), with the straight-through θ-gradient of bandwidth ε."""
    return _JumpReLU.apply(z, theta.to(z.dtype), float(bandwidth))


def heaviside_step(z: torch.Tensor, theta: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``H(z − θ)`` (n, m) with the straight-through θ-gradient of bandwidth ε and no z-gradient."""
    return _Step.apply(z, theta.to(z.dtype), float(bandwidth))


def step_smoothed(z: torch.Tensor, theta: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``clamp((z − θ)/ε + 1/2, 0, 1)``: the step whose exact θ-derivative is :func:`heaviside_step`'s estimate."""
    return ((z - theta) / bandwidth + 0.5).clamp(0.0, 1.0)


def jumprelu_smoothed(z: torch.Tensor, theta: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """``∫_θ^∞ (t/ε) K((z − t)/ε) dt``: ``z`` above the window, 0 below, ``((z + ε/2)² − θ²)/2ε`` inside.

    Its exact θ-derivative is :func:`jumprelu`'s estimate ``−(θ/ε) K((z − θ)/ε)``.
    """
    eps = bandwidth
    inside = ((z + eps / 2) ** 2 - theta**2) / (2 * eps)
    return torch.where(z - theta >= eps / 2, z, torch.where(z - theta <= -eps / 2, torch.zeros_like(z), inside))


class JumpReLU(CodeActivation, nn.Module):
    """JumpReLU activation with learned thresholds and the L0 penalty as its loss term ``"sparsity_l0"``.

    Parameters
    ----------
    n_latents : int
        Width m (one threshold per latent).
    threshold : float, default 0.001
        Initial θ of every latent.
    bandwidth : float, default 0.001
        ε of the straight-through estimator, in the units of the pre-activations.
    l0_coefficient : float, default 1.0
        λ of the L0 penalty.

    Attributes
    ----------
    log_threshold : Parameter (m,)
        ``t = log θ``.
    """

    name = "jumprelu"
    output_range = (0.0, math.inf)

    def __init__(self, n_latents: int, *, threshold: float = 0.001, bandwidth: float = 0.001, l0_coefficient: float = 1.0):
        super().__init__()
        if not threshold > 0 or not bandwidth > 0 or not l0_coefficient >= 0:
            raise ValueError(
                f"JumpReLU needs threshold > 0, bandwidth > 0 and l0_coefficient >= 0, got "
                f"{threshold!r}, {bandwidth!r}, {l0_coefficient!r}."
            )
        self.n_latents = int(n_latents)
        self.bandwidth = float(bandwidth)
        self.l0_coefficient = float(l0_coefficient)
        self.log_threshold = nn.Parameter(torch.full((self.n_latents,), math.log(threshold)))

    @property
    def threshold(self) -> torch.Tensor:
        """θ = exp(t), (m,)."""
        return self.log_threshold.exp()

    def check_width(self, width: int) -> None:
        if width != self.n_latents:
            raise ValueError(f"this JumpReLU has {self.n_latents} thresholds but the code has {width} latents.")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return jumprelu(z, self.threshold, self.bandwidth)

    def loss_terms(self, z: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"sparsity_l0": λ (1/n) Σ H(z − θ)}``, the θ-gradient by the straight-through estimator."""
        if self.l0_coefficient == 0:
            return {}
        l0 = heaviside_step(upcast(z), self.threshold, self.bandwidth).sum(dim=1).mean()
        return {"sparsity_l0": self.l0_coefficient * l0}

    @torch.no_grad()
    def scale_codes(self, factor: float) -> None:
        """θ ← factor · θ (the bandwidth, a training setting, stays in the units it was given in)."""
        self.log_threshold.add_(math.log(factor))

    def extra_repr(self) -> str:
        return f"n_latents={self.n_latents}, bandwidth={self.bandwidth}, l0_coefficient={self.l0_coefficient}"

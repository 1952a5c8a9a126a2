"""Reconstruction losses and regularizers of the autoencoder family, as pure functions.

Conventions (those of the UFLDL sparse autoencoder notes and of Vincent et al.
2010): a loss is summed over the input dimensions and averaged over the
samples of the batch; a penalty on activations is a per-sample quantity
averaged over the batch; a penalty on weights is a sum over all entries.
Every function takes tensors of shape ``(n, d)`` (``n`` samples) and returns a
0-d tensor; the module multiplies each by its coefficient and names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch.func import jacfwd, jacrev, vmap

__all__ = [
    "squared_error",
    "squared_error_gradient",
    "cross_entropy",
    "cross_entropy_gradient",
    "emphasis_weights",
    "weight_decay",
    "l1_weights",
    "kl_divergence_bernoulli",
    "kl_sparsity",
    "straight_through",
    "kurtosis",
    "kurtosis_penalty",
    "l1_activations",
    "contractive_elementwise",
    "contractive_sigmoid",
    "contractive_jacobian",
    "contractive_hutchinson",
    "contractive_hutchinson_chain",
]


# ------------------------------------------------------------ reconstruction
def emphasis_weights(mask: torch.Tensor, corrupted: float, other: float, dtype: torch.dtype) -> torch.Tensor:
    """Per-entry loss weights: ``corrupted`` (α) where ``mask`` is True, ``other`` (β) elsewhere.

    ``mask`` : bool tensor ``(n, d)`` of corrupted entries.
    """
    return torch.where(mask, torch.as_tensor(corrupted, dtype=dtype, device=mask.device),
                       torch.as_tensor(other, dtype=dtype, device=mask.device))


def squared_error(y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``(1/n) Σₛ ½ Σ_d w_d (y_sd − x_sd)²``: half the squared error per sample, batch mean.

    Parameters
    ----------
    y : (n, d) reconstruction.
    x : (n, d) clean target.
    weight : (n, d) or None
        Emphasis weights (α on corrupted entries, β on the others, see
        :func:`emphasis_weights`); ``None`` means all ones.
    """
    sq = (y - x).square()
    if weight is not None:
        sq = sq * weight
    return 0.5 * sq.sum() / x.shape[0]


def cross_entropy(logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``−(1/n) Σₛ Σ_d w_d [x log σ(z) + (1 − x) log(1 − σ(z))]`` from the decoder's logits ``z``.

    Computed by :func:`torch.nn.functional.binary_cross_entropy_with_logits`
    (log-sum-exp form), so saturated sigmoids never give ``log 0``.

    Parameters
    ----------
    logits : (n, d) decoder pre-activations.
    x : (n, d) clean target in [0, 1].
    weight : (n, d) or None, emphasis weights.
    """
    return F.binary_cross_entropy_with_logits(logits, x, weight=weight, reduction="sum") / x.shape[0]


def cross_entropy_gradient(logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``∂/∂z`` of :func:`cross_entropy`: ``w (σ(z) − x) / n`` (n, d), float32 like ``logits``."""
    g = torch.sigmoid(logits).sub_(x)
    if weight is not None:
        g.mul_(weight)
    return g.mul_(1.0 / x.shape[0])


def squared_error_gradient(
    y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """``∂/∂y`` of :func:`squared_error`: ``w (y − x) / n`` (n, d)."""
    g = y - x
    if weight is not None:
        g.mul_(weight)
    return g.mul_(1.0 / x.shape[0])


# ------------------------------------------------------------ weights
def weight_decay(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """``½ Σ_l Σ_ij W_lij²`` over the weight matrices (biases are not decayed)."""
    return 0.5 * sum(w.square().sum() for w in weights)


def l1_weights(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """``Σ_l Σ_ij |W_lij|`` over the weight matrices."""
    return sum(w.abs().sum() for w in weights)


# ------------------------------------------------------------ KL sparsity
def kl_divergence_bernoulli(rho0: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """Elementwise ``KL(ρ₀ ‖ ρ̂) = ρ₀ log(ρ₀/ρ̂) + (1 − ρ₀) log((1 − ρ₀)/(1 − ρ̂))``."""
    return rho0 * torch.log(rho0 / rho_hat) + (1.0 - rho0) * torch.log((1.0 - rho0) / (1.0 - rho_hat))


def kl_sparsity(rho_hat: torch.Tensor, rho0: float, *, eps: float = 1e-6) -> torch.Tensor:
    """``Σⱼ KL(ρ₀ ‖ ρ̂ⱼ)``: the sparse autoencoder's average-activation penalty.

    ``ρ̂ⱼ`` is the average activation of hidden unit ``j`` over the training
    data (shape ``(m,)``), ``ρ₀`` the target. Its derivative is

        ∂/∂ρ̂ⱼ = −ρ₀/ρ̂ⱼ + (1 − ρ₀)/(1 − ρ̂ⱼ),

    which backpropagation adds to each unit's error term. ``ρ̂`` is clipped
    to ``[eps, 1 − eps]`` in value only (the gradient passes straight through),
    so a unit that is saturated in float32 still gets the finite, correctly
    signed push back towards ``ρ₀``.

    References
    ----------
    Ng, "Sparse autoencoder", CS294A lecture notes, 2011.
    """
    if not 0.0 < rho0 < 1.0:
        raise ValueError(f"The sparsity target rho0 must be in (0, 1), got {rho0}.")
    clipped = rho_hat + (rho_hat.clamp(eps, 1.0 - eps) - rho_hat).detach()
    return kl_divergence_bernoulli(rho0, clipped).sum()


def straight_through(value: torch.Tensor, gradient_path: torch.Tensor) -> torch.Tensor:
    """A tensor equal to ``value`` whose gradient flows through ``gradient_path``.

    ``value + (gradient_path − gradient_path.detach())``: used to evaluate
    the KL penalty (and its derivative) at a training-set estimate of ρ̂ while
    the gradient reaches the weights through the current batch's activations.
    """
    return value.detach() + (gradient_path - gradient_path.detach())


# ------------------------------------------------------------ activations
def kurtosis(h: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """``μ₄ / σ⁴ = E[(h − μ)⁴] / E[(h − μ)²]²`` over all entries of ``h``.

    The lecture's definition: pooled over the activations of the whole layer
    and batch, shape ``(n, m)`` -> scalar. A Gaussian gives 3, a sparse code
    (mostly near zero, a few large values) much more, at most ``n·m``.
    """
    c = h - h.mean()
    m2 = c.square().mean()
    return c.pow(4).mean() / m2.square().clamp_min(eps)


def kurtosis_penalty(h: torch.Tensor) -> torch.Tensor:
    """``−log(μ₄/σ⁴)``: minimizing it maximizes the kurtosis of the code ``h`` (n, m).

    High kurtosis means sparse activations. The logarithm makes the penalty
    scale-free (its gradient is ∇κ/κ), so one coefficient works whether the
    kurtosis is 3 or 300; the kurtosis is bounded by the number of entries, so
    the penalty is bounded below.
    """
    return -torch.log(kurtosis(h))


def l1_activations(h: torch.Tensor) -> torch.Tensor:
    """``(1/n) Σₛ Σⱼ |h_sj|``: L1 penalty on the code ``h`` (n, m)."""
    return h.abs().sum() / h.shape[0]


# ------------------------------------------------------------ contraction
def contractive_elementwise(slope: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``(1/n) Σₛ ‖J(xₛ)‖²_F`` for one layer ``h = f(W x + b)`` with elementwise ``f``.

    ``J = diag(f'(a)) W``, so ``‖J‖²_F = Σⱼ f'(aⱼ)² Σᵢ Wⱼᵢ²``.

    Parameters
    ----------
    slope : (n, m) ``f'(a)`` at each sample.
    weight : (m, d) the layer's weight ``W``.
    """
    return (slope.square() @ weight.square().sum(dim=1)).sum() / slope.shape[0]


def contractive_sigmoid(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Closed-form ``(1/n) Σₛ Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wⱼᵢ²`` for ``h = sigmoid(W x + b)``.

    ``h`` : (n, m) codes, ``weight`` : (m, d).

    References
    ----------
    Rifai et al., "Contractive auto-encoders: explicit invariance during
    feature extraction", ICML 2011, eq. 5.
    """
    return contractive_elementwise(h * (1.0 - h), weight)


def contractive_jacobian(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, mode: str = "auto", chunk_size: int | None = None
) -> torch.Tensor:
    """Exact ``(1/n) Σₛ ‖∂f(xₛ)/∂x‖²_F`` for any encoder ``f``, differentiable in its parameters.

    The Jacobian of each sample is built with :func:`torch.func.vmap` over
    :func:`torch.func.jacfwd` (``d`` forward passes, chosen when the input is
    smaller than the code) or :func:`torch.func.jacrev` (``m`` backward
    passes); both compose with ordinary autograd, so the penalty's gradient
    with respect to the encoder's weights is exact too. Memory: ``n·m·d``
    numbers; ``chunk_size`` bounds how many samples are processed at once.

    Parameters
    ----------
    encode : callable mapping one sample (d,) to its code (m,) (and a batch to a batch).
    x : (n, d) inputs.
    mode : "auto", "forward" or "reverse".
    """
    with torch.no_grad():
        m = encode(x[:1]).shape[-1]
    if mode == "auto":
        mode = "forward" if x.shape[-1] <= m else "reverse"
    if mode not in ("forward", "reverse"):
        raise ValueError(f"Unknown Jacobian mode {mode!r}: use 'auto', 'forward' or 'reverse'.")
    jac = jacfwd(encode) if mode == "forward" else jacrev(encode)
    if chunk_size is None:  # samples per chunk: at most ~2^24 Jacobian entries (64 MB in float32) at a time
        chunk_size = max(1, (1 << 24) // (m * x.shape[-1]))
    total = x.new_zeros(())
    for s in range(0, x.shape[0], chunk_size):
        J = vmap(jac)(x[s : s + chunk_size])  # (chunk, m, d)
        total = total + J.square().sum()
    return total / x.shape[0]


def contractive_hutchinson(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, n_projections: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Unbiased estimate of ``(1/n) Σₛ ‖∂f(xₛ)/∂x‖²_F`` for any encoder ``f``: Hutchinson's estimator.

    ``‖J‖²_F = tr(JᵀJ) = E_v ‖J v‖²`` for ``v ~ N(0, I_d)``; each of the
    ``n_projections`` directions (drawn per sample from ``generator``) costs one
    Jacobian-vector product of the batch (:func:`torch.func.jvp`, forward
    mode), and the estimate is differentiable in the encoder's parameters.

    Parameters
    ----------
    encode : callable mapping a batch (n, d) to codes (n, m).
    x : (n, d) inputs.

    References
    ----------
    Hutchinson, "A stochastic estimator of the trace of the influence matrix
    for Laplacian smoothing splines", Communications in Statistics (1989).
    """
    from torch.func import jvp

    n, d = x.shape
    v = torch.randn((n_projections, n, d), generator=generator, device=x.device, dtype=x.dtype)
    tangents = vmap(lambda t: jvp(encode, (x,), (t,))[1])(v)  # (P, n, m)
    return tangents.square().sum() / (n * n_projections)


def contractive_hutchinson_chain(
    weights: list[torch.Tensor], slopes: list[torch.Tensor], v: torch.Tensor
) -> torch.Tensor:
    """Hutchinson's estimate for an encoder of dense layers ``a_l = f_l(W_l a_{l−1} + b_l)``.

    ``J v = D_L W_L ⋯ D_1 W_1 v`` with ``D_l = diag(f_l′)``: the directions
    ``v`` (P, d) are shared by the batch, so the first product ``W_1 v`` is
    computed once (m₁ × P) and a single-layer encoder costs only elementwise
    work per sample; ``E ‖J v‖²`` over ``v ~ N(0, I_d)`` is ``‖J‖²_F`` for every
    sample, so the batch mean is unbiased.

    Parameters
    ----------
    weights : the layers' weights W_l, (m_l, m_{l−1}).
    slopes : the layers' ``f_l′`` at each sample, (n, m_l).
    v : (P, d) directions.
    """
    t = slopes[0].unsqueeze(1) * (v @ weights[0].t()).unsqueeze(0)  # (n, P, m₁)
    for w, s in zip(weights[1:], slopes[1:]):
        t = (t @ w.t()) * s.unsqueeze(1)
    return t.square().sum() / (t.shape[0] * v.shape[0])

"""The pieces of a sparse dictionary's training step, as functions on tensors.

The encoder of a sparse dictionary is ``z = (x − b_dec) W_encᵀ + b_enc``
(n, m) followed by a selection of few entries per row (TopK, BatchTopK). When
only the selected entries ``S`` carry codes, the gradients of the encoder are

    ∂L/∂W_enc[j]  = Σ_{(r, j) ∈ S} g_rj (x_r − b_dec)         (a latent scatter, O(|S| d))
    ∂L/∂b_enc[j]  = Σ_{(r, j) ∈ S} g_rj
    ∂L/∂b_dec     = −Σ_j (∂L/∂b_enc[j]) W_enc[j]               (one (m,) × (m, d) product)

with ``g_rj = ∂L/∂h_rj · 1[h_rj ≠ 0]``, so a step costs the dense product
``z`` plus O(k) work per row instead of three dense products. The product
runs in the compute dtype (bfloat16 where the hardware has it) into a
reusable workspace; everything else is float32.

The decoder atoms are held at unit norm by two functions: the gradient loses
its component along each atom before the update
(:func:`remove_parallel_component`), and the atoms are renormalized after
it (:func:`normalize_rows_`).

References
----------
Gao et al., "Scaling and evaluating sparse autoencoders" (2024): TopK, the
AuxK loss and the parallel-gradient removal; Bricken et al., "Towards
Monosemanticity" (2023): unit-norm decoder atoms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aekit.autoencoders._select import top_k_rows
from aekit.autoencoders._sparse_codes import SparseCodes, latent_scatter, upcast

__all__ = [
    "Workspace",
    "encoder_weights",
    "preactivations",
    "encoder_grads",
    "select_encode",
    "dead_latent_codes",
    "remove_parallel_component",
    "normalize_rows_",
]


class Workspace:
    """Reusable buffers by name: a large fresh allocation page-faults at every step on the CPU."""

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, bool]:
        """The buffer ``name`` with this shape, dtype and device, and whether it was just allocated."""
        b = self._buffers.get(name)
        if b is not None and b.shape == shape and b.dtype == dtype and b.device == device:
            return b, False
        self._buffers.pop(name, None)  # free the old one first
        b = self._buffers[name] = torch.empty(shape, dtype=dtype, device=device)
        return b, True

    def clear(self) -> None:
        self._buffers.clear()


def _padded_width(d: int) -> int:
    return -(-(d + 1) // 16) * 16


def encoder_weights(W_enc: torch.Tensor, b_enc: torch.Tensor, dtype: torch.dtype, workspace: Workspace) -> torch.Tensor:
    """``[W_enc | b_enc | 0]`` (m, d') in ``dtype``, in the workspace buffer ``"encoder"`` (d' = d + 1 padded to 16).

    On the CPU the bias rides in the product (a column of ones in the input):
    a separate bias pass over the (n, m) output costs half as much again as the product.
    """
    m, d = W_enc.shape
    Wa, fresh = workspace.get("encoder", (m, _padded_width(d)), dtype, W_enc.device)
    if fresh:
        Wa.zero_()
    Wa[:, :d].copy_(W_enc)
    Wa[:, d].copy_(b_enc)
    return Wa


def preactivations(xc: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor, dtype: torch.dtype,
                   workspace: Workspace | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``z = xc W_encᵀ + b_enc`` (n, m) computed in ``dtype``; ``xc`` (n, d).

    With a workspace (and on the CPU) the product is one matrix product of the
    padded input ``[xc | 1 | 0]`` and :func:`encoder_weights` (``weights``,
    when the caller keeps them), written into the workspace buffer ``"z"``.
    """
    if workspace is None or xc.device.type != "cpu":
        out = None if workspace is None else workspace.get("z", (xc.shape[0], W_enc.shape[0]), dtype, xc.device)[0]
        return torch.addmm(b_enc.to(dtype), xc.to(dtype), W_enc.to(dtype).t(), out=out)
    n, d = xc.shape
    Wa = encoder_weights(W_enc, b_enc, dtype, workspace) if weights is None else weights
    xa, fresh = workspace.get("input", (n, Wa.shape[1]), dtype, xc.device)
    if fresh:
        xa.zero_()
        xa[:, d] = 1
    xa[:, :d].copy_(xc)
    z = workspace.get("z", (n, Wa.shape[0]), dtype, xc.device)[0]
    return torch.mm(xa, Wa.t(), out=z)


def encoder_grads(xc: torch.Tensor, W_enc: torch.Tensor, parts: list[tuple[SparseCodes, torch.Tensor]]):
    """``(∂W_enc (m, d), ∂b_enc (m,), ∂b_dec (d,))`` from the gradients of selected codes.

    ``parts`` pairs codes (whose values are the codes ``h``) with ``∂L/∂h`` on
    their entries (nnz,); ``xc = x − b_dec`` (n, d). See the module docstring.
    """
    m = W_enc.shape[0]
    dW = db_enc = None
    for codes, grad in parts:
        g = (grad * (codes.values != 0)).to(W_enc.dtype)
        part_W = latent_scatter(codes, g, xc)
        part_b = torch.bincount(codes.indices, weights=g, minlength=m).to(W_enc.dtype)
        dW = part_W if dW is None else dW.add_(part_W)
        db_enc = part_b if db_enc is None else db_enc.add_(part_b)
    if dW is None:
        dW, db_enc = torch.zeros_like(W_enc), torch.zeros(m, dtype=W_enc.dtype, device=W_enc.device)
    db_dec = -(db_enc @ W_enc)
    return dW, db_enc, db_dec


class _SelectEncode(torch.autograd.Function):
    """Pre-activations, selection, and the sparse encoder gradients (see :func:`select_encode`)."""

    @staticmethod
    def forward(ctx, xn, b_dec, W_enc, b_enc, select, dtype, workspace):
        with torch.autocast(device_type=xn.device.type, enabled=False):
            xc = xn.to(W_enc.dtype) - b_dec
            z = preactivations(xc, W_enc, b_enc, dtype, workspace)
            parts = select(z)
        ctx.parts = parts
        ctx.save_for_backward(xc, W_enc)
        ctx.set_materialize_grads(False)  # codes that reach no loss get None, and cost nothing
        return tuple(p.values.to(W_enc.dtype) for p in parts)

    @staticmethod
    def backward(ctx, *grads):
        xc, W_enc = ctx.saved_tensors
        pairs = [(p, g) for p, g in zip(ctx.parts, grads) if g is not None]
        with torch.autocast(device_type=xc.device.type, enabled=False):
            dW, db_enc, db_dec = encoder_grads(xc, W_enc, pairs)
        return None, db_dec, dW, db_enc, None, None, None


def select_encode(xn: torch.Tensor, b_dec: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor,
                  select: Callable[[torch.Tensor], list[SparseCodes]], dtype: torch.dtype,
                  workspace: Workspace | None = None) -> list[SparseCodes]:
    """Sparse codes of ``xn`` (n, d) whose values are differentiable in ``b_dec``, ``W_enc`` and ``b_enc``.

    ``select(z)`` maps the pre-activations ``z = (xn − b_dec) W_encᵀ + b_enc``
    (n, m, in ``dtype``) to one or more sets of codes whose values are ``h(z)``
    on their entries with slope 1 where non-zero (the main codes, then the
    AuxK codes); ``z`` may live in ``workspace`` and is not kept.
    """
    holder: list[list[SparseCodes]] = []

    def run(z):
        parts = select(z)
        holder.append(parts)
        return parts

    values = _SelectEncode.apply(xn, b_dec, W_enc, b_enc, run, dtype, workspace)
    return [p.with_values(v) for p, v in zip(holder[0], values)]


def dead_latent_codes(z: torch.Tensor, dead: torch.Tensor, k: int) -> SparseCodes:
    """AuxK codes: each row's ``min(k, #dead)`` largest pre-activations among the ``dead`` latents, ReLU'd.

    ``z`` (n, m), ``dead`` (m,) bool with at least one True; values detached (half precision upcast to float32).
    """
    idx = dead.nonzero()[:, 0]
    k = min(k, idx.numel())
    values, cols = top_k_rows(z[:, idx], k)
    return SparseCodes.from_rows(torch.relu(upcast(values)), idx[cols], z.shape[1])


def remove_parallel_component(grad: torch.Tensor, W: torch.Tensor) -> None:
    """In place, ``grad[j] ← grad[j] − <grad[j], w_j> w_j / ‖w_j‖²`` for every row (atom) ``w_j`` of ``W`` (m, d)."""
    norms_sq = (W * W).sum(dim=1, keepdim=True).clamp(min=torch.finfo(W.dtype).tiny)
    grad.sub_((grad * W).sum(dim=1, keepdim=True) / norms_sq * W)


def normalize_rows_(W: torch.Tensor) -> None:
    """In place, ``w_j ← w_j / ‖w_j‖`` for every row of ``W`` (m, d) (rows of zeros stay zero)."""
    W.div_(torch.linalg.vector_norm(W, dim=1, keepdim=True).clamp(min=torch.finfo(W.dtype).tiny))

"""The hand-written training step of a TopK / BatchTopK sparse dictionary (no autograd graph).

The same computation as :meth:`SparseDictionaryModule.loss_terms` followed by
``backward`` on its sparse path, chained by hand:

    z = [x_n − b_dec | 1] [W_enc | b_enc]ᵀ     (compute dtype, cached weights, workspace)
    S = select(z),  A = AuxK codes (when latents are dead)
    x̂ = H_S W_dec + b_dec,  e = x̂ − x_n        reconstruction = Σ e² / n
    g = 2 e / n:  ∂values_S = sampled_dot(S, g, W_dec),  ∂W_dec = Hᵀ_S g,  ∂b_dec = Σ_rows g
    AuxK: r = H_A W_dec + e,  auxk = α Σ r² / n,  g_A = 2 α r / n  (the same three products on A)
    encoder: ∂W_enc, ∂b_enc, ∂b_dec from ∂values (see :func:`encoder_grads`)

The low-precision encoder weights are cast once per optimizer step
(:meth:`after_optimizer_step`) instead of at every use.
"""

from __future__ import annotations

import torch

from aekit.autoencoders._sae_kernels import encoder_grads, encoder_weights, preactivations
from aekit.autoencoders._sparse_codes import decode_values, latent_scatter, sampled_dot
from aekit.training import FusedStep

__all__ = ["SparseDictionaryStep"]


class SparseDictionaryStep(FusedStep):
    """:class:`~aekit.training.FusedStep` of a :class:`SparseDictionaryModule` on its sparse path."""

    def __init__(self, module, compute_dtype: torch.dtype):
        self.module = module
        self.dtype = compute_dtype
        self.weights = None

    def after_optimizer_step(self) -> None:
        self.weights = None  # recast on the next step

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, *rest: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        mod = self.module
        W_enc, b_enc, W_dec, b_dec = mod.W_enc, mod.b_enc, mod.W_dec, mod.b_dec
        n = x.shape[0]
        if x.device.type == "cpu" and self.weights is None:
            self.weights = encoder_weights(W_enc, b_enc, self.dtype, mod.workspace)
        xn = (x * mod.input_scale).to(W_enc.dtype)
        xc = xn - b_dec
        z = preactivations(xc, W_enc, b_enc, self.dtype, mod.workspace, self.weights)
        dead = mod._dead_for_auxk()
        codes = mod.activation.select(z)
        codes = codes.with_values(codes.values.to(W_enc.dtype))
        aux = mod._aux_selection(z, dead)

        e = decode_values(codes, W_dec).add_(b_dec).sub_(xn)
        terms = {"reconstruction": (e * e).sum() / n}
        g = e.mul(2.0 / n)
        dW_dec = latent_scatter(codes, codes.values, g)
        parts = [(codes, sampled_dot(codes, g, W_dec))]
        db_dec = g.sum(dim=0)
        if aux:
            a = aux[0]
            r = decode_values(a, W_dec).add_(e)
            terms["auxk"] = mod.auxk_coefficient * (r * r).sum() / n
            ga = r.mul_(2.0 * mod.auxk_coefficient / n)
            dW_dec += latent_scatter(a, a.values, ga)
            parts.append((a, sampled_dot(a, ga, W_dec)))
        dW_enc, db_enc, db_dec_enc = encoder_grads(xc, W_enc, parts)
        db_dec += db_dec_enc
        for p, grad in ((W_enc, dW_enc), (b_enc, db_enc), (W_dec, dW_dec), (b_dec, db_dec)):
            p.grad = grad
        mod._record_firing(codes.fired(), n)
        return terms

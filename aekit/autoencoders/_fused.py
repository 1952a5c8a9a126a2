"""The autoencoder's hand-written training step: the dense layers' forward and backward without autograd.

For an :class:`~aekit.autoencoders.AutoencoderModule` the cost of a step is
its matrix products; what autograd and autocast add around them (a graph of
every elementwise op, the weights cast to bfloat16 at every use and their
gradients cast back, the bookkeeping of the optimizer) is most of the rest on
a CPU. :class:`DenseStep` computes the same step with the layers' products
written out::

    forward    a₀ = x̃ − offset,   z_l = a_{l−1} W_lᵀ + b_l,   a_l = g(z_l)      (encoder, then decoder)
    backward   δ_l = ∂L/∂z_l:   ∂L/∂W_l = δ_lᵀ a_{l−1},   ∂L/∂b_l = Σₛ δ_l,
               δ_{l−1} = (δ_l W_l) ⊙ g′(a_{l−1})                          (g′ from the output a)

in the compute dtype (the products' inputs are low-precision copies of the
weights, refreshed once per optimizer step; gradients land in float32). The
parts that vary between models stay with autograd, on small tensors only:
the code activation, the reconstruction loss on the output pre-activations
and every penalty (:meth:`AutoencoderModule.code_terms`) are differentiated
with respect to the code's pre-activation ``z`` (n, m), the output logits
(n, d) and the weights the penalties read. So every code activation (top-k
included), loss, corruption and penalty works; what needs the hand-written
chain is a derivative for the hidden layers' activation.
"""

from __future__ import annotations

import torch

from aekit.training import FusedStep

__all__ = ["DenseStep"]


class DenseStep(FusedStep):
    """One training step of ``module`` with its dense layers written out (see the module docstring).

    Parameters
    ----------
    module : AutoencoderModule
    compute_dtype : torch.dtype
        Dtype of the matrix products (``torch.float32`` or ``torch.bfloat16``).
    """

    def __init__(self, module, compute_dtype: torch.dtype):
        self.module = module
        self.dtype = compute_dtype
        self.params = [p for p in module.parameters() if p.requires_grad]
        self._copies: dict[int, torch.Tensor] = {}  # id(parameter) -> its compute-dtype copy
        n_layers = len(module.encoder_weights)
        # (weight parameter, used transposed, bias) of each layer; a tied decoder reuses the encoder's weights
        self.encoder = [(w, False, b) for w, b in zip(module.encoder_weights, module.encoder_biases)]
        self.decoder = [
            (module.encoder_weights[n_layers - 1 - i], True, b) if module.tied_weights else (module.decoder_weights[i], False, b)
            for i, b in enumerate(module.decoder_biases)
        ]
        self.after_optimizer_step()

    @classmethod
    def build(cls, module, compute_dtype: torch.dtype) -> DenseStep | None:
        """The step for ``module``, or None where the hand-written chain does not apply."""
        if len(module.sizes) > 2 and module.f_hidden.derivative is None:
            return None  # a hidden activation without a known slope
        return cls(module, compute_dtype)

    # ------------------------------------------------------------ low-precision weights
    def after_optimizer_step(self) -> None:
        if self.dtype == torch.float32:
            return
        with torch.no_grad():
            for p in self.params:
                copy = self._copies.get(id(p))
                if copy is None:
                    self._copies[id(p)] = p.detach().to(self.dtype)
                else:
                    copy.copy_(p)

    def _c(self, p: torch.Tensor) -> torch.Tensor:
        """Parameter ``p`` in the compute dtype (its refreshed copy, or itself in float32)."""
        return self._copies[id(p)] if self._copies else p.detach()

    def _weight(self, layer) -> torch.Tensor:
        """The layer's (out, in) weight in the compute dtype."""
        w, transposed, _ = layer
        return self._c(w).t() if transposed else self._c(w)

    # ------------------------------------------------------------ the step
    def __call__(self, x: torch.Tensor, *rest: torch.Tensor, generator: torch.Generator | None = None):
        m, dt = self.module, self.dtype
        written: set[int] = set()

        def add(p: torch.Tensor, g: torch.Tensor) -> None:
            """Accumulate ``g`` into ``p.grad`` (float32, in the parameter's layout); the first write overwrites."""
            if id(p) in written:
                p.grad.add_(g)
            else:
                if p.grad is None or p.grad.shape != p.shape or not p.grad.is_contiguous():
                    p.grad = torch.empty_like(p, memory_format=torch.contiguous_format)
                p.grad.copy_(g)
                written.add(id(p))

        with torch.no_grad():
            x_in, weight = m.corrupt(x, generator)
            a = x_in - m.input_offset if m.centered else x_in
            enc_in = self._forward(a.to(dt), self.encoder)
            z = enc_in.pop()
        code_slope = m.f_code.derivative
        if code_slope is not None:  # elementwise code: h in the compute dtype, like autocast's
            with torch.no_grad():
                h = m.f_code(z)
        else:  # anything else (top-k): autograd from the code's pre-activation
            z = z.float().requires_grad_()
            h = m.f_code(z)
        with torch.no_grad():
            dec_in = self._forward(h.detach().to(dt), self.decoder)
            logits = dec_in.pop().float()
        reconstruction, g_logits = self._reconstruction(logits, x, weight)
        with torch.no_grad():
            g_h = self._backward(g_logits.to(dt), dec_in, self.decoder, add, input_grad=True)

        # the other terms: autograd on the code (and the weights they read), if there are any
        weights = self.params  # penalties read weights; a contractive estimate re-runs the encoder (biases too)
        if code_slope is not None:
            # two leaves in the compute dtype (the penalties upcast them, as under autocast): h = f(z) applied below
            z, h = z.requires_grad_(), h.requires_grad_()
            terms = m.code_terms(x_in, z, h, generator)
            g_z = None
            if any(v.requires_grad for v in terms.values()):
                g_zt, g_ht, *g_weights = torch.autograd.grad(
                    sum(terms.values()), [z, h, *weights], allow_unused=True)
                self._add_all(weights, g_weights, add)
                if g_ht is not None:
                    g_h = g_h.add_(g_ht)
                g_z = g_zt
            with torch.no_grad():
                delta = g_h.mul_(code_slope(h))  # ∂L/∂z = ∂L/∂h f′(z) (+ ∂L/∂z direct)
                if g_z is not None:
                    delta = delta.add_(g_z)
        else:
            terms = m.code_terms(x_in, z, h, generator)
            surrogate = (h * g_h.float()).sum() + sum(terms.values())
            delta, *g_weights = torch.autograd.grad(surrogate, [z, *weights], allow_unused=True)
            self._add_all(weights, g_weights, add)
        with torch.no_grad():
            self._backward(delta.to(dt), enc_in, self.encoder, add, input_grad=False)
            for p in self.params:
                if id(p) not in written:
                    add(p, torch.zeros(()))
        return {"reconstruction": reconstruction.detach(), **{k: v.detach() for k, v in terms.items()}}

    def _reconstruction(self, logits: torch.Tensor, x: torch.Tensor, weight):
        """The reconstruction loss and its gradient with respect to the logits (closed form, else autograd)."""
        closed = self.module.reconstruction_gradient(logits, x, weight)
        if closed is not None:
            return closed
        logits.requires_grad_()
        loss = self.module.reconstruction_loss(logits, x, weight)
        return loss, torch.autograd.grad(loss, logits)[0]

    @staticmethod
    def _add_all(params, grads, add) -> None:
        with torch.no_grad():
            for p, g in zip(params, grads):
                if g is not None:
                    add(p, g)

    def _forward(self, a: torch.Tensor, layers) -> list[torch.Tensor]:
        """Inputs of every layer, then the last layer's pre-activation (all in the compute dtype)."""
        g = self.module.f_hidden
        inputs = []
        for i, layer in enumerate(layers):
            inputs.append(a)
            a = torch.addmm(self._c(layer[2]), a, self._weight(layer).t())
            if i < len(layers) - 1:
                a = g(a)
        inputs.append(a)
        return inputs

    def _backward(self, delta: torch.Tensor, inputs, layers, add, *, input_grad: bool):
        """From ``δ`` at the last layer's pre-activation down to the first layer: the parameter gradients
        (through ``add``) and, with ``input_grad``, ∂L/∂(first layer's input)."""
        slope = self.module.f_hidden.derivative
        for i in reversed(range(len(layers))):
            w, transposed, b = layers[i]
            g_w = delta.t() @ inputs[i]  # (out, in)
            add(w, g_w.t() if transposed else g_w)
            add(b, delta.sum(dim=0, dtype=torch.float32))
            if i > 0 or input_grad:
                delta = delta @ self._weight(layers[i])
                if i > 0:
                    delta = delta.mul_(slope(inputs[i]))
        return delta

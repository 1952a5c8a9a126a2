"""Torch modules of the stacked autoencoder: pretrained encoders in sequence, a softmax on top.

A stack of ``L`` autoencoders, each an :class:`AutoencoderModule` pretrained on
the codes of the one below, maps

    h⁰ = x,   hˡ = fˡ(hˡ⁻¹)  (l = 1..L)        fˡ = the encoder of layer l (feature form)

and, unrolled, decodes back with the decoders in reverse order,

    x̂ = g¹(g²(... gᴸ(hᴸ)))                      gˡ = the decoder of layer l.

Two objectives for the fine-tuning pass of the generic trainer, both named
losses of :meth:`StackedModule.loss_terms`:

    classification   −(1/n) Σₛ log softmax(V hᴸ(xₛ) + c)_{yₛ}          (a softmax head V, c)
    reconstruction   layer 1's reconstruction loss of x̂ against x      (the unrolled deep autoencoder)
    weight_decay     λ · ½ Σ W² over the weights the objective uses

Encoders always run in their feature form (``extract=True``: k-sparse layers
keep ⌈α·k⌉ units, as in ``transform``) and never corrupt their input: a
denoising layer's corruption belongs to its own pretraining only.

References
----------
Bengio, Lamblin, Popovici & Larochelle, "Greedy layer-wise training of deep
networks", NIPS (2007); Hinton & Salakhutdinov, "Reducing the dimensionality
of data with neural networks", Science 313 (2006); Vincent et al., "Stacked
denoising autoencoders", JMLR 11 (2010).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.autoencoders import _penalties as P
from aekit.autoencoders._module import AutoencoderModule
from aekit.training import TrainableModule

__all__ = ["StackedModule", "SoftmaxModule", "softmax_cross_entropy", "encode_in_chunks"]

# Rows of the training data used for the accuracy logged each epoch, and rows per forward pass.
METRIC_ROWS = 10_000
CHUNK_ROWS = 4096


def softmax_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``−(1/n) Σₛ log softmax(zₛ)_{yₛ}`` from logits ``z`` (n, C) and class indices ``y`` (n,), in float32."""
    return F.cross_entropy(logits.float(), y)


@torch.no_grad()
def encode_in_chunks(encode, X: torch.Tensor, rows: int = CHUNK_ROWS) -> torch.Tensor:
    """``encode`` applied to ``X`` (n, d) in row chunks, no graph; (n, m) float32 on ``X``'s device."""
    parts = [encode(X[s : s + rows]).float() for s in range(0, X.shape[0], rows)]
    return torch.cat(parts) if parts else X.new_zeros((0, 0))


def error_rate(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is not the label: a scalar tensor."""
    return (logits.argmax(dim=1) != y).float().mean()


@torch.no_grad()
def accuracy(logits_fn, X: torch.Tensor, y: torch.Tensor, rows: int | None = METRIC_ROWS) -> float:
    """Share of the first ``rows`` rows (all with None) whose largest logit ``logits_fn(X)`` is the label."""
    X, y = X[:rows], y[:rows]
    pred = encode_in_chunks(logits_fn, X).argmax(dim=1)
    return float((pred == y).float().mean())


class SoftmaxModule(TrainableModule):
    """Softmax regression ``p(c | z) = softmax(V z + c)``: the output layer, trained on frozen codes.

    Parameters
    ----------
    n_inputs : int
        Code size ``m`` of the deepest layer.
    n_classes : int
    weight_decay : float
        λ of ``λ · ½ ‖V‖²``.
    generator : torch.Generator or None
        Initial weights ``U(−r, r)``, ``r = sqrt(6 / (m + C))``.
    device : torch.device or str
    """

    def __init__(self, n_inputs: int, n_classes: int, *, weight_decay: float = 0.0, generator=None, device=None):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_classes, device=device)
        bound = (6.0 / (n_inputs + n_classes)) ** 0.5
        with torch.no_grad():
            w = torch.empty(n_classes, n_inputs).uniform_(-bound, bound, generator=generator)
            self.linear.weight.copy_(w.to(self.linear.weight.device))
            self.linear.bias.zero_()
        self.weight_decay = float(weight_decay)

    def forward_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (n, C) of codes ``z`` (n, m)."""
        return self.linear(z)

    def loss_terms(self, z: torch.Tensor, y: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        logits = self.forward_logits(z)
        with torch.autocast(device_type=z.device.type, enabled=False):
            terms = {"classification": softmax_cross_entropy(logits, y)}
            if self.weight_decay > 0:
                terms["weight_decay"] = self.weight_decay * P.weight_decay([self.linear.weight])
        return terms

    def validation_metrics(self, z: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """``error``: the classification error rate of the batch (early stopping can monitor it)."""
        return {"error": error_rate(self.forward_logits(z), y)}

    @torch.no_grad()
    def epoch_metrics(self, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """Training accuracy on the first 10 000 rows."""
        return {"accuracy": accuracy(self.forward_logits, data[0], data[1])}


class StackedModule(TrainableModule):
    """Pretrained autoencoders stacked into one network, optionally with a softmax head.

    Parameters
    ----------
    layers : sequence of AutoencoderModule
        Layer ``l``'s ``n_features`` must equal layer ``l − 1``'s ``n_components``.
    head : nn.Linear or None
        The softmax output layer (``n_components`` of the last layer -> classes).
        With a head the objective is classification and the decoders are frozen
        (``requires_grad=False``: the loss does not use them, and data-parallel
        training must not wait for their gradients); without one it is the
        reconstruction of the unrolled deep autoencoder.
    weight_decay : float
        λ of ``λ · ½ Σ W²`` over the encoder weights and the head (classification)
        or the encoder and decoder weights (reconstruction); biases are not decayed.
    """

    def __init__(self, layers: Sequence[AutoencoderModule], head: nn.Linear | None = None, *, weight_decay: float = 0.0):
        super().__init__()
        if not layers:
            raise ValueError("a stack needs at least one autoencoder layer.")
        for below, above in zip(layers[:-1], layers[1:]):
            if above.n_features != below.n_components:
                raise ValueError(
                    f"layer sizes do not chain: a layer with {below.n_components} components is followed by "
                    f"one that takes {above.n_features} features."
                )
        self.layers = nn.ModuleList(layers)
        self.head = head
        self.weight_decay = float(weight_decay)
        if head is not None:
            if head.in_features != layers[-1].n_components:
                raise ValueError(f"the head takes {head.in_features} inputs, the last layer has {layers[-1].n_components}.")
            for layer in self.layers:
                for p in [*layer.decoder_weights, *layer.decoder_biases]:
                    p.requires_grad_(False)

    @property
    def n_features(self) -> int:
        return self.layers[0].n_features

    @property
    def n_components(self) -> int:
        return self.layers[-1].n_components

    @property
    def objective(self) -> str:
        return "reconstruction" if self.head is None else "classification"

    # ------------------------------------------------------------ maps
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Deepest code ``hᴸ`` (n, m_L) of inputs ``x`` (n, d), every encoder in its feature form."""
        h = x
        for layer in self.layers:
            h = layer.encode(h, extract=True)
        return h

    def decode_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Pre-activation (n, d) of layer 1's output from deepest codes ``h`` (n, m_L)."""
        for layer in reversed(self.layers[1:]):
            h = layer.decode(h)
        return self.layers[0].decode_logits(h)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``x̂`` (n, d) from deepest codes ``h`` (n, m_L) through the unrolled decoders."""
        return self.layers[0].f_out(self.decode_logits(h))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``: (n, d) -> (n, d)."""
        return self.decode(self.encode(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``V hᴸ(x) + c`` (n, C); needs a head."""
        if self.head is None:
            raise ValueError("this stack has no softmax head (it was built for reconstruction).")
        return self.head(self.encode(x))

    def decayed_weights(self) -> list[torch.Tensor]:
        """The weight matrices the objective uses (what weight decay acts on)."""
        encoders = [w for layer in self.layers for w in layer.encoder_weights]
        if self.head is not None:
            return [*encoders, self.head.weight]
        return [*encoders, *(w for layer in self.layers for w in layer.decoder_weights)]

    # ------------------------------------------------------------ trainer contract
    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        """``classification`` on a batch ``(x, y)`` with a head, else ``reconstruction`` of ``x``; plus ``weight_decay``."""
        if self.head is not None:
            if not rest:
                raise ValueError("a stack with a softmax head trains on (X, y) batches; no labels were given.")
            out = self.logits(x)
        else:
            out = self.decode_logits(self.encode(x))
        with torch.autocast(device_type=x.device.type, enabled=False):
            if self.head is not None:
                terms = {"classification": softmax_cross_entropy(out, rest[0])}
            else:
                terms = {"reconstruction": self.layers[0].reconstruction_loss(out, x)}
            if self.weight_decay > 0:
                terms["weight_decay"] = self.weight_decay * P.weight_decay(self.decayed_weights())
        return terms

    def validation_metrics(self, x: torch.Tensor, *rest: torch.Tensor) -> dict[str, torch.Tensor]:
        """With a head and labels, ``error``: the batch's classification error rate; else nothing."""
        if self.head is None or not rest:
            return {}
        return {"error": error_rate(self.logits(x), rest[0])}

    @torch.no_grad()
    def epoch_metrics(self, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """Training accuracy (classification) or reconstruction loss per sample, on the first 10 000 rows."""
        if self.head is not None:
            return {"accuracy": accuracy(self.logits, data[0], data[1])}
        X = data[0][:METRIC_ROWS]
        total = 0.0
        for s in range(0, X.shape[0], CHUNK_ROWS):
            xb = X[s : s + CHUNK_ROWS]
            total += float(self.layers[0].reconstruction_loss(self.decode_logits(self.encode(xb)).float(), xb)) * xb.shape[0]
        return {"reconstruction_error": total / max(1, X.shape[0])}

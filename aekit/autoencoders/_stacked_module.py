"""Torch modules of stacked autoencoders: pretrained encoders in sequence, unrolled or with a softmax on top.

A stack of ``L`` autoencoders, each an :class:`AutoencoderModule` pretrained on
the codes of the one below, maps

    h⁰ = x,   hˡ = fˡ(hˡ⁻¹)  (l = 1..L)        fˡ = the encoder of layer l (feature form)

Two modules share that encoder (:class:`EncoderStack`) and differ in what the
generic trainer's fine-tuning pass minimizes, their named loss terms:

- :class:`StackedModule`, the unrolled deep autoencoder, decodes back with the
  decoders in reverse order, ``x̂ = g¹(g²(... gᴸ(hᴸ)))``, and minimizes
  ``reconstruction`` (layer 1's reconstruction loss of x̂ against x);
- :class:`StackedClassifierModule` puts a softmax ``softmax(V hᴸ + c)`` on the
  deepest code and minimizes ``classification``, −(1/n) Σₛ log p(yₛ | xₛ).

Both add ``weight_decay`` λ · ½ Σ W² over the weights their objective uses.
Encoders always run in their feature form (k-sparse layers keep ⌈α·k⌉ units,
as in ``transform``) and never corrupt their input: a denoising layer's
corruption belongs to its own pretraining only.

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

from aekit._torch import map_rows
from aekit.autoencoders import _penalties as P
from aekit.autoencoders._module import METRIC_ROWS, AutoencoderModule, mean_reconstruction_loss
from aekit.training import TrainableModule

__all__ = [
    "EncoderStack",
    "StackedModule",
    "StackedClassifierModule",
    "SoftmaxModule",
    "softmax_cross_entropy",
    "error_rate",
    "accuracy",
]


def softmax_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``−(1/n) Σₛ log softmax(zₛ)_{yₛ}`` from logits ``z`` (n, C) and class indices ``y`` (n,), in float32."""
    return F.cross_entropy(logits.float(), y)


def error_rate(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is not the label: a scalar tensor."""
    return (logits.argmax(dim=1) != y).float().mean()


@torch.no_grad()
def accuracy(logits_fn, X: torch.Tensor, y: torch.Tensor, rows: int | None = METRIC_ROWS) -> float:
    """Share of the first ``rows`` rows (all with None) whose largest logit ``logits_fn(X)`` is the label."""
    X, y = X[:rows], y[:rows]
    return float((map_rows(logits_fn, X).argmax(dim=1) == y).float().mean())


def _data_accuracy(logits_fn, data) -> float:
    """:func:`accuracy` on the first 10 000 rows of a BatchSource of ``(X, y)``."""
    correct, n = 0.0, 0
    for X, y in data.chunks(METRIC_ROWS, METRIC_ROWS):
        correct += float((map_rows(logits_fn, X).argmax(dim=1) == y).float().sum())
        n += X.shape[0]
    return correct / max(n, 1)


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
    def epoch_metrics(self, data) -> dict[str, float]:
        """Training accuracy on the first 10 000 rows."""
        return {"accuracy": _data_accuracy(self.forward_logits, data)}


class EncoderStack(TrainableModule):
    """Pretrained autoencoders whose encoders run in sequence (the base of both stacked modules).

    ``encode`` runs the encoders bottom up; ``decode`` runs the layers' decoders
    top down (the unrolled network; under a softmax head they stay as pretrained).

    Parameters
    ----------
    layers : sequence of AutoencoderModule
        Layer ``l``'s ``n_features`` must equal layer ``l − 1``'s ``n_components``.
    weight_decay : float
        λ of ``λ · ½ Σ W²`` over the weights the objective uses; biases are not decayed.
    """

    def __init__(self, layers: Sequence[AutoencoderModule], *, weight_decay: float = 0.0):
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
        self.weight_decay = float(weight_decay)

    @property
    def n_features(self) -> int:
        return self.layers[0].n_features

    @property
    def n_components(self) -> int:
        return self.layers[-1].n_components

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Deepest code ``hᴸ`` (n, m_L) of inputs ``x`` (n, d), every encoder in its feature form."""
        h = x
        for layer in self.layers:
            h = layer.features(h)
        return h

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The deepest code (what ``transform`` returns): :meth:`encode`."""
        return self.encode(x)

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

    def reconstruction_loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Layer 1's reconstruction loss of output pre-activations (n, d) against ``x`` (n, d)."""
        return self.layers[0].reconstruction_loss(logits, x)

    def first_layer_weights(self) -> torch.Tensor:
        """The first encoder layer's weights (n_units, n_features)."""
        return self.layers[0].first_layer_weights()

    def _weight_decay(self, terms: dict, weights: list[torch.Tensor]) -> dict:
        if self.weight_decay > 0:
            terms["weight_decay"] = self.weight_decay * P.weight_decay(weights)
        return terms

    def _encoder_weights(self) -> list[torch.Tensor]:
        return [w for layer in self.layers for w in layer.encoder_weights]


class StackedModule(EncoderStack):
    """The unrolled deep autoencoder trained end to end: ``reconstruction`` through every layer's decoder."""

    def decayed_weights(self) -> list[torch.Tensor]:
        """The weight matrices the objective uses (what weight decay acts on): encoders and decoders."""
        return [*self._encoder_weights(), *(w for layer in self.layers for w in layer.decoder_weights)]

    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        """``reconstruction`` of ``x`` through the unrolled network, plus ``weight_decay``."""
        out = self.decode_logits(self.encode(x))
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = {"reconstruction": self.reconstruction_loss(out, x)}
            return self._weight_decay(terms, self.decayed_weights())

    @torch.no_grad()
    def epoch_metrics(self, data) -> dict[str, float]:
        """Reconstruction loss per sample on the first 10 000 training rows."""
        (X, *_), = data.chunks(METRIC_ROWS, METRIC_ROWS)
        return {"reconstruction_error": mean_reconstruction_loss(self, X)}


class StackedClassifierModule(EncoderStack):
    """The stack's encoders and a softmax output layer ``p(c | x) = softmax(V hᴸ(x) + c)``.

    Parameters
    ----------
    layers : sequence of AutoencoderModule
    head : nn.Linear
        The softmax output layer (``n_components`` of the last layer -> classes).
        The decoders are frozen (``requires_grad=False``: the loss does not use
        them, and data-parallel training must not wait for their gradients).
    weight_decay : float
        λ of ``λ · ½ Σ W²`` over the encoder weights and the head's.
    """

    def __init__(self, layers: Sequence[AutoencoderModule], head: nn.Linear, *, weight_decay: float = 0.0):
        super().__init__(layers, weight_decay=weight_decay)
        if head.in_features != self.n_components:
            raise ValueError(f"the head takes {head.in_features} inputs, the last layer has {self.n_components}.")
        self.head = head
        for layer in self.layers:
            for p in [*layer.decoder_weights, *layer.decoder_biases]:
                p.requires_grad_(False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``V hᴸ(x) + c`` (n, C)."""
        return self.head(self.encode(x))

    def decayed_weights(self) -> list[torch.Tensor]:
        """The weight matrices the objective uses (what weight decay acts on): encoders and the head."""
        return [*self._encoder_weights(), self.head.weight]

    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        """``classification`` on a batch ``(x, y)``, plus ``weight_decay``."""
        if not rest:
            raise ValueError("a stack with a softmax head trains on (X, y) batches; no labels were given.")
        out = self.logits(x)
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = {"classification": softmax_cross_entropy(out, rest[0])}
            return self._weight_decay(terms, self.decayed_weights())

    def validation_metrics(self, x: torch.Tensor, *rest: torch.Tensor) -> dict[str, torch.Tensor]:
        """With labels, ``error``: the batch's classification error rate."""
        return {"error": error_rate(self.logits(x), rest[0])} if rest else {}

    @torch.no_grad()
    def epoch_metrics(self, data) -> dict[str, float]:
        """Training accuracy on the first 10 000 rows."""
        return {"accuracy": _data_accuracy(self.logits, data)}

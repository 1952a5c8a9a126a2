"""A fitted MLP autoencoder as plain arrays, its forward pass in NumPy, and a bound on rounding.

This is the one place that reads the internals of aekit's autoencoder modules.
:func:`describe` turns a fitted :class:`~aekit.autoencoders.Autoencoder` (any
preset), :class:`~aekit.autoencoders.StackedAutoencoder` or
:class:`~aekit.autoencoders.StackedAutoencoderClassifier` into an :class:`MLP`:
a list of encoder layers and a list of decoder layers, each

    a ← f(W (a − c) + b)          c: optional pre-encoder offset (centering)

with the exact maps of the estimator: the code is the one ``predict`` decodes
(``module.encode`` for a single autoencoder, so k-sparse keeps k units;
every layer's feature form in a stack, as ``EncoderStack.encode``) and
the reconstruction is ``predict(x)``. The explorer page evaluates the same
layers in JavaScript; :func:`forward` is the NumPy reference of that page code.

:func:`error_bound` says how far the page's numbers may lie from PyTorch's
float32 ones, per entry, from the unit roundoff and the model's own scale:
for each layer, with ``|W| |a| + |b|`` the scale of its pre-activation,

    e_z = |W| e_a + (γ_{n+2} + δ_W) (|W| |a| + |b|) + δ_abs Σ|a|,      γ_n = n u / (1 − n u)
    e_h = L_f e_z + 4 u |h|

``u`` is the unit roundoff of the arithmetic: ``2⁻²⁴`` for PyTorch's float32,
``2⁻⁵³`` for the page and :func:`forward`, which compute in float64.
``γ_{n+2}`` covers the worst-case rounding of a dot product of length ``n``
plus the bias, in any summation order (Higham, *Accuracy and Stability of
Numerical Algorithms*, §3.1), so the page (float64) and PyTorch (float32)
differ by at most the sum of their two bounds. ``δ_W`` is the relative
rounding of the stored weights: 0 for float32, ``2⁻¹¹`` for a float16 page
(and ``δ_abs = 2⁻²⁵`` for float16's subnormals). ``L_f`` is the activation's
Lipschitz constant (¼ for the sigmoid) and ``4u|h|`` its own evaluation
error. The bound is first order in ``u``. A k-sparse layer's selection must
also be the same on both sides, which holds when the gap between its k-th
and (k+1)-th pre-activation exceeds twice ``e_z``; otherwise that row's bound
is infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Dense", "MLP", "UnsupportedModel", "describe", "forward", "error_bound", "ACTIVATIONS", "layer_weight",
           "decode", "torch_pre_code", "input_corruption"]


class UnsupportedModel(ValueError):
    """The estimator is not one the explorer's in-page forward pass can run."""


# name -> (NumPy function, Lipschitz constant); the page implements the same names.
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow


def _softplus(z):
    return np.where(z > 20.0, z, np.log1p(np.exp(np.minimum(z, 20.0))))  # torch's threshold 20


def _gelu(z):
    from scipy.special import erf

    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

ACTIVATIONS = {
    "sigmoid": (_sigmoid, 0.25),
    "tanh": (np.tanh, 1.0),
    "relu": (lambda z: np.maximum(z, 0.0), 1.0),
    "linear": (lambda z: z, 1.0),
    "identity": (lambda z: z, 1.0),
    "softplus": (_softplus, 1.0),
    "leaky_relu": (lambda z: np.where(z >= 0, z, 0.01 * z), 1.0),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))), 1.0),
    "selu": (lambda z: _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
             _SELU_SCALE * _SELU_ALPHA),
    "gelu": (_gelu, 1.13),  # max slope of z Φ(z) is 1.1289
    "silu": (lambda z: z * _sigmoid(z), 1.1),  # max slope of z σ(z) is 1.0998
    "softsign": (lambda z: z / (1.0 + np.abs(z)), 1.0),
    "topk": (None, 1.0),
}


@dataclass(frozen=True)
class Dense:
    """One layer ``a ← f(W (a − offset) + b)``.

    ``weight`` is (out, in) float32, or None when the layer reuses an encoder
    layer's weight transposed (tied weights): ``transpose_of`` is that layer's
    index in :attr:`MLP.encoder`. ``activation`` is ``{"name": ...}``, with
    ``"k"`` for top-k.
    """

    weight: np.ndarray | None
    bias: np.ndarray
    activation: dict
    transpose_of: int | None = None
    offset: np.ndarray | None = None


@dataclass(frozen=True)
class MLP:
    """Encoder and decoder layers of an autoencoder, and what the page needs besides.

    ``corruption`` is the corruption the model's inputs saw in training, in
    the library's canonical form (:class:`~aekit.autoencoders.Corruption`:
    kind ``"masking"``, ``"gaussian"`` or ``"salt_and_pepper"`` and its level,
    whatever alias the model was configured with), or None;
    ``corruption_source`` says which training that was (``"training"``, or
    ``"first-layer pretraining"`` for a stack). ``first_layer_code`` says
    whether the code units are the first layer's (then a unit's filter is its
    row of the first weight matrix and its activation-maximizing input of
    fixed norm is that row, scaled).
    """

    encoder: list
    decoder: list
    corruption: object | None  # aekit.autoencoders.Corruption
    first_layer_code: bool
    corruption_source: str = "training"

    @property
    def n_features(self) -> int:
        return int(layer_weight(self, self.encoder[0]).shape[1])

    @property
    def n_components(self) -> int:
        return int(self.encoder[-1].bias.shape[0])

    @property
    def layers(self) -> list:
        return [*self.encoder, *self.decoder]


def layer_weight(mlp: MLP, layer: Dense) -> np.ndarray:
    """The (out, in) weight of ``layer`` (the transposed encoder weight for a tied decoder layer)."""
    return layer.weight if layer.transpose_of is None else mlp.encoder[layer.transpose_of].weight.T


# ------------------------------------------------------------------ reading fitted models
def _array(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _activation(f, *, extract: bool) -> dict:
    from aekit.autoencoders import ACTIVATIONS as NAMED
    from aekit.autoencoders import TopK

    if isinstance(f, TopK):
        k = math.ceil(f.alpha * f.k) if extract else f.k_current
        return {"name": "topk", "k": int(k)}
    name = f.name  # every activation is a CodeActivation
    # the named activation itself, not a custom callable that happens to share its name
    if name not in ACTIVATIONS or name == "topk" or NAMED.get(name) is not f:
        supported = ", ".join(n for n in ACTIVATIONS if n != "topk")
        raise UnsupportedModel(
            f"activation {name or type(f).__name__!r} cannot run in the explorer page: it runs the named "
            f"activations {supported} and top-k; train with one of those names (not a custom callable)."
        )
    return {"name": name}


def _autoencoder_layers(module, *, extract: bool, start: int) -> tuple[list, list]:
    """(encoder, decoder) layers of one AutoencoderModule; ``start``: index of its first encoder layer."""
    n = len(module.encoder_weights)
    offset = _array(module.input_offset) if module.centered else None
    encoder = []
    for i in range(n):
        f = module.f_code if i == n - 1 else module.f_hidden
        encoder.append(Dense(_array(module.encoder_weights[i]), _array(module.encoder_biases[i]),
                             _activation(f, extract=extract), offset=offset if i == 0 else None))
    decoder = []
    for i in range(n):
        act = _activation(module.f_out if i == n - 1 else module.f_hidden, extract=False)
        bias = _array(module.decoder_biases[i])
        if module.tied_weights:
            decoder.append(Dense(None, bias, act, transpose_of=start + n - 1 - i))
        else:
            decoder.append(Dense(_array(module.decoder_weight(i)), bias, act))
    return encoder, decoder


def describe(estimator) -> MLP:
    """The layers of a fitted aekit MLP autoencoder (single or stacked); see the module docstring.

    Raises
    ------
    UnsupportedModel
        For another kind of estimator, or an activation the page cannot run.
    """
    from aekit.autoencoders import Autoencoder, EncoderStack, EncoderEstimator

    if isinstance(estimator, Autoencoder) and hasattr(estimator, "module_"):
        encoder, decoder = _autoencoder_layers(estimator.module_, extract=False, start=0)
        return MLP(encoder, decoder, input_corruption(estimator), len(encoder) == 1)
    module = estimator.module_ if isinstance(estimator, EncoderEstimator) and hasattr(estimator, "module_") else None
    if isinstance(module, EncoderStack):
        encoder, decoders = [], []
        for layer in module.layers:
            enc, dec = _autoencoder_layers(layer, extract=True, start=len(encoder))
            encoder += enc
            decoders.append(dec)
        decoder = [d for dec in reversed(decoders) for d in dec]
        return MLP(encoder, decoder, input_corruption(estimator), len(encoder) == 1,
                   corruption_source="first-layer pretraining")
    raise UnsupportedModel(
        f"{type(estimator).__name__} is not an MLP autoencoder; the draw-and-reconstruct panel runs "
        "Autoencoder (and its presets), StackedAutoencoder and StackedAutoencoderClassifier."
    )


def input_corruption(estimator):
    """The estimator's input corruption (``EncoderEstimator.input_corruption()``) in canonical form, or None.

    The spec goes through the library's own parser
    (:func:`aekit.autoencoders.make_corruption`), so every alias it accepts
    (``"salt-and-pepper:0.1"``, ``"mask:0.3"``, upper case, a
    :class:`~aekit.autoencoders.Corruption`) reaches the page as the kind the
    page implements, and ``"none"`` as no corruption.
    """
    from aekit.autoencoders import make_corruption

    corruption = make_corruption(estimator.input_corruption())
    if corruption.kind == "none":
        return None
    if corruption.kind not in PAGE_CORRUPTIONS:
        raise UnsupportedModel(
            f"the model was trained with corruption {str(corruption)!r}, which the explorer page cannot apply: "
            f"it applies {', '.join(PAGE_CORRUPTIONS)}."
        )
    return corruption


PAGE_CORRUPTIONS = ("masking", "gaussian", "salt_and_pepper")  # the kinds the page's Noise applies


# ------------------------------------------------------------------ the reference forward pass
def _apply(activation: dict, z: np.ndarray) -> np.ndarray:
    if activation["name"] == "topk":
        k = min(int(activation["k"]), z.shape[1])
        keep = np.argpartition(-z, k - 1, axis=1)[:, :k]
        out = np.zeros_like(z)
        np.put_along_axis(out, keep, np.take_along_axis(z, keep, axis=1), axis=1)
        return out
    return ACTIVATIONS[activation["name"]][0](z)


def forward(mlp: MLP, x, *, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(code (n, m), reconstruction (n, d)) of inputs ``x`` (n, d).

    In float64 (default) this is what the page computes; ``dtype=np.float32``
    is the fast form for statistics over many rows.
    """
    a = np.atleast_2d(np.asarray(x, dtype=dtype))
    code = None
    for i, layer in enumerate(mlp.layers):
        if layer.offset is not None:
            a = a - layer.offset.astype(dtype)
        z = a @ layer_weight(mlp, layer).astype(dtype).T + layer.bias.astype(dtype)
        a = _apply(layer.activation, z).astype(dtype, copy=False)
        if i == len(mlp.encoder) - 1:
            code = a
    return code, a


def decode(mlp: MLP, h) -> np.ndarray:
    """Reconstruction (n, d) of codes ``h`` (n, m) through the decoder layers, in float64."""
    a = np.atleast_2d(np.asarray(h, dtype=np.float64))
    for layer in mlp.decoder:
        a = _apply(layer.activation, a @ layer_weight(mlp, layer).astype(np.float64).T + layer.bias)
    return a


def torch_pre_code(mlp: MLP):
    """``x (n, d) -> z (n, m)``: the code layer's pre-activation, as a differentiable torch function."""
    import torch
    import torch.nn.functional as F

    from aekit.autoencoders import ACTIVATIONS as TORCH_ACTIVATIONS

    params = [(torch.from_numpy(layer_weight(mlp, l).copy()), torch.from_numpy(l.bias.copy()),
               None if l.offset is None else torch.from_numpy(l.offset.copy()), l.activation) for l in mlp.encoder]

    def pre_code(x):
        a = x
        for i, (W, b, c, act) in enumerate(params):
            if c is not None:
                a = a - c
            z = F.linear(a, W, b)
            if i == len(params) - 1:
                return z
            if act["name"] == "topk":
                from aekit.autoencoders import topk

                a = topk(z, min(act["k"], z.shape[1]))
            else:
                a = TORCH_ACTIVATIONS[act["name"]](z)
        return a

    return pre_code


U32 = 2.0**-24  # unit roundoff of float32
U64 = 2.0**-53  # unit roundoff of float64
U16 = 2.0**-11  # relative rounding of a weight stored as float16
U16_SUBNORMAL = 2.0**-25  # absolute rounding of float16 below its smallest normal number
GELU_PAGE_ERROR = 3e-8  # the page's erf (series) is this accurate; gelu is the only activation that uses it


def error_bound(mlp: MLP, x, *, float16: bool = False, unit_roundoff: float = U32,
                decoder_only: bool = False) -> tuple[np.ndarray | None, np.ndarray]:
    """Per-entry bounds on the rounding error of (code, reconstruction) of inputs ``x`` (n, d).

    With the defaults: how far PyTorch's float32 result may lie from the exact
    value of the model. ``unit_roundoff=U64``: the same for the page's (and
    :func:`forward`'s) float64 arithmetic. ``float16``: add the rounding of a
    float16 page's weights. ``decoder_only``: ``x`` are codes (n, m), the
    bound is that of decoding them (and the code bound is None). See the
    module docstring for the derivation.
    """
    layers, code_at = (mlp.decoder, -1) if decoder_only else (mlp.layers, len(mlp.encoder) - 1)
    a = np.atleast_2d(np.asarray(x, dtype=np.float64))
    e = np.zeros_like(a)
    u = float(unit_roundoff)
    rel, absolute = (U16, U16_SUBNORMAL) if float16 else (0.0, 0.0)
    code_bound = None
    for i, layer in enumerate(layers):
        if layer.offset is not None:
            a = a - layer.offset
            e = e + u * np.abs(a)
        W = layer_weight(mlp, layer).astype(np.float64)
        n_in = W.shape[1]
        gamma = (n_in + 2) * u / (1.0 - (n_in + 2) * u)
        scale = np.abs(a) @ np.abs(W).T + np.abs(layer.bias)
        z = a @ W.T + layer.bias
        e_z = e @ np.abs(W).T + (gamma + rel) * scale + absolute * np.abs(a).sum(axis=1, keepdims=True)
        h = _apply(layer.activation, z)
        e = ACTIVATIONS[layer.activation["name"]][1] * e_z + 4 * u * np.abs(h)
        if layer.activation["name"] == "gelu":
            e = e + GELU_PAGE_ERROR * np.abs(z)
        if layer.activation["name"] == "topk":
            k = min(int(layer.activation["k"]), z.shape[1])
            if k < z.shape[1]:
                top = -np.sort(-z, axis=1)
                unsafe = (top[:, k - 1] - top[:, k]) <= 2.0 * e_z.max(axis=1)
                e[unsafe] = np.inf
        a = h
        if i == code_at:
            code_bound = e
    if code_bound is None:
        return None, np.nan_to_num(e, nan=np.inf, posinf=np.inf)
    # a row whose top-k selection may differ is unbounded (inf · 0 gives NaN further on)
    return np.nan_to_num(code_bound, nan=np.inf, posinf=np.inf), np.nan_to_num(e, nan=np.inf, posinf=np.inf)

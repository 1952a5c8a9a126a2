"""Activation functions by name or callable, behind one small interface.

Every code or hidden activation of :class:`~aekit.autoencoders.AutoencoderModule`
is a :class:`CodeActivation`: a callable ``h = f(z)`` with a name, its output
range (the KL sparsity penalty needs outputs inside (0, 1)), its derivative
written as a function of its *output* where that exists (the closed-form
contractive penalty needs ``f'(z)`` from ``h``), the gain of the uniform weight
initialization that suits it, and hooks with defaults: the feature-extraction
form (:meth:`CodeActivation.extract`), a check of the code width, a per-epoch
schedule, auxiliary loss terms, the inverse that sets an output layer's initial
bias (:meth:`CodeActivation.inverse`), and for sparse autoencoders the sparse
form of a selection (:meth:`CodeActivation.select`) and the rescaling of
thresholds (:meth:`CodeActivation.scale_codes`).

The elementwise functions are :class:`Activation` instances resolved once by
name through :data:`ACTIVATIONS`; :class:`~aekit.autoencoders.TopK` is a
:class:`CodeActivation` with state (its annealed ``k``) and a feature form. A
plain callable is wrapped in an :class:`Activation` without a range or
derivative (so the contractive penalty takes the exact Jacobian path and KL
sparsity refuses it); it may declare ``output_range = (low, high)`` to allow KL
sparsity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from aekit._validation import resolve_option

if TYPE_CHECKING:
    from aekit.autoencoders._sparse_codes import SparseCodes

__all__ = ["CodeActivation", "Activation", "ACTIVATIONS", "get_activation"]


class CodeActivation:
    """The interface between an activation and the autoencoder module that applies it.

    Subclasses implement ``__call__(z) -> h`` (an :class:`torch.nn.Module`
    subclass implements ``forward``) and override only what differs from the
    defaults below. Stateful activations (learned thresholds, running
    statistics) should also subclass :class:`torch.nn.Module` and keep that
    state in parameters or buffers, so that it trains, checkpoints and saves
    with the model.

    Attributes
    ----------
    name : str
        Shown in errors and saved configurations.
    output_range : (low, high) or None
        Bounds of the outputs; ``None`` when unknown.
    derivative : callable or None
        ``h -> f'(z)`` for an elementwise activation whose slope is a function
        of its output ``h = f(z)`` (sigmoid: ``h (1 - h)``); ``None`` otherwise.
    init_gain : float
        Multiplier of the Glorot uniform bound ``sqrt(6 / (fan_in + fan_out))``
        for the weights feeding this activation (4 for the sigmoid, whose slope at
        0 is 1/4).
    """

    name: str = "activation"
    output_range: tuple[float, float] | None = None
    derivative: Callable[[torch.Tensor], torch.Tensor] | None = None
    init_gain: float = 1.0

    def extract(self, z: torch.Tensor) -> torch.Tensor:
        """The feature-extraction code (``transform``); the training-time code by default."""
        return self(z)

    def check_width(self, width: int) -> None:
        """Raise ``ValueError`` when the activation cannot act on ``width`` units; any width by default."""

    def on_epoch_start(self, epoch: int, max_epochs: int) -> None:
        """Advance a schedule before epoch ``epoch`` (0-based); nothing by default."""

    def loss_terms(self, z: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """Auxiliary named loss terms of a training batch, from pre-activations ``z`` and codes ``h`` (n, m).

        Added to the model's terms (e.g. an L0 penalty through a straight-through
        estimator); none by default.
        """
        return {}

    def inverse(self, y: torch.Tensor) -> torch.Tensor | None:
        """Pre-activations ``z`` with ``f(z) ≈ y`` (same shape), or None where the activation has no inverse.

        As an output activation, it sets the initial output bias of a centred
        model to ``inverse(data mean)``, so that the untrained model
        reconstructs the mean; with None the bias starts at 0. None by default.
        """
        return None

    def select(self, z: torch.Tensor, *, features: bool = False) -> "SparseCodes | None":
        """The codes of pre-activations ``z`` (n, m) as :class:`~aekit.autoencoders.SparseCodes`, or None.

        Activations whose codes are a selection of few entries (TopK,
        BatchTopK) return them here (the training-time code, or the feature
        form with ``features``), so that a sparse autoencoder decodes and
        differentiates only those entries. Each entry's value is ``f(z)`` at
        that entry and its slope there is 1 where the value is non-zero.
        None by default: the codes are dense.
        """
        return None

    def scale_codes(self, factor: float) -> None:
        """From now on the pre-activations are ``factor`` (> 0) times larger: rescale any threshold so
        that the codes are ``factor`` times larger too (``f(c z) = c f(z)``).

        Used to fold an input normalization into the weights. Raises
        ``NotImplementedError`` by default; positively homogeneous activations
        (ReLU, TopK) implement it.
        """
        raise NotImplementedError(f"the {self.name!r} activation cannot rescale its codes.")


@dataclass(frozen=True)
class Activation(CodeActivation):
    """A named elementwise activation ``h = fn(z)``.

    Attributes
    ----------
    name : str
    fn : callable, tensor -> tensor of the same shape.
    output_range : (low, high) or None
    derivative : callable or None
        ``f'(z)`` as a function of ``h = f(z)``, or ``None``.
    init_gain : float
    inverse_fn : callable or None
        ``y -> z`` with ``fn(z) ≈ y``, for :meth:`inverse`; ``None`` when there is none.
    """

    name: str = field()  # required: field() keeps the base class's value from becoming a default
    fn: Callable[[torch.Tensor], torch.Tensor] = field()
    output_range: tuple[float, float] | None = None
    derivative: Callable[[torch.Tensor], torch.Tensor] | None = None
    init_gain: float = 1.0
    inverse_fn: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)

    def inverse(self, y: torch.Tensor) -> torch.Tensor | None:
        return None if self.inverse_fn is None else self.inverse_fn(y)


def _identity(a: torch.Tensor) -> torch.Tensor:
    return a


def _sigmoid_slope(h: torch.Tensor) -> torch.Tensor:
    return h * (1.0 - h)


def _tanh_slope(h: torch.Tensor) -> torch.Tensor:
    return 1.0 - h * h


def _linear_slope(h: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(h)


def _relu_slope(h: torch.Tensor) -> torch.Tensor:
    return (h > 0).to(h.dtype)


def _logit(y: torch.Tensor) -> torch.Tensor:
    """The sigmoid's inverse, of ``y`` clipped to [0.001, 0.999] (a finite output bias for 0 and 1)."""
    return torch.logit(y.clamp(1e-3, 1 - 1e-3))


_INF = math.inf
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", torch.sigmoid, (0.0, 1.0), _sigmoid_slope, 4.0, _logit),
    "tanh": Activation("tanh", torch.tanh, (-1.0, 1.0), _tanh_slope, 1.0),
    "relu": Activation("relu", F.relu, (0.0, _INF), _relu_slope, math.sqrt(2.0)),
    "linear": Activation("linear", _identity, (-_INF, _INF), _linear_slope, 1.0, _identity),
    "identity": Activation("identity", _identity, (-_INF, _INF), _linear_slope, 1.0, _identity),
    "softplus": Activation("softplus", F.softplus, (0.0, _INF), None, 1.0),
    "leaky_relu": Activation("leaky_relu", F.leaky_relu, (-_INF, _INF), None, math.sqrt(2.0)),
    "elu": Activation("elu", F.elu, (-1.0, _INF), None, math.sqrt(2.0)),
    "selu": Activation("selu", F.selu, (-1.7581, _INF), None, 1.0),
    "gelu": Activation("gelu", F.gelu, (-0.17, _INF), None, math.sqrt(2.0)),
    "silu": Activation("silu", F.silu, (-0.279, _INF), None, math.sqrt(2.0)),
    "softsign": Activation("softsign", F.softsign, (-1.0, 1.0), None, 1.0),
}

# torch's own functions passed as callables are recognised as the named activation.
_KNOWN_CALLABLES = {
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.relu: "relu",
    F.relu: "relu",
}


def get_activation(spec) -> CodeActivation:
    """Resolve a name or callable to a :class:`CodeActivation`.

    Names resolve to their :class:`Activation`; a function that torch defines
    (``torch.sigmoid``...) to its named entry; a :class:`CodeActivation` is
    returned unchanged; any other callable (a function, an ``nn.Module``) is
    wrapped in an :class:`Activation` with its declared ``output_range``
    (attribute, optional) and no closed-form derivative.

    Raises
    ------
    ValueError
        For an unknown name, listing the valid ones.
    """
    if isinstance(spec, CodeActivation):
        return spec
    if callable(spec) and not isinstance(spec, str):
        known = _KNOWN_CALLABLES.get(spec) if _hashable(spec) else None
        if known is not None:
            return ACTIVATIONS[known]
        name = getattr(spec, "__name__", type(spec).__name__)
        return Activation(name, spec, getattr(spec, "output_range", None))
    return resolve_option("activation", spec, ACTIVATIONS)


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True

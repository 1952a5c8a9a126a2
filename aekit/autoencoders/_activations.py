"""Activation functions by name or callable, with what the regularizers need to know.

Each name resolves once, through :data:`ACTIVATIONS`, to an :class:`Activation`:
the function, its output range (the KL sparsity penalty needs outputs inside
(0, 1)), its derivative written as a function of its *output* ``h = f(a)`` where
that exists (the closed-form contractive penalty needs ``f'(a)``), and the gain
of the uniform weight initialization that suits it.

A callable passes through (wrapped without a range or derivative, so the
contractive penalty takes the exact Jacobian path and KL sparsity refuses it);
a callable may declare ``output_range = (low, high)`` to allow KL sparsity. A
:class:`torch.nn.Module` activation (for example :class:`aekit.autoencoders.TopK`)
is used as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aekit._validation import resolve_option

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "output_range", "derivative_from_output"]


@dataclass(frozen=True)
class Activation:
    """A named elementwise activation ``h = fn(a)``.

    Attributes
    ----------
    name : str
    fn : callable, tensor -> tensor of the same shape.
    output_range : (low, high) or None
        Bounds of ``fn``'s values, ``None`` when unknown.
    derivative : callable or None
        ``f'(a)`` as a function of ``h = f(a)`` (sigmoid: ``h (1 - h)``), or
        ``None`` when ``f'`` is not a function of ``h`` alone.
    init_gain : float
        Multiplier of the Glorot uniform bound ``sqrt(6 / (fan_in + fan_out))``
        (4 for the sigmoid, whose slope at 0 is 1/4).
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    output_range: tuple[float, float] | None = None
    derivative: Callable[[torch.Tensor], torch.Tensor] | None = None
    init_gain: float = 1.0

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        return self.fn(a)


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


_INF = math.inf
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", torch.sigmoid, (0.0, 1.0), _sigmoid_slope, 4.0),
    "tanh": Activation("tanh", torch.tanh, (-1.0, 1.0), _tanh_slope, 1.0),
    "relu": Activation("relu", F.relu, (0.0, _INF), _relu_slope, math.sqrt(2.0)),
    "linear": Activation("linear", _identity, (-_INF, _INF), _linear_slope, 1.0),
    "identity": Activation("identity", _identity, (-_INF, _INF), _linear_slope, 1.0),
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


def get_activation(spec) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resolve a name or callable to an activation callable.

    Names resolve to an :class:`Activation`; a callable that torch defines
    (``torch.sigmoid``...) to its named entry; a :class:`torch.nn.Module`
    or an :class:`Activation` is returned unchanged; any other callable is
    wrapped in an :class:`Activation` with its declared ``output_range``
    (attribute, optional) and no closed-form derivative.

    Raises
    ------
    ValueError
        For an unknown name, listing the valid ones.
    """
    if isinstance(spec, (Activation, nn.Module)):
        return spec
    if callable(spec) and not isinstance(spec, str):
        known = _KNOWN_CALLABLES.get(spec) if _hashable(spec) else None
        if known is not None:
            return ACTIVATIONS[known]
        name = getattr(spec, "__name__", type(spec).__name__)
        return Activation(name, spec, getattr(spec, "output_range", None), None, 1.0)
    return resolve_option("activation", spec, ACTIVATIONS)


def output_range(activation) -> tuple[float, float] | None:
    """Declared ``(low, high)`` bounds of a resolved activation, or ``None`` when unknown."""
    return getattr(activation, "output_range", None)


def derivative_from_output(activation) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``h -> f'(a)`` for a resolved elementwise activation, or ``None`` when there is none."""
    return activation.derivative if isinstance(activation, Activation) else None


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True

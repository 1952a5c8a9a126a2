"""Learning-rate schedules: the factor that multiplies the base learning rate at each epoch.

A schedule is a pure function ``factor(epoch, max_epochs) -> float`` of the
0-based epoch. The trainer sets ``lr = learning_rate * factor(epoch, max_epochs)``
at the start of every epoch, so a schedule holds no state and a resumed run
gets the same rates as an uninterrupted one.

Names (with optional ``:``-separated arguments, as in the CLI):

``"constant"``            1
``"step[:S[:G]]"``        G ** (epoch // S); S defaults to max(1, max_epochs // 3), G to 0.1
``"exponential[:G]"``     G ** epoch; G defaults to 0.95
``"cosine[:M]"``          M + (1 - M) (1 + cos(pi epoch / max_epochs)) / 2; M (the final factor) defaults to 0
``"linear[:M]"``          1 - (1 - M) epoch / max_epochs; M defaults to 0

A callable ``epoch -> factor`` is used as given (the epoch is 0-based).

References: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
Restarts", ICLR 2017 (the cosine schedule).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from aekit._validation import resolve_option

__all__ = ["resolve_schedule", "SCHEDULES"]

Schedule = Callable[[int, int], float]


def constant(epoch: int, max_epochs: int) -> float:
    return 1.0


def step(epoch: int, max_epochs: int, step_size: float | None = None, gamma: float = 0.1) -> float:
    size = max(1, max_epochs // 3) if step_size is None else int(step_size)
    return gamma ** (epoch // size)


def exponential(epoch: int, max_epochs: int, gamma: float = 0.95) -> float:
    return gamma**epoch


def cosine(epoch: int, max_epochs: int, final: float = 0.0) -> float:
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, max_epochs)))


def linear(epoch: int, max_epochs: int, final: float = 0.0) -> float:
    return 1.0 - (1.0 - final) * epoch / max(1, max_epochs)


SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "step": step,
    "exponential": exponential,
    "cosine": cosine,
    "linear": linear,
}

# How many ``:`` arguments each name accepts, with their meaning for error messages.
_ARGS = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("final",),
    "linear": ("final",),
}


def resolve_schedule(spec) -> Schedule:
    """``spec`` (a name with optional ``:`` arguments, or a callable) as ``factor(epoch, max_epochs)``.

    Examples: ``"cosine"``, ``"step:10:0.5"`` (halve every 10 epochs),
    ``"exponential:0.9"``, ``lambda epoch: 1 / (1 + epoch)``.
    """
    if callable(spec) and not isinstance(spec, str):

        def from_callable(epoch: int, max_epochs: int) -> float:
            return float(spec(epoch))

        return from_callable
    if not isinstance(spec, str):
        raise ValueError(
            f"lr_schedule must be a name ({', '.join(map(repr, SCHEDULES))}) or a callable epoch -> factor, "
            f"got {type(spec).__name__}."
        )
    name, *raw = spec.split(":")
    func = resolve_option("lr_schedule", name, SCHEDULES)
    names = _ARGS[name]
    if len(raw) > len(names):
        takes = f"the arguments {':'.join(names)}" if names else "no arguments"
        raise ValueError(f"lr_schedule {spec!r}: {name!r} takes {takes}, got {len(raw)}.")
    try:
        args = [float(a) for a in raw]
    except ValueError:
        raise ValueError(f"lr_schedule {spec!r}: the arguments after {name!r} must be numbers.") from None
    if name == "step" and args and (args[0] < 1 or args[0] != int(args[0])):
        raise ValueError(f"lr_schedule {spec!r}: the step size must be a positive integer number of epochs.")
    if any(a < 0 for a in args):
        raise ValueError(f"lr_schedule {spec!r}: the arguments must be >= 0.")

    def schedule(epoch: int, max_epochs: int) -> float:
        return func(epoch, max_epochs, *args)

    return schedule

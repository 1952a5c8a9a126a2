"""Input corruptions for denoising autoencoders: pure functions on torch tensors.

Each takes a batch ``x`` of shape (n_samples, ...) and returns
``(x_tilde, mask)``: the corrupted copy (``x`` is never modified) and a boolean
tensor of ``x``'s shape that is True where an entry was corrupted. Randomness
comes only from the ``generator`` argument, which must live on ``x``'s device
(``aekit._torch.make_generator(seed, device=x.device)``); ``None`` uses torch's
default generator for that device.

Masking and salt-and-pepper corrupt a *fixed* number ``round(fraction * d)`` of
the ``d`` entries of every sample, chosen uniformly at random and independently
per sample (Vincent et al. 2010, section 4.2), not a Bernoulli number of them.
The subset is the ``k`` largest of ``d`` i.i.d. uniform keys per row
(``torch.topk``), which is exact, vectorized and runs on any device.

References
----------
Vincent, Larochelle, Lajoie, Bengio & Manzagol (2010), Stacked denoising
autoencoders, JMLR 11, 3371-3408.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

__all__ = ["gaussian", "masking", "salt_and_pepper", "make_corruption", "Corruption", "CORRUPTIONS"]


# ---------------------------------------------------------------- helpers
def _as_batch(x) -> torch.Tensor:
    """``x`` viewed as (n_samples, d); a 1-D tensor is one sample."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}; convert with torch.as_tensor.")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}; cast it with x.float().")
    if x.ndim == 0:
        raise ValueError("x must hold at least one sample: got a 0-d tensor.")
    return x.reshape(1, -1) if x.ndim == 1 else x.reshape(x.shape[0], math.prod(x.shape[1:]))


def _check_generator(generator, x: torch.Tensor) -> None:
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"generator lives on {generator.device} but x on {x.device}: create the generator on the data's "
            f"device, e.g. aekit._torch.make_generator(seed, device=x.device)."
        )


def _check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not (0.0 <= fraction < 1.0):
        raise ValueError(f"fraction must be a number in [0, 1), got {fraction!r}.")
    return float(fraction)


def _n_corrupted(fraction: float, d: int) -> int:
    """``round(fraction * d)`` with halves rounded up (not to even)."""
    return min(d, int(math.floor(fraction * d + 0.5)))


def _random_subset(n: int, d: int, k: int, generator, device) -> torch.Tensor:
    """Indices (n, k): for each row, ``k`` distinct columns out of ``d``, uniformly at random."""
    keys = torch.rand((n, d), generator=generator, device=device)
    return keys.topk(k, dim=1, sorted=False).indices


def _chosen_entries(x: torch.Tensor, fraction, generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(flat, idx)``: ``x`` as (n, d), and for each sample ``round(fraction * d)`` distinct random columns.

    ``idx`` (n, k) is None when there is nothing to corrupt (k = 0, or no samples).
    """
    flat = _as_batch(x)
    _check_generator(generator, x)
    n, d = flat.shape
    k = _n_corrupted(_check_fraction(fraction), d)
    return flat, (_random_subset(n, d, k, generator, x.device) if k and n else None)


def _unchanged(x: torch.Tensor):
    return x.clone(), torch.zeros_like(x, dtype=torch.bool)


def _corrupted(flat: torch.Tensor, idx: torch.Tensor, values, x: torch.Tensor):
    """``(x_tilde, mask)`` in ``x``'s shape: the entries ``idx`` (n, k) of ``flat`` (n, d) set to ``values``."""
    mask = torch.zeros(flat.shape, dtype=torch.bool, device=idx.device).scatter_(1, idx, True)
    return flat.scatter(1, idx, values).reshape(x.shape), mask.reshape(x.shape)


# ---------------------------------------------------------------- corruptions
def gaussian(x: torch.Tensor, std: float, *, generator: torch.Generator | None = None):
    """Additive isotropic Gaussian noise: ``x_tilde = x + std * eps``, ``eps ~ N(0, I)``.

    Parameters
    ----------
    x : Tensor of shape (n_samples, ...), floating point
    std : float >= 0
        Noise standard deviation, in the units of ``x``.
    generator : torch.Generator on ``x.device`` or None

    Returns
    -------
    x_tilde : Tensor, same shape and dtype as ``x``
    mask : bool Tensor, same shape as ``x``
        All True (every entry is perturbed) when ``std > 0``; all False when ``std == 0``.
    """
    _as_batch(x)
    _check_generator(generator, x)
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or not (0.0 <= std < math.inf):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}.")
    if std == 0:
        return _unchanged(x)
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + float(std) * noise, torch.ones_like(x, dtype=torch.bool)


def masking(x: torch.Tensor, fraction: float, *, generator: torch.Generator | None = None):
    """Masking noise: set ``round(fraction * d)`` randomly chosen entries of each sample to 0.

    ``d`` is the number of entries per sample (``x[0].numel()``); the subset is
    drawn independently for every sample.

    Parameters
    ----------
    x : Tensor of shape (n_samples, ...), floating point
        A 1-D tensor is treated as one sample.
    fraction : float in [0, 1)
    generator : torch.Generator on ``x.device`` or None

    Returns
    -------
    x_tilde : Tensor, same shape and dtype as ``x``
    mask : bool Tensor, same shape as ``x``; exactly ``round(fraction * d)`` True per sample.

    References
    ----------
    Vincent et al. (2010), JMLR 11, section 4.2 ("masking noise").
    """
    flat, idx = _chosen_entries(x, fraction, generator)
    if idx is None:
        return _unchanged(x)
    return _corrupted(flat, idx, 0.0, x)


def salt_and_pepper(
    x: torch.Tensor,
    fraction: float,
    *,
    generator: torch.Generator | None = None,
    low: float | None = None,
    high: float | None = None,
):
    """Salt-and-pepper noise: ``round(fraction * d)`` random entries per sample set to ``low`` or ``high``.

    Each chosen entry becomes ``low`` or ``high`` with probability 1/2,
    independently.

    Parameters
    ----------
    x : Tensor of shape (n_samples, ...), floating point
    fraction : float in [0, 1)
    generator : torch.Generator on ``x.device`` or None
    low, high : float or None
        The "minimum" and "maximum" values. By default the smallest and largest
        value in the batch ``x`` (computed on the device, no host sync); for
        images in [0, 1] that reach both ends (MNIST, digits / 16) this is 0 and 1,
        the values Vincent et al. use. Pass ``low=0.0, high=1.0`` to fix them.

    Returns
    -------
    x_tilde, mask : as :func:`masking` returns them.

    References
    ----------
    Vincent et al. (2010), JMLR 11, section 4.2 ("salt-and-pepper noise").
    """
    if low is not None and high is not None and not low <= high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}.")
    flat, idx = _chosen_entries(x, fraction, generator)
    if idx is None:
        return _unchanged(x)
    lo = flat.amin() if low is None else torch.tensor(float(low), dtype=x.dtype, device=x.device)
    hi = flat.amax() if high is None else torch.tensor(float(high), dtype=x.dtype, device=x.device)
    salt = torch.rand(idx.shape, generator=generator, device=x.device) < 0.5
    return _corrupted(flat, idx, torch.where(salt, hi, lo).to(x.dtype), x)


def _none(x: torch.Tensor, level=None, *, generator=None):
    _as_batch(x)
    return _unchanged(x)


CORRUPTIONS = {
    "gaussian": gaussian,
    "masking": masking,
    "salt_and_pepper": salt_and_pepper,
    "none": _none,
}
_ALIASES = {"salt-and-pepper": "salt_and_pepper", "salt_pepper": "salt_and_pepper", "mask": "masking"}


@dataclass(frozen=True)
class Corruption:
    """A corruption with its level bound: ``Corruption("masking", 0.25)(x, generator)``.

    ``str()`` gives back the spec (``"masking:0.25"``), which is what a model
    saves in its JSON config.
    """

    kind: str
    level: float = 0.0

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        if self.kind == "none":
            return _none(x)
        return CORRUPTIONS[self.kind](x, self.level, generator=generator)

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.level:g}"


def make_corruption(spec) -> Corruption:
    """Build a corruption from a spec string such as ``"masking:0.25"``.

    Parameters
    ----------
    spec : str, Corruption or None
        ``"gaussian:STD"``, ``"masking:FRACTION"``, ``"salt_and_pepper:FRACTION"``
        (also ``"salt-and-pepper:..."``), or ``"none"`` / ``None`` for no corruption.

    Returns
    -------
    Corruption
        A callable ``(x, generator=None) -> (x_tilde, mask)``.
    """
    if isinstance(spec, Corruption):
        return spec
    if spec is None:
        return Corruption("none")
    if not isinstance(spec, str):
        raise TypeError(f"corruption spec must be a string like 'masking:0.25', got {type(spec).__name__}.")
    kind, _, level = spec.strip().partition(":")
    kind = _ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in CORRUPTIONS:
        valid = ", ".join(f"'{k}:LEVEL'" for k in CORRUPTIONS if k != "none")
        raise ValueError(f"Unknown corruption {spec!r}: use one of {valid} or 'none'.")
    if kind == "none":
        if level.strip():
            raise ValueError(f"corruption 'none' takes no level, got {spec!r}.")
        return Corruption("none")
    if not level.strip():
        raise ValueError(f"corruption {spec!r} needs a level, e.g. '{kind}:{'0.3' if kind == 'gaussian' else '0.25'}'.")
    try:
        value = float(level)
    except ValueError:
        raise ValueError(f"corruption level in {spec!r} is not a number.") from None
    if kind == "gaussian":
        if not (0.0 <= value < math.inf):
            raise ValueError(f"gaussian std must be a finite number >= 0, got {spec!r}.")
    else:
        _check_fraction(value)
    return Corruption(kind, value)

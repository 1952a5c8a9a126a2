"""Signals with known hidden structure: an ICA mixture and the SFA driving-force series."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import signal as sps

from aekit._torch import make_numpy_rng
from aekit.datasets._base import Dataset

__all__ = ["make_ica_mixture", "make_sfa_signal", "SOURCE_KINDS"]

# The sources, in the order they are taken: three deterministic waveforms of
# different shapes and frequencies, then two kinds of noise (super- and
# sub-Gaussian). None is Gaussian, so ICA can separate any subset.
SOURCE_KINDS = ("sine", "square", "sawtooth", "laplacian", "uniform")


def _check_int(name, value, low, high=None):
    if not isinstance(value, numbers.Integral) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}.")
    return int(value)


def _source(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "sine":
        return np.sin(2.0 * t)
    if kind == "square":
        return np.sign(np.sin(3.0 * t))
    if kind == "sawtooth":
        return sps.sawtooth(2.0 * np.pi * t)
    if kind == "laplacian":
        return rng.laplace(size=t.shape)
    return rng.uniform(-1.0, 1.0, size=t.shape)


def make_ica_mixture(n_samples=2000, *, n_sources=4, n_features=None, noise=0.0, random_state=0) -> Dataset:
    r"""A linear mixture of known independent, non-Gaussian sources.

    Sources (columns of ``S``, in this order, each centred and scaled to unit
    variance), with :math:`t` evenly spaced on [0, 8]: :math:`\sin 2t`,
    :math:`\operatorname{sign}\sin 3t` (square), a sawtooth of period 1,
    Laplacian noise and uniform noise. The observations are
    :math:`X = S A^\top (+\ \text{noise} \cdot N(0, I))` with a random mixing
    matrix :math:`A` whose entries are standard normal, redrawn until its
    condition number is below 10 so that no source is nearly lost.

    Parameters
    ----------
    n_samples : int
    n_sources : int in [1, 5]
    n_features : int or None
        Number of observed signals (>= n_sources); default ``n_sources``.
    noise : float
        Standard deviation of Gaussian sensor noise.
    random_state : int, numpy Generator or None

    Returns
    -------
    Dataset
        ``X`` (n_samples, n_features); ``y`` = ``t``; ``extras``:
        ``sources`` (n_samples, n_sources), ``mixing`` (n_features, n_sources),
        ``source_kinds`` (list of str), ``t``.

    References
    ----------
    Hyvärinen, A. & Oja, E. (2000). Independent component analysis:
    algorithms and applications. Neural Networks 13, 411-430.
    """
    n_samples = _check_int("n_samples", n_samples, 2)
    n_sources = _check_int("n_sources", n_sources, 1, len(SOURCE_KINDS))
    n_features = n_sources if n_features is None else _check_int("n_features", n_features, n_sources)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")
    rng = make_numpy_rng(random_state)
    t = np.linspace(0.0, 8.0, n_samples)
    kinds = list(SOURCE_KINDS[:n_sources])
    S = np.column_stack([_source(kind, t, rng) for kind in kinds])
    S = (S - S.mean(0)) / S.std(0)
    while True:
        A = rng.standard_normal((n_features, n_sources))
        if np.linalg.cond(A) < 10.0:
            break
    X = S @ A.T
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    return Dataset(
        name="ica-mixture",
        X=X.astype(np.float32),
        y=t,
        description=f"{n_features} linear mixtures of {n_sources} independent sources ({', '.join(kinds)}); "
        "extras hold the true sources and mixing matrix.",
        extras={"sources": S, "mixing": A, "source_kinds": kinds, "t": t},
    )


def make_sfa_signal(n_samples=10000, *, noise=0.0, random_state=0) -> Dataset:
    r"""A logistic-map time series whose parameter follows a slow driving force.

    The standard test signal for estimating driving forces with slow feature
    analysis (Wiskott 2003; the "logistic map" example of the MDP toolkit).
    With time :math:`t_i = i / n` on [0, 1), the driving force is

    .. math:: \gamma(t) = \sin(2\pi\,5t) + \sin(2\pi\,11t) + \sin(2\pi\,13t)

    and the series iterates the logistic map with a slowly varying growth rate

    .. math:: x_{i} = r_i\, x_{i-1} (1 - x_{i-1}), \qquad r_i = 3.6 + 0.13\,\gamma(t_i),

    so :math:`r` stays in about [3.2, 4.0), mostly in the chaotic regime. The
    series itself jumps about quickly; only the statistics of consecutive
    values reveal :math:`\gamma`. A time-delay embedding of a few steps and a
    quadratic expansion make :math:`\gamma` the slowest feature.

    Parameters
    ----------
    n_samples : int
        Length of the series (>= 100).
    noise : float
        Standard deviation of Gaussian noise added to the observed series.
    random_state : int, numpy Generator or None
        Draws the initial value :math:`x_0 \sim U(0.2, 0.8)` (and the noise).

    Returns
    -------
    Dataset
        ``X`` (n_samples, 1) the series; ``y`` = ``t``; ``extras``:
        ``driving_force`` (n_samples,) = :math:`\gamma`, ``growth_rate`` = r, ``t``.

    References
    ----------
    Wiskott, L. (2003). Estimating driving forces of nonstationary time
    series with slow feature analysis. arXiv:cond-mat/0312317.
    """
    n_samples = _check_int("n_samples", n_samples, 100)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")
    rng = make_numpy_rng(random_state)
    t = np.arange(n_samples) / n_samples
    force = sum(np.sin(2.0 * np.pi * f * t) for f in (5.0, 11.0, 13.0))
    rate = 3.6 + 0.13 * force
    x = np.empty(n_samples)
    value = rng.uniform(0.2, 0.8)
    for i in range(n_samples):  # a recurrence: each value needs the previous one
        value = rate[i] * value * (1.0 - value)
        x[i] = value
    if noise > 0:
        x = x + noise * rng.standard_normal(n_samples)
    return Dataset(
        name="sfa-signal",
        X=x[:, None].astype(np.float32),
        y=t,
        description=f"logistic map with a slowly varying growth rate, {n_samples} steps; "
        "extras['driving_force'] is the hidden slow signal.",
        extras={"driving_force": force, "growth_rate": rate, "t": t},
    )

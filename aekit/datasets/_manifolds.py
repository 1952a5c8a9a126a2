"""Synthetic 2-D manifolds in 3-D: the swiss roll and the S-curve (scikit-learn's generators)."""

from __future__ import annotations

import numbers

import numpy as np

from aekit._torch import seed_from
from aekit.datasets._base import Dataset

__all__ = ["make_swiss_roll", "make_s_curve"]


def _sklearn_seed(random_state):
    """scikit-learn's generators take an int or RandomState, not a numpy Generator."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.RandomState)):
        return random_state
    return seed_from(random_state)


def _check(n_samples, noise):
    if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")


def make_swiss_roll(n_samples=2000, *, noise=0.0, hole=False, random_state=0) -> Dataset:
    """Points on a rolled-up rectangle in 3-D.

    With ``t ~ U(1.5 pi, 4.5 pi)`` and ``h ~ U(0, 21)``,
    ``x = (t cos t, h, t sin t) + noise * N(0, I_3)``.

    Parameters
    ----------
    n_samples : int
    noise : float
        Standard deviation of the isotropic Gaussian noise added to each point.
    hole : bool
        Cut a rectangular hole out of the middle of the sheet (a non-convex
        parameter domain, hard for Isomap).
    random_state : int, numpy Generator or None

    Returns
    -------
    Dataset
        ``X`` (n_samples, 3); ``y`` = ``t``, the position along the roll;
        ``extras["intrinsic"]`` (n_samples, 2) = ``(t, h)``, the noise-free
        coordinates on the unrolled sheet.

    References
    ----------
    Tenenbaum, de Silva & Langford (2000), A global geometric framework for
    nonlinear dimensionality reduction, Science 290.
    """
    from sklearn.datasets import make_swiss_roll as _sk

    _check(n_samples, noise)
    seed = _sklearn_seed(random_state)
    if seed is None:
        seed = seed_from(None)
    X, t = _sk(n_samples, noise=noise, random_state=seed, hole=bool(hole))
    X0, _ = _sk(n_samples, noise=0.0, random_state=seed, hole=bool(hole))
    return Dataset(
        name="swiss-roll",
        X=X.astype(np.float32),
        y=t.astype(np.float64),
        description=f"Swiss roll, {n_samples} points in 3-D (noise={noise}{', with hole' if hole else ''}); "
        "y is the position along the roll.",
        extras={"intrinsic": np.column_stack([t, X0[:, 1]])},
    )


def make_s_curve(n_samples=2000, *, noise=0.0, random_state=0) -> Dataset:
    """Points on an S-shaped sheet in 3-D.

    With ``t ~ U(-1.5 pi, 1.5 pi)`` and ``h ~ U(0, 2)``,
    ``x = (sin t, h, sign(t) (cos t - 1)) + noise * N(0, I_3)``.

    Returns
    -------
    Dataset
        ``X`` (n_samples, 3); ``y`` = ``t``, the position along the S;
        ``extras["intrinsic"]`` (n_samples, 2) = ``(t, h)``.

    References
    ----------
    Saul & Roweis (2003), Think globally, fit locally: unsupervised learning of
    low dimensional manifolds, JMLR 4.
    """
    from sklearn.datasets import make_s_curve as _sk

    _check(n_samples, noise)
    seed = _sklearn_seed(random_state)
    if seed is None:
        seed = seed_from(None)
    X, t = _sk(n_samples, noise=noise, random_state=seed)
    X0, _ = _sk(n_samples, noise=0.0, random_state=seed)
    return Dataset(
        name="s-curve",
        X=X.astype(np.float32),
        y=t.astype(np.float64),
        description=f"S-curve, {n_samples} points in 3-D (noise={noise}); y is the position along the S.",
        extras={"intrinsic": np.column_stack([t, X0[:, 1]])},
    )

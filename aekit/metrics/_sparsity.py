"""Sparsity of hidden activations: how rarely each unit fires, how few units fire per input.

For a vector of responses ``r = (r_1, ..., r_N)`` (magnitudes ``|r_i|`` are
used, so negative activations count as activity) the Treves-Rolls activity
ratio and its normalized sparseness (Vinje & Gallant 2000) are

    a(r) = ((1/N) sum_i |r_i|)^2 / ((1/N) sum_i r_i^2)          in [1/N, 1]
    S(r) = (1 - a(r)) / (1 - 1/N)                              in [0, 1]

``S = 0`` when all responses are equal (dense), ``S = 1`` when exactly one is
non-zero (as sparse as possible). ``S`` is undefined (NaN here) for an all-zero
vector or ``N = 1``.

* **lifetime sparsity** of unit ``j``: ``S`` of its responses over the samples
  (``r = H[:, j]``, ``N = n_samples``): how selective the unit is.
* **population sparsity** of sample ``i``: ``S`` of the code ``r = H[i, :]``
  (``N = n_units``): how few units describe that input.

References
----------
Treves & Rolls (1991), What determines the capacity of autoassociative
memories in the brain?, Network 2. Vinje & Gallant (2000), Sparse coding and
decorrelation in primary visual cortex during natural vision, Science 287.
Willmore & Tolhurst (2001), Characterizing the sparseness of neural codes,
Network 12 (lifetime versus population sparseness).
"""

from __future__ import annotations

import numbers

import numpy as np

from aekit.metrics._reconstruction import as_float_array

__all__ = ["sparsity_stats", "treves_rolls_sparseness", "kurtosis"]


def treves_rolls_sparseness(H, axis=0) -> np.ndarray:
    """Normalized Treves-Rolls sparseness ``S`` of ``H`` along ``axis`` (see the module docstring).

    ``axis=0`` gives one value per column (lifetime sparsity of each unit when
    ``H`` is (n_samples, n_units)); ``axis=1`` one value per row (population
    sparsity of each sample). Entries with an all-zero vector, or vectors of
    length 1, are NaN.
    """
    A = np.abs(np.asarray(H, dtype=np.float64))
    N = A.shape[axis]
    m1 = A.mean(axis=axis)
    m2 = (A * A).mean(axis=axis)
    out = np.full(m1.shape, np.nan)
    if N < 2:
        return out
    ok = m2 > 0
    out[ok] = (1.0 - m1[ok] ** 2 / m2[ok]) / (1.0 - 1.0 / N)
    return np.clip(out, 0.0, 1.0, where=ok, out=out)


def kurtosis(values) -> float:
    """``E[(X - mu)^4] / (E[(X - mu)^2])^2`` over every entry of ``values`` (3 for a Gaussian).

    The plain (not excess) kurtosis of the lecture; NaN when all entries are equal.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    d = v - v.mean()
    m2 = np.mean(d * d)
    if m2 == 0:
        return float("nan")
    return float(np.mean(d**4) / m2**2)


def _nanmean(a: np.ndarray) -> float:
    ok = ~np.isnan(a)
    return float(a[ok].mean()) if ok.any() else float("nan")


def sparsity_stats(H, *, threshold=1e-3) -> dict:
    """Sparsity statistics of a matrix of hidden activations.

    Parameters
    ----------
    H : array of shape (n_samples, n_units)
        Activations (codes) of ``n_units`` hidden units on ``n_samples`` inputs.
    threshold : float >= 0
        A unit is *active* on an input when ``|h| > threshold``; it is *dead*
        when it is never active on any input (sigmoid units saturated off sit
        near 1e-5, ReLU units at exactly 0).

    Returns
    -------
    dict with keys
        ``mean_activation`` : ndarray (n_units,)
            ``rho_hat_j = (1/n) sum_i h_ij``, the quantity a KL sparsity penalty
            pushes towards ``rho_0``.
        ``lifetime_sparsity`` : ndarray (n_units,)
            Normalized Treves-Rolls sparseness of each unit over the samples (NaN for dead-at-zero units).
        ``population_sparsity`` : ndarray (n_samples,)
            Normalized Treves-Rolls sparseness of each code over the units.
        ``mean_lifetime_sparsity``, ``mean_population_sparsity`` : float
            Their means, ignoring NaN entries.
        ``dead_units`` : bool ndarray (n_units,); ``dead_fraction`` : float
            Units never active above ``threshold``, and their fraction.
        ``active_fraction`` : float
            Fraction of all entries with ``|h| > threshold``.
        ``kurtosis`` : float
            ``E[(h - mu)^4] / (E[(h - mu)^2])^2`` over all activations of the
            layer pooled together (the lecture's definition; high means sparse).

    References
    ----------
    Willmore & Tolhurst (2001), Network 12; Vinje & Gallant (2000), Science 287.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold < np.inf:
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}.")
    H = as_float_array(H, "H")
    if H.ndim != 2:
        raise ValueError(f"H must be 2-D (n_samples, n_units), got shape {H.shape}.")
    active = np.abs(H) > threshold
    dead = ~active.any(axis=0)
    lifetime = treves_rolls_sparseness(H, axis=0)
    population = treves_rolls_sparseness(H, axis=1)
    return {
        "mean_activation": H.mean(axis=0),
        "lifetime_sparsity": lifetime,
        "population_sparsity": population,
        "mean_lifetime_sparsity": _nanmean(lifetime),
        "mean_population_sparsity": _nanmean(population),
        "dead_units": dead,
        "dead_fraction": float(dead.mean()),
        "active_fraction": float(active.mean()),
        "kurtosis": kurtosis(H),
    }

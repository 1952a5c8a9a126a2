"""Reconstruction quality: mean squared error, cross-entropy, PSNR and denoising error.

Every function takes arrays of shape (n_samples, n_features) (numpy arrays or
torch tensors; images may keep trailing axes, (n_samples, ...)) and computes
in float64. The per-entry losses are

    squared error   l_ij = (x_ij - xhat_ij)^2
    cross-entropy   l_ij = -[x_ij log xhat_ij + (1 - x_ij) log(1 - xhat_ij)]

(the Bernoulli negative log-likelihood of a sigmoid decoder, for x in [0, 1],
with ``xhat`` clipped to ``[eps, 1 - eps]``), and ``reduction`` says how they
are summed:

    "mean"   mean over every entry                     (a float)
    "sum"    sum over features, mean over samples      (a float; the per-example
                                                        loss reported in papers)
    "none"   sum over features, one value per sample   (array of shape (n_samples,))
"""

from __future__ import annotations

import numpy as np

from aekit._validation import resolve_option

__all__ = ["reconstruction_error", "psnr", "denoising_error"]

_REDUCTIONS = ("mean", "sum", "none")


def as_float_array(A, name: str, *, min_ndim: int = 2) -> np.ndarray:
    """``A`` (array-like or tensor) as float64 numpy, with clear errors for bad shapes and values."""
    if hasattr(A, "detach") and hasattr(A, "cpu"):  # torch tensor on any device
        A = A.detach().cpu().numpy()
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers.") from None
    if A.ndim < min_ndim:
        want = "(n_samples, n_features)" if min_ndim == 2 else f"at least {min_ndim}-D"
        raise ValueError(
            f"{name} must be {want}, got shape {A.shape}; reshape a single sample with x.reshape(1, -1)."
        )
    if A.shape[0] == 0:
        raise ValueError(f"{name} has zero samples.")
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return A


def _pair(X, X_hat, names=("X", "X_hat")) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array(X, names[0])
    X_hat = as_float_array(X_hat, names[1])
    if X.shape != X_hat.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {X.shape} and {X_hat.shape}.")
    return X.reshape(X.shape[0], -1), X_hat.reshape(X.shape[0], -1)


def _squared_error(X, X_hat, eps):
    return (X - X_hat) ** 2


def _cross_entropy(X, X_hat, eps):
    if X.min() < 0 or X.max() > 1:
        raise ValueError(
            f"cross_entropy needs targets in [0, 1], got values in [{X.min():g}, {X.max():g}]; "
            "use kind='mse' or scale the data to [0, 1]."
        )
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}.")
    P = np.clip(X_hat, eps, 1.0 - eps)
    return -(X * np.log(P) + (1.0 - X) * np.log1p(-P))


_KINDS = {"mse": _squared_error, "cross_entropy": _cross_entropy}


def _reduce(L: np.ndarray, weights: np.ndarray | None, reduction: str):
    """Reduce per-entry losses (n, d), optionally restricted to entries where ``weights`` is True."""
    if weights is not None:
        L = L * weights
    if reduction == "none":
        return L.sum(axis=1)
    if reduction == "sum":
        return float(L.sum(axis=1).mean())
    count = L.size if weights is None else weights.sum()
    return float(L.sum() / count)


def reconstruction_error(X, X_hat, kind="mse", *, reduction="mean", eps=1e-7):
    """Error between data and its reconstruction.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        The data (targets). For ``kind="cross_entropy"`` in [0, 1].
    X_hat : array of shape (n_samples, n_features)
        The reconstruction (for cross-entropy: probabilities, e.g. sigmoid outputs).
    kind : {"mse", "cross_entropy"}
        ``(x - xhat)^2`` or ``-[x log xhat + (1 - x) log(1 - xhat)]`` per entry.
    reduction : {"mean", "sum", "none"}
        Mean over all entries; sum over features then mean over samples; or
        the per-sample sums (see the module docstring).
    eps : float
        Cross-entropy clips ``xhat`` to ``[eps, 1 - eps]`` so that a confident
        wrong pixel costs ``-log(eps)`` (16.1 for 1e-7) instead of infinity.

    Returns
    -------
    float, or ndarray of shape (n_samples,) for ``reduction="none"``
    """
    loss = resolve_option("kind", kind, _KINDS)
    resolve_option("reduction", reduction, dict.fromkeys(_REDUCTIONS))
    X, X_hat = _pair(X, X_hat)
    return _reduce(loss(X, X_hat, eps), None, reduction)


def psnr(X, X_hat, data_range=1.0) -> float:
    """Peak signal-to-noise ratio in decibels: ``10 log10(data_range^2 / MSE)``.

    ``MSE`` is the mean squared error over every entry of the batch (as in
    :func:`skimage.metrics.peak_signal_noise_ratio`). A perfect reconstruction
    gives ``inf``.

    Parameters
    ----------
    X, X_hat : arrays of shape (n_samples, n_features)
    data_range : float > 0
        Largest possible value minus smallest (1.0 for images in [0, 1], 255 for uint8).
    """
    if isinstance(data_range, bool) or not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive number, got {data_range!r}.")
    X, X_hat = _pair(X, X_hat)
    mse = float(np.mean((X - X_hat) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(data_range) ** 2 / mse))


def denoising_error(X_clean, X_hat, *, kind="mse", reduction="mean", mask=None, eps=1e-7):
    """Error of a denoiser: the clean data against the reconstruction of its corrupted version.

    ``X_hat = g(f(corrupt(X_clean)))``: the target is the *clean* input, not
    the corrupted one the model saw (Vincent et al. 2010, eq. 5).

    Parameters
    ----------
    X_clean : array of shape (n_samples, n_features)
    X_hat : array of shape (n_samples, n_features)
        Reconstruction of the corrupted input.
    kind, reduction, eps
        As in :func:`reconstruction_error`.
    mask : bool array of shape (n_samples, n_features) or None
        The corruption mask (True where an entry was corrupted). When given,
        only the corrupted entries count: ``"mean"`` averages over them,
        ``"sum"`` / ``"none"`` sum over each sample's corrupted entries (how
        well the model *fills in* what was destroyed).

    Returns
    -------
    float, or ndarray of shape (n_samples,) for ``reduction="none"``

    References
    ----------
    Vincent, Larochelle, Lajoie, Bengio & Manzagol (2010), Stacked denoising
    autoencoders, JMLR 11.
    """
    loss = resolve_option("kind", kind, _KINDS)
    resolve_option("reduction", reduction, dict.fromkeys(_REDUCTIONS))
    X, X_hat = _pair(X_clean, X_hat, ("X_clean", "X_hat"))
    weights = None
    if mask is not None:
        if hasattr(mask, "detach"):
            mask = mask.detach().cpu().numpy()
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise ValueError(f"mask must be a boolean array, got dtype {mask.dtype}.")
        if mask.size != X.size or mask.shape[0] != X.shape[0]:
            raise ValueError(f"mask must have the shape of X_clean, got {mask.shape}.")
        weights = mask.reshape(X.shape)
        if reduction == "mean" and not weights.any():
            raise ValueError("mask selects no entries: nothing was corrupted, so there is no denoising error to average.")
    return _reduce(loss(X, X_hat, eps), weights, reduction)

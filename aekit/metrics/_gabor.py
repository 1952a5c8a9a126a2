"""How edge-like learned filters are: the R² of a 2-D Gabor function fitted to each filter.

A Gabor function is a plane wave under a Gaussian envelope, the receptive
field of a V1 simple cell and what a sparse autoencoder learns from natural
image patches (Olshausen & Field 1996; the UFLDL sparse autoencoder exercise).
With pixel coordinates ``(x, y)`` = (column, row),

    x' =  (x − x₀) cos θ + (y − y₀) sin θ
    y' = −(x − x₀) sin θ + (y − y₀) cos θ
    g(x, y) = A exp(−x'²/(2σₓ²) − y'²/(2σ_y²)) cos(2π f x' + φ) + c

with the nine parameters ``p = (A, x₀, y₀, θ, σₓ, σ_y, f, φ, c)`` (f in cycles
per pixel, at most the Nyquist frequency 0.5). Each filter ``w`` is fitted by
nonlinear least squares (:func:`scipy.optimize.least_squares`, trust-region
reflective with bounds) from several starts, and its fit is scored by

    R² = 1 − Σ (w − g(p̂))² / Σ (w − mean(w))².

The starts come from the filter itself: the carrier frequency and orientation
from the two strongest peaks of its zero-padded 2-D FFT, the phase from the
FFT coefficient at the peak, the centre and widths from the envelope of the
demodulated filter, each with two widths and two phases (plus the same at the
patch centre). A filter that is a localized oriented edge or bar fits with R²
near 1; unstructured noise fits poorly (about 0.2-0.4 for 8 x 8 noise, the
share of variance nine parameters can catch by chance).

References
----------
Jones & Palmer, "An evaluation of the two-dimensional Gabor filter model of
simple receptive fields in cat striate cortex", J. Neurophysiol. 58 (1987);
Olshausen & Field, Nature 381 (1996); Ng, "Sparse autoencoder", CS294A notes (2011).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.optimize import least_squares

__all__ = ["gabor_function", "fit_gabor", "gabor_r2"]

_GOOD_ENOUGH = 1e-3  # stop trying starts once 1 − R² is below this
_COARSE_TOL = 1e-3  # tolerance of the fits from each start (the best is then refined to 1e-8)
PARAMETERS = ("amplitude", "x0", "y0", "theta", "sigma_x", "sigma_y", "frequency", "phase", "offset")


def gabor_function(params, shape) -> np.ndarray:
    """The Gabor function with ``params = (A, x₀, y₀, θ, σₓ, σ_y, f, φ, c)`` on a ``shape = (rows, cols)`` grid."""
    A, x0, y0, theta, sx, sy, f, phi, c = (float(v) for v in params)
    rows, cols = shape
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    return _gabor(np.array([A, x0, y0, theta, sx, sy, f, phi, c]), x, y)


def _gabor(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    A, x0, y0, theta, sx, sy, f, phi, c = p
    ct, st = np.cos(theta), np.sin(theta)
    xr = (x - x0) * ct + (y - y0) * st
    yr = -(x - x0) * st + (y - y0) * ct
    return A * np.exp(-0.5 * (xr * xr / (sx * sx) + yr * yr / (sy * sy))) * np.cos(2 * np.pi * f * xr + phi) + c


def _gabor_jacobian(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂g/∂p at every pixel: (n_pixels, 9), in the order of ``PARAMETERS``."""
    A, x0, y0, theta, sx, sy, f, phi, c = p
    ct, st = np.cos(theta), np.sin(theta)
    xr = (x - x0) * ct + (y - y0) * st
    yr = -(x - x0) * st + (y - y0) * ct
    E = np.exp(-0.5 * (xr * xr / (sx * sx) + yr * yr / (sy * sy)))
    arg = 2 * np.pi * f * xr + phi
    C, S = np.cos(arg), np.sin(arg)
    d_xr = A * E * (-xr / (sx * sx) * C - 2 * np.pi * f * S)  # ∂g/∂x'
    d_yr = A * E * C * (-yr / (sy * sy))  # ∂g/∂y'
    J = [
        E * C,
        -ct * d_xr + st * d_yr,
        -st * d_xr - ct * d_yr,
        yr * d_xr - xr * d_yr,
        A * E * C * xr * xr / sx**3,
        A * E * C * yr * yr / sy**3,
        -A * E * S * 2 * np.pi * xr,
        -A * E * S,
        np.ones_like(x),
    ]
    return np.stack([j.ravel() for j in J], axis=1)


def _starts(w: np.ndarray) -> list[np.ndarray]:
    """Initial parameter vectors for one filter ``w`` (rows, cols), from its FFT peaks and envelope."""
    rows, cols = w.shape
    size = max(rows, cols)
    d = w - w.mean()
    amp = float(np.abs(d).max()) or 1.0
    pad = max(32, 4 * size)
    F = np.fft.fft2(d, s=(pad, pad))
    power = np.abs(F) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(pad), np.fft.fftfreq(pad), indexing="ij")
    half = (fx > 0) | ((fx == 0) & (fy > 0))  # one of each ± pair of frequencies; excludes DC
    power = np.where(half, power, -np.inf)
    peaks = []
    for flat in np.argsort(power, axis=None)[::-1]:
        i, j = np.unravel_index(flat, power.shape)
        k = np.array([fx[i, j], fy[i, j]])
        if all(np.hypot(*(k - q)) > 1.0 / size for q, _ in peaks):
            peaks.append((k, F[i, j]))
        if len(peaks) == 2:
            break
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    starts = []
    for k, coef in peaks:
        f = float(np.hypot(*k))
        theta = float(np.arctan2(k[1], k[0]))
        demod = d * np.exp(-2j * np.pi * (k[0] * x + k[1] * y))  # the carrier moved to DC
        env = np.abs(gaussian_filter(demod.real, 1.0) + 1j * gaussian_filter(demod.imag, 1.0))
        weight = env**2 / max(float((env**2).sum()), 1e-300)
        cx, cy = float((weight * x).sum()), float((weight * y).sum())
        spread = float(np.sqrt((weight * ((x - cx) ** 2 + (y - cy) ** 2)).sum() / 2)) or size / 4
        for x0, y0 in ((cx, cy), ((cols - 1) / 2, (rows - 1) / 2)):
            phi = float(np.angle(coef) + 2 * np.pi * (k[0] * x0 + k[1] * y0))
            for scale in (1.0, 0.6):
                sigma = float(np.clip(spread * scale, 0.5, size))
                for dphi in (0.0, np.pi / 2):
                    starts.append(np.array([amp, x0, y0, theta, sigma, sigma, f, phi + dphi, 0.0]))
    return starts


def _fit_one(w: np.ndarray, max_nfev: int) -> tuple[np.ndarray, float]:
    rows, cols = w.shape
    size = max(rows, cols)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    target = w.ravel()
    total = float(((target - target.mean()) ** 2).sum())
    if not total > 1e-12 * float((target**2).sum()):  # constant (up to rounding): R² undefined
        return np.full(len(PARAMETERS), np.nan), float("nan")
    lower = np.array([-np.inf, -0.5 * cols, -0.5 * rows, -np.inf, 0.3, 0.3, 0.0, -np.inf, -np.inf])
    upper = np.array([np.inf, 1.5 * cols, 1.5 * rows, np.inf, 2.0 * size, 2.0 * size, 0.5, np.inf, np.inf])

    def residual(p):
        return _gabor(p, x, y).ravel() - target

    def jacobian(p):
        return _gabor_jacobian(p, x, y)

    def solve(p0, tol):
        return least_squares(
            residual, p0, jac=jacobian, bounds=(lower, upper), method="trf", max_nfev=max_nfev, ftol=tol, xtol=tol, gtol=tol
        )

    best = None
    for p0 in _starts(w):  # coarse fits from every start, the best one polished
        res = solve(np.clip(p0, lower + 1e-9 * np.isfinite(lower), upper - 1e-9 * np.isfinite(upper)), _COARSE_TOL)
        if best is None or res.cost < best.cost:
            best = res
        if 2.0 * best.cost < _GOOD_ENOUGH * total:  # R² > 0.999: no start can do much better
            break
    final = solve(best.x, 1e-8)
    best = final if final.cost < best.cost else best
    return best.x, 1.0 - 2.0 * best.cost / total


def _as_filters(filters, image_shape) -> np.ndarray:
    W = np.asarray(filters, dtype=np.float64)
    if W.ndim == 3:
        if image_shape is not None and tuple(image_shape) != W.shape[1:]:
            raise ValueError(f"filters have shape {W.shape[1:]} but image_shape={tuple(image_shape)}.")
        return W
    if W.ndim != 2:
        raise ValueError(
            f"filters must be (n_filters, n_pixels) with image_shape, or (n_filters, rows, cols); got shape {W.shape}."
        )
    if image_shape is None:
        side = int(round(np.sqrt(W.shape[1])))
        if side * side != W.shape[1]:
            raise ValueError(
                f"filters have {W.shape[1]} pixels, not a square number; pass image_shape=(rows, cols)."
            )
        image_shape = (side, side)
    rows, cols = (int(s) for s in image_shape)
    if rows * cols != W.shape[1]:
        raise ValueError(f"image_shape={tuple(image_shape)} has {rows * cols} pixels, the filters have {W.shape[1]}.")
    return W.reshape(W.shape[0], rows, cols)


def fit_gabor(filters, image_shape=None, *, max_nfev=200) -> dict:
    """Fit a 2-D Gabor function to every filter by multi-start nonlinear least squares.

    Parameters
    ----------
    filters : array of shape (n_filters, rows * cols) or (n_filters, rows, cols)
        E.g. the first-layer weights ``W`` (n_hidden, n_features) of an autoencoder.
    image_shape : (rows, cols) or None
        Needed for flat filters unless they are square.
    max_nfev : int
        Function evaluations per start.

    Returns
    -------
    dict with
        ``r2`` : ndarray (n_filters,)
            ``1 − SS_res / SS_tot`` of each fit (NaN for a constant filter).
        ``params`` : ndarray (n_filters, 9)
            The fitted ``(A, x₀, y₀, θ, σₓ, σ_y, f, φ, c)`` (see the module docstring).
        ``param_names`` : tuple of str
        ``median_r2`` : float
            The median over the filters (NaNs ignored): the UFLDL-patches score.
    """
    if isinstance(max_nfev, bool) or not isinstance(max_nfev, numbers.Integral) or max_nfev < 1:
        raise ValueError(f"max_nfev must be a positive integer, got {max_nfev!r}.")
    W = _as_filters(filters, image_shape)
    if W.shape[0] == 0:
        raise ValueError("filters holds zero filters.")
    if not np.isfinite(W).all():
        raise ValueError("filters contain NaN or infinity.")
    params = np.empty((W.shape[0], len(PARAMETERS)))
    r2 = np.empty(W.shape[0])
    for i, w in enumerate(W):
        params[i], r2[i] = _fit_one(w, int(max_nfev))
    ok = ~np.isnan(r2)
    return {
        "r2": r2,
        "params": params,
        "param_names": PARAMETERS,
        "median_r2": float(np.median(r2[ok])) if ok.any() else float("nan"),
    }


def gabor_r2(filters, image_shape=None, *, max_nfev=200) -> np.ndarray:
    """R² (n_filters,) of the best 2-D Gabor fit to each filter; see :func:`fit_gabor`."""
    return fit_gabor(filters, image_shape, max_nfev=max_nfev)["r2"]

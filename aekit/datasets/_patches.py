"""Natural image patches from the two photographs scikit-learn ships (the UFLDL sparse-autoencoder setting).

Pipeline, for ``n`` square patches of side ``s`` (``d = s * s`` pixels):

1. the photographs (``china.jpg``, ``flower.jpg``, 427 x 640) in grayscale,
   ``g = (0.299 R + 0.587 G + 0.114 B) / 255`` (ITU-R BT.601 luma) in [0, 1];
2. ``n`` patches at uniformly random positions (an image, then a top-left corner);
3. each patch's own mean removed (the DC component: brightness carries no edge information);
4. optionally whitened, with the patch covariance ``C = U diag(lambda) U^T``:
   PCA whitening ``z = diag(lambda + eps)^{-1/2} U^T (x - mu)`` or
   ZCA whitening ``z = U diag(lambda + eps)^{-1/2} U^T (x - mu)`` (whitened but
   still looking like image patches), with ``eps = epsilon * mean(lambda)``;
5. truncated to +-3 standard deviations (of all entries together) and mapped
   linearly from [-3 sigma, 3 sigma] to ``scale`` = (0.1, 0.9), so that a
   sigmoid decoder can reach every target.

Steps 3 and 5 are the ``normalizeData`` step of the UFLDL sparse autoencoder exercise.

References
----------
Ng, Sparse autoencoder, CS294A lecture notes (2011), and the UFLDL tutorial
exercise "Sparse Autoencoder". Olshausen & Field (1996), Emergence of
simple-cell receptive field properties by learning a sparse code for natural
images, Nature 381.
"""

from __future__ import annotations

import numbers

import numpy as np

from aekit._torch import make_numpy_rng
from aekit._validation import resolve_option
from aekit.datasets._base import Dataset

__all__ = ["natural_image_patches", "sample_photographs"]

_LUMA = np.array([0.299, 0.587, 0.114])
_WHITEN = {"none": None, "pca": "pca", "zca": "zca"}


def sample_photographs() -> tuple[list[np.ndarray], list[str]]:
    """scikit-learn's sample photographs as grayscale float64 arrays in [0, 1], and their file names."""
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    grays = [(img.astype(np.float64) @ _LUMA) / 255.0 for img in bunch.images]
    names = [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in bunch.filenames]
    return grays, names


def _whitening_matrix(P: np.ndarray, how: str, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, W)`` with whitened patches ``(P - mu) @ W.T``."""
    mu = P.mean(axis=0)
    C = np.cov(P, rowvar=False, bias=True)
    lam, U = np.linalg.eigh(C)
    lam = np.clip(lam, 0.0, None)
    scale = 1.0 / np.sqrt(lam + epsilon * lam.mean())
    W = scale[:, None] * U.T  # PCA whitening: rotate onto the eigenvectors, rescale
    if how == "zca":
        W = U @ W  # ... and rotate back
    return mu, W


def natural_image_patches(
    n_patches=10000, patch_size=8, *, whiten=False, scale=(0.1, 0.9), epsilon=0.1, random_state=0
) -> Dataset:
    """Random grayscale patches of natural photographs, normalized as in the UFLDL exercise.

    Parameters
    ----------
    n_patches : int
    patch_size : int
        Side of the square patches (8 gives 64-pixel patches).
    whiten : bool or {"zca", "pca", "none"}
        Whiten the patches after removing their mean (True means "zca").
    scale : (low, high) or None
        Truncate to +-3 standard deviations and map linearly to [low, high];
        None keeps the zero-mean (optionally whitened) values.
    epsilon : float > 0
        Whitening regularizer, relative to the mean eigenvalue of the patch
        covariance (the DC-free patches have one zero eigenvalue).
    random_state : int, numpy Generator or None

    Returns
    -------
    Dataset
        ``X`` float32 (n_patches, patch_size**2), ``image_shape`` (patch_size, patch_size),
        ``y`` None; ``extras["positions"]`` int (n_patches, 3) = (image index, row, column)
        of each patch's top-left corner, ``extras["images"]`` the photograph names,
        and with whitening ``extras["whitening_mean"]`` (d,) and
        ``extras["whitening_matrix"]`` (d, d).
    """
    if isinstance(n_patches, bool) or not isinstance(n_patches, numbers.Integral) or n_patches < 1:
        raise ValueError(f"n_patches must be a positive integer, got {n_patches!r}.")
    if isinstance(whiten, bool):
        whiten = "zca" if whiten else "none"
    how = resolve_option("whiten", whiten, _WHITEN)
    if not (isinstance(epsilon, numbers.Real) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}.")
    if scale is not None:
        try:
            low, high = (float(v) for v in scale)
        except (TypeError, ValueError):
            raise ValueError(f"scale must be a pair (low, high) or None, got {scale!r}.") from None
        if not low < high:
            raise ValueError(f"scale must satisfy low < high, got {scale!r}.")

    photos, names = sample_photographs()
    limit = min(min(p.shape) for p in photos)
    if isinstance(patch_size, bool) or not isinstance(patch_size, numbers.Integral) or not 2 <= patch_size <= limit:
        raise ValueError(f"patch_size must be an integer between 2 and {limit}, got {patch_size!r}.")
    s = int(patch_size)
    rng = make_numpy_rng(random_state)

    # positions: image chosen in proportion to its number of valid corners, then a corner
    counts = np.array([(p.shape[0] - s + 1) * (p.shape[1] - s + 1) for p in photos])
    which = rng.choice(len(photos), size=n_patches, p=counts / counts.sum())
    rows = np.empty(n_patches, dtype=np.int64)
    cols = np.empty(n_patches, dtype=np.int64)
    P = np.empty((n_patches, s * s))
    for i, photo in enumerate(photos):
        sel = np.flatnonzero(which == i)
        rows[sel] = rng.integers(0, photo.shape[0] - s + 1, size=sel.size)
        cols[sel] = rng.integers(0, photo.shape[1] - s + 1, size=sel.size)
        windows = np.lib.stride_tricks.sliding_window_view(photo, (s, s))  # (H-s+1, W-s+1, s, s)
        P[sel] = windows[rows[sel], cols[sel]].reshape(sel.size, s * s)

    P -= P.mean(axis=1, keepdims=True)  # remove each patch's DC component
    extras = {"positions": np.column_stack([which, rows, cols]), "images": names}
    if how is not None:
        mu, W = _whitening_matrix(P, how, float(epsilon))
        P = (P - mu) @ W.T
        extras.update(whitening_mean=mu, whitening_matrix=W)
    if scale is not None:
        bound = 3.0 * P.std()
        P = np.clip(P, -bound, bound) / bound  # in [-1, 1]
        P = low + (high - low) * (P + 1.0) / 2.0

    desc = (
        f"{n_patches} grayscale {s}x{s} patches of scikit-learn's sample photographs, mean removed per patch"
        + (f", {how.upper()}-whitened" if how else "")
        + (f", truncated to 3 std and scaled to [{low:g}, {high:g}]" if scale is not None else "")
        + "."
    )
    return Dataset(name="patches", X=P.astype(np.float32), y=None, image_shape=(s, s), description=desc, extras=extras)

"""Sparse-autoencoder metrics: functions of inputs, reconstructions and codes that return numbers.

For inputs ``X`` (n, d), reconstructions ``X̂`` and codes ``H`` (n, m) (dense
arrays, tensors or ``scipy.sparse`` matrices):

    l0                      (1/n) Σ_rows #{j : h_j ≠ 0}
    mse                     (1/(n d)) Σ (x − x̂)²
    FVU                     Σ ‖x − x̂‖² / Σ ‖x − mean(x)‖²       (mean over the rows of X)
    explained variance      1 − FVU
    reconstruction cosine   (1/n) Σ_rows <x, x̂> / (‖x‖ ‖x̂‖)
    firing frequency        p_j = (1/n) #{rows : h_j ≠ 0}
    dead latents            p_j = 0 over the window of rows given
    dense latents           p_j > 0.1
    density histogram       counts of log10 p_j in bins (dead latents counted apart)
    CE-loss recovered       1 − (CE_sae − CE_clean) / (CE_zero − CE_clean)

CE-loss recovered compares a language model's next-token cross-entropy with
the activations replaced by their reconstructions (``CE_sae``), left alone
(``CE_clean``) and zero-ablated (``CE_zero``): 1 when the reconstructions
lose nothing, 0 when they are as bad as deleting the layer's output.
Computed in float64.

References
----------
Bricken et al., "Towards Monosemanticity" (2023), feature density
histograms; Gao et al., "Scaling and evaluating sparse autoencoders" (2024),
FVU; Bloom et al., SAELens (2024), CE-loss recovered.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from aekit.metrics._reconstruction import as_float_array

__all__ = [
    "l0",
    "mse",
    "fraction_of_variance_unexplained",
    "explained_variance",
    "reconstruction_cosine",
    "firing_frequency",
    "dead_latents",
    "dense_latents",
    "feature_density_histogram",
    "ce_loss_recovered",
]

DENSE_FREQUENCY = 0.1


def _codes(H) -> sp.csr_matrix | np.ndarray:
    if sp.issparse(H):
        H = sp.csr_matrix(H)
        if H.shape[0] == 0:
            raise ValueError("H has zero samples.")
        return H
    return as_float_array(H, "H")


def _nonzero_counts(H, axis: int) -> np.ndarray:
    H = _codes(H)
    if sp.issparse(H):
        return np.asarray((H != 0).sum(axis=axis)).ravel()
    return (H != 0).sum(axis=axis)


def l0(H) -> float:
    """Mean number of non-zero codes per row of ``H`` (n, m)."""
    counts = _nonzero_counts(H, axis=1)
    return float(counts.mean())


def _pair(X, X_hat):
    X, X_hat = as_float_array(X, "X"), as_float_array(X_hat, "X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}.")
    return X.reshape(X.shape[0], -1), X_hat.reshape(X.shape[0], -1)


def mse(X, X_hat) -> float:
    """Mean squared error over every entry."""
    X, X_hat = _pair(X, X_hat)
    return float(np.mean((X - X_hat) ** 2))


def fraction_of_variance_unexplained(X, X_hat) -> float:
    """``Σ ‖x − x̂‖² / Σ ‖x − mean(x)‖²``; NaN when ``X`` has no variance."""
    X, X_hat = _pair(X, X_hat)
    total = float(((X - X.mean(axis=0)) ** 2).sum())
    return float(((X - X_hat) ** 2).sum()) / total if total > 0 else float("nan")


def explained_variance(X, X_hat) -> float:
    """``1 − FVU``."""
    return 1.0 - fraction_of_variance_unexplained(X, X_hat)


def reconstruction_cosine(X, X_hat) -> float:
    """Mean over rows of the cosine between ``x`` and ``x̂`` (a row of zeros counts as cosine 0)."""
    X, X_hat = _pair(X, X_hat)
    norms = np.linalg.norm(X, axis=1) * np.linalg.norm(X_hat, axis=1)
    dots = (X * X_hat).sum(axis=1)
    return float(np.mean(np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)))


def firing_frequency(H) -> np.ndarray:
    """(m,) fraction of the rows of ``H`` in which each latent is non-zero."""
    H = _codes(H)
    return _nonzero_counts(H, axis=0) / H.shape[0]


def dead_latents(H, window: int | None = None) -> np.ndarray:
    """(m,) bool: latents that are zero on every one of the last ``window`` rows of ``H`` (all rows with None)."""
    H = _codes(H)
    if window is not None:
        if window < 1:
            raise ValueError(f"window must be a positive number of rows, got {window}.")
        H = H[-window:]
    return firing_frequency(H) == 0


def dense_latents(H, threshold: float = DENSE_FREQUENCY) -> np.ndarray:
    """(m,) bool: latents firing on more than ``threshold`` (10 %) of the rows."""
    return firing_frequency(H) > threshold


def feature_density_histogram(H, bins=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Histogram of ``log10`` firing frequencies: ``(counts, bin_edges, n_dead)``.

    ``bins`` defaults to 0.25-wide bins from ``log10(1/n)`` (the rarest
    measurable frequency) to 0; dead latents (frequency 0, log −∞) are
    counted in ``n_dead`` instead.
    """
    H = _codes(H)
    freq = firing_frequency(H)
    alive = freq[freq > 0]
    if bins is None:
        low = np.floor(np.log10(1.0 / H.shape[0]) * 4) / 4
        bins = np.arange(low, 0.25, 0.25)
    counts, edges = np.histogram(np.log10(alive), bins=bins)
    return counts, edges, int((freq == 0).sum())


def ce_loss_recovered(ce_clean: float, ce_reconstructed: float, ce_zero: float) -> float:
    """``1 − (CE_sae − CE_clean) / (CE_zero − CE_clean)`` (see the module docstring).

    Raises ``ValueError`` when ``CE_zero <= CE_clean`` (zero-ablation does not
    hurt, so the ratio means nothing).
    """
    clean, recon, zero = float(ce_clean), float(ce_reconstructed), float(ce_zero)
    if not all(np.isfinite([clean, recon, zero])):
        raise ValueError(f"cross-entropies must be finite, got {clean}, {recon}, {zero}.")
    if zero <= clean:
        raise ValueError(
            f"ce_zero ({zero}) must exceed ce_clean ({clean}): zero-ablating the layer has to hurt for "
            "the recovered fraction to mean anything."
        )
    return 1.0 - (recon - clean) / (zero - clean)

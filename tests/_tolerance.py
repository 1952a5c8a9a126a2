"""Test tolerances from the dtype's unit roundoff and the problem's size and scale, not from one CPU.

A sum or dot product of n terms computed in floating point is within gamma_n * sum|terms| of the exact
value, gamma_n = n u / (1 - n u) ~ n u, with u the unit roundoff (half the machine epsilon: 2**-24 for
float32, 2**-53 for float64, 2**-8 for bfloat16; Higham, "Accuracy and Stability of Numerical
Algorithms", 2nd ed., sections 2.1 and 3.1). That worst case holds for any order of summation, so it
covers what differs between CPUs (AMX or AVX-512 kernels, the BLAS's blocking) and thread counts. A
test compares two computations of the same quantity: each is within the bound of the exact value, so
they are within twice the bound of each other, and ``rounding_bound`` includes that factor.

Iterative solvers (eigensolvers, optimizers stopping on a tolerance) and the peers' own choices are not
covered by this: their tests state the solver's tolerance or the conditioning (eigengap) they rely on.
"""

from __future__ import annotations

import numpy as np
import torch


def unit_roundoff(dtype) -> float:
    """u = eps / 2 of a NumPy or torch floating dtype: 2**-24 float32, 2**-53 float64, 2**-8 bfloat16."""
    if isinstance(dtype, torch.dtype):
        return torch.finfo(dtype).eps / 2
    return float(np.finfo(np.dtype(dtype)).eps) / 2


def rounding_bound(dtype, n_terms: int, scale: float = 1.0) -> float:
    """How far two computations of a length-``n_terms`` sum of magnitude ``scale`` may differ: 2 n u scale.

    ``scale`` is the sum of the terms' absolute values (or a bound on it, e.g. ``n * max|a| * max|b|`` /
    ``n`` for a dot product, which is what the caller knows); chained operations add their bounds.
    """
    return 2.0 * n_terms * unit_roundoff(dtype) * scale


def forward_bound(dtype, x, layers) -> np.ndarray:
    """Per-entry bound (n, n_out) on how far two computations of an MLP's output for inputs ``x`` may differ.

    ``layers``: (W (n_out, n_in), b (n_out,), activation) in order, the activation an elementwise torch
    function with Lipschitz constant <= 1 (sigmoid, tanh, ReLU, identity). Each affine map adds
    gamma_{n_in + 2} (|W| |a| + |b|) to the error it receives through |W| (Higham, section 3.5), the
    activation passes it on and adds 4 u |h| of its own; the result is doubled (two computations).
    """
    u = unit_roundoff(dtype)
    a = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    a = a[None] if a.ndim == 1 else a
    e = torch.zeros_like(a)
    with torch.no_grad():
        for W, b, activation in layers:
            W, b = torch.as_tensor(W).double(), torch.as_tensor(b).double()
            gamma = (W.shape[1] + 2) * u / (1 - (W.shape[1] + 2) * u)
            e = e @ W.abs().T + gamma * (a.abs() @ W.abs().T + b.abs())
            a = activation(a @ W.T + b)
            e = e + 4 * u * a.abs()
    return 2 * e.numpy()


def encoder_layers(module) -> list:
    """An AutoencoderModule's encoder as ``forward_bound`` layers (elementwise code activations only)."""
    n = len(module.encoder_weights)
    return [(module.encoder_weights[i].detach(), module.encoder_biases[i].detach(),
             module.f_code if i == n - 1 else module.f_hidden) for i in range(n)]


def decoder_layers(module) -> list:
    """An AutoencoderModule's decoder as ``forward_bound`` layers."""
    n = len(module.decoder_biases)
    return [(module.decoder_weight(i).detach(), module.decoder_biases[i].detach(),
             module.f_out if i == n - 1 else module.f_hidden) for i in range(n)]


def subspace_disparity_bound(dtype, n: int, eigenvalues, n_components: int) -> float:
    """Procrustes disparity two computations of an embedding by the top ``n_components`` eigenpairs of a
    symmetric (n, n) matrix with spectrum ``eigenvalues`` may show from rounding alone.

    Rounding the matrix and the eigensolver's backward error perturb it by at most E = n u |lambda|_max;
    each eigenvector then turns by sin(theta) <= E / gap (Davis-Kahan), gap being the distance of its
    eigenvalue to the rest of the spectrum, and each scale sqrt(lambda) moves by E / lambda relatively.
    The disparity is quadratic in those (two computations: twice each), plus the 64 u that computing
    ``1 - (sum of singular values)^2`` costs even for identical shapes.
    """
    u = unit_roundoff(dtype)
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    E = n * u * np.abs(lam).max()
    k = n_components
    gaps = [min(lam[i - 1] - lam[i] if i > 0 else np.inf, lam[i] - lam[i + 1]) for i in range(k)]
    delta = 2 * E * sum(1 / g + 1 / abs(lam[i]) for i, g in enumerate(gaps))
    return delta**2 + 64 * u

"""Synthetic activations with a known sparse dictionary, for sparse-autoencoder tests and benchmarks.

::

    x = b + Σ_{j ∈ S(x)} a_j d_j + σ ε        |S(x)| = k, atoms d_j unit vectors, a_j > 0, ε ~ N(0, I / d)

The ``n_atoms`` atoms are random unit vectors in ``d`` dimensions; each row
switches on ``k`` of them, drawn with Zipf-like frequencies (a few atoms are
common, most rare, as features of language models are), with magnitudes
``a ~ 1 + Exp(1)``; ``b`` is a common offset (activations are not centred).
"""

from __future__ import annotations

import numpy as np

from aekit._torch import make_numpy_rng

__all__ = ["make_sparse_dictionary_data"]


def make_sparse_dictionary_data(n_samples: int, n_features: int, n_atoms: int, k: int, *, noise: float = 0.05,
                           offset: float = 1.0, zipf: float = 0.5, random_state=None):
    """``(X (n, d) float32, atoms (n_atoms, d) float32, support (n, k) int64)`` as in the module docstring.

    ``zipf`` is the exponent of the atoms' frequencies ``p_j ∝ (j + 1)^(−zipf)``
    (0: uniform); ``offset`` the norm of the common offset ``b``.
    """
    if not 1 <= k <= n_atoms:
        raise ValueError(f"k={k} must be between 1 and n_atoms={n_atoms}.")
    rng = make_numpy_rng(random_state)
    atoms = rng.standard_normal((n_atoms, n_features))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    p = (np.arange(n_atoms) + 1.0) ** (-zipf)
    p /= p.sum()
    # k distinct atoms per row, by frequency (Gumbel top-k sampling without replacement)
    support = np.empty((n_samples, k), dtype=np.int64)
    logp = np.log(p)
    for s in range(0, n_samples, 8192):
        keys = logp - np.log(-np.log(rng.random((min(8192, n_samples - s), n_atoms))))
        support[s : s + keys.shape[0]] = np.argpartition(keys, n_atoms - k, axis=1)[:, n_atoms - k:]
    magnitudes = 1.0 + rng.exponential(1.0, size=(n_samples, k))
    bias = rng.standard_normal(n_features)
    bias *= offset / np.linalg.norm(bias)
    X = np.empty((n_samples, n_features), dtype=np.float32)
    for s in range(0, n_samples, 4096):
        rows = slice(s, min(s + 4096, n_samples))
        part = np.einsum("nk,nkd->nd", magnitudes[rows], atoms[support[rows]]) + bias
        part += noise * np.sqrt(k / n_features) * rng.standard_normal(part.shape)
        X[rows] = part
    return X, atoms.astype(np.float32), support

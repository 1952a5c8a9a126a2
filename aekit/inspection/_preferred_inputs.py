"""Closed-form preferred inputs of first-layer units.

A first-layer unit computes ``h_i = f(sum_j w_ij x_j + b_i)`` with ``f``
increasing, so over the ball ``||x|| <= rho`` it is largest where the inner
product ``w_i . x`` is largest: by Cauchy-Schwarz at ``x = rho * w_i / ||w_i||``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["preferred_inputs"]


def preferred_inputs(W, *, norm: float = 1.0) -> np.ndarray:
    """The input of norm ``norm`` that maximally activates each first-layer unit.

    .. math::

        x^*_{ij} = \\rho \\, \\frac{w_{ij}}{\\sqrt{\\sum_k w_{ik}^2}}

    This is the maximizer of ``f(w_i . x + b_i)`` over ``||x|| <= rho`` for any
    increasing activation ``f`` (sigmoid, tanh, ReLU, linear), whatever the
    bias; it lies on the sphere ``||x|| = rho``. A unit whose weights are all
    zero responds to nothing: its row is returned as zeros.

    Parameters
    ----------
    W : array or tensor of shape (n_hidden, n_features)
        First-layer weights, one unit per row (an autoencoder's ``filters_``,
        ``torch.nn.Linear.weight``).
    norm : float
        Radius ``rho`` of the input constraint, > 0 (1 in the lecture; the
        typical norm of a data sample gives inputs on the data's scale).

    Returns
    -------
    X : ndarray of shape (n_hidden, n_features)
        Row ``i`` is the preferred input of unit ``i``.

    References
    ----------
    Erhan, Courville & Bengio, "Understanding Representations Learned in Deep
    Architectures", Technical Report 1355, Universite de Montreal, 2010.
    """
    if isinstance(W, torch.Tensor):
        W = W.detach().cpu().numpy()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D weight matrix (n_hidden, n_features), got shape {W.shape}.")
    if W.shape[0] == 0 or W.shape[1] == 0:
        raise ValueError(f"W is empty (shape {W.shape}): pass a layer with at least one unit and one input.")
    if not np.isfinite(W).all():
        raise ValueError("W contains NaN or infinity; the model's weights diverged.")
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(f"norm must be a positive number, got {norm!r}.")
    row_norms = np.sqrt(np.sum(W * W, axis=1, keepdims=True))  # (n_hidden, 1)
    return norm * W / np.where(row_norms > 0, row_norms, 1.0)

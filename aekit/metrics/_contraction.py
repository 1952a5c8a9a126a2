"""Mean contraction: the average Frobenius norm of the encoder's Jacobian.

For an encoder ``f: R^d -> R^k`` and data ``x_1..x_n``,

    mean_contraction = (1/n) sum_i ||J_f(x_i)||_F,   J_f(x)_{jl} = d f_j(x) / d x_l

(the square root of the contractive penalty of Rifai et al. 2011, averaged).
Small values mean the codes barely move when the input moves: the encoder
contracts the space around the data. The Jacobian is computed exactly with
``torch.func.jacrev`` vectorized over samples by ``torch.func.vmap``, in
batches small enough that the (batch, k, d) Jacobian block stays near 64 MB.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["mean_contraction", "jacobian_norms"]

_JACOBIAN_BLOCK = 2**24  # entries of one (batch, k, d) Jacobian block


def _encoder_device_dtype(encoder, X):
    owner = getattr(encoder, "__self__", encoder)  # a bound method such as module.encode
    if isinstance(owner, torch.nn.Module):
        for p in owner.parameters():
            return p.device, p.dtype
    if isinstance(X, torch.Tensor):
        return X.device, X.dtype if X.is_floating_point() else torch.float32
    return torch.device("cpu"), torch.float32


def jacobian_norms(encoder, X, *, batch_size=None, device=None) -> np.ndarray:
    """``||J_f(x_i)||_F`` for every sample: array of shape (n_samples,).

    Parameters and conventions as in :func:`mean_contraction`.
    """
    if not callable(encoder):
        raise TypeError(f"encoder must be a callable on torch tensors, got {type(encoder).__name__}.")
    dev, dtype = _encoder_device_dtype(encoder, X)
    if device is not None:
        dev = torch.device(device)
    X = X.detach() if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if X.ndim < 2:
        raise ValueError(f"X must be (n_samples, n_features), got shape {tuple(X.shape)}.")
    if X.shape[0] == 0:
        raise ValueError("X has zero samples.")
    X = X.to(device=dev, dtype=dtype)
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or infinity.")

    def one(x):  # (d...) -> (k,)
        return encoder(x.unsqueeze(0)).reshape(-1)

    if batch_size is None:
        with torch.no_grad():
            k = one(X[0]).numel()
        d = X[0].numel()
        batch_size = max(1, _JACOBIAN_BLOCK // max(1, k * d))
    elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")

    jac = torch.func.vmap(torch.func.jacrev(one))
    norms = []
    with torch.no_grad():  # no graph w.r.t. the encoder's parameters; jacrev still differentiates in x
        for start in range(0, X.shape[0], int(batch_size)):
            J = jac(X[start : start + int(batch_size)])  # (b, k, d...)
            norms.append(torch.linalg.vector_norm(J.reshape(J.shape[0], -1), dim=1).double().cpu())
    return torch.cat(norms).numpy()


def mean_contraction(encoder, X, *, batch_size=None, device=None) -> float:
    """Mean Frobenius norm of the encoder Jacobian over the samples, ``(1/n) sum_i ||J_f(x_i)||_F``.

    Parameters
    ----------
    encoder : callable
        Maps a batch tensor (b, d) to codes (b, k), e.g. ``module.encode`` of an
        autoencoder or an ``nn.Module``. Must act on each sample independently
        (no batch norm in training mode, no dropout: call ``module.eval()`` first).
    X : array or tensor of shape (n_samples, n_features)
    batch_size : int or None
        Samples per vectorized Jacobian; by default as many as keep the
        (batch, k, d) block at about 2^24 entries.
    device : str, torch.device or None
        Where to compute; by default the device of the encoder's first
        parameter (also for a bound method such as ``module.encode``), else
        the device of ``X`` when it is a tensor, else the CPU.

    Returns
    -------
    float

    References
    ----------
    Rifai, Vincent, Muller, Glorot & Bengio (2011), Contractive auto-encoders:
    explicit invariance during feature extraction, ICML.
    """
    return float(jacobian_norms(encoder, X, batch_size=batch_size, device=device).mean())

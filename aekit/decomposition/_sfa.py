"""Slow feature analysis (Wiskott & Sejnowski 2002): the slowest-varying projections of a signal.

Kernels first (time-delay embedding, quadratic expansion, sphering, the
derivative eigenproblem), then the estimator. Sphering reuses the covariance
kernels of :mod:`aekit.decomposition._pca`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from aekit._torch import resolve_device, to_numpy
from aekit._validation import ArrayTransformerMixin
from aekit.decomposition._pca import (
    _select_n_components,
    as_device_tensor,
    column_moments,
    covariance_eigh,
    default_rtol,
    numerical_rank,
    symmetric_eigh,
)

__all__ = ["SFA", "delay_embedding", "quadratic_expansion", "sphering", "slow_directions"]

# The expanded covariance is (D, D) in float64: past this many expanded
# features it would not fit comfortably in memory, and the input should be
# reduced (e.g. by PCA) first.
MAX_EXPANDED_FEATURES = 5000


# ---------------------------------------------------------------- kernels
def delay_embedding(X: torch.Tensor, embedding_dim: int, delay: int) -> torch.Tensor:
    r"""Stack each sample with its past: row for time :math:`t` is
    :math:`[x(t), x(t-\tau), \dots, x(t-(m-1)\tau)]`.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
    embedding_dim : int (m >= 1)
    delay : int (tau >= 1)

    Returns
    -------
    tensor of shape (n_samples - (m-1) tau, n_features * m); row ``i`` belongs
    to time ``i + (m-1) tau``.
    """
    span = (embedding_dim - 1) * delay
    rows = X.shape[0] - span
    if embedding_dim == 1:
        return X
    return torch.cat([X[span - j * delay : span - j * delay + rows] for j in range(embedding_dim)], dim=1)


def quadratic_expansion(X: torch.Tensor) -> torch.Tensor:
    r"""All monomials of degree 1 and 2: :math:`[x_1, \dots, x_d,\; x_i x_j\ (i \le j)]`.

    (n, d) -> (n, d + d(d+1)/2).
    """
    d = X.shape[1]
    i, j = torch.triu_indices(d, d, device=X.device)
    return torch.cat([X, X[:, i] * X[:, j]], dim=1)


def sphering(X: torch.Tensor, rtol: float):
    r"""Mean and whitening matrix of ``X``, dropping directions of negligible variance.

    With :math:`\Sigma = V^\top \Lambda V`, keeps the ``r`` eigenvectors with
    :math:`\lambda > \text{rtol}\cdot\lambda_{max}` and returns ``mean`` (d,)
    and :math:`P = \Lambda_r^{-1/2} V_r` (r, d), so that
    :math:`(X - \mu) P^\top` has identity covariance (ddof=1).
    """
    n, mean, scatter = column_moments(X)
    values, vectors = covariance_eigh(scatter / (n - 1))
    r = numerical_rank(values, rtol)
    return mean, vectors[:r] / values[:r].sqrt()[:, None]


def slow_directions(Z: torch.Tensor):
    r"""Eigen-decomposition of the time-derivative covariance of a sphered signal.

    With :math:`\dot z(t) = z(t+1) - z(t)` and
    :math:`\dot\Sigma = \langle \dot z \dot z^\top \rangle_t`, the unit vectors
    :math:`w` of smallest :math:`w^\top \dot\Sigma w` give the slowest outputs
    :math:`y = w^\top z`; :math:`\Delta(y) = \langle \dot y^2 \rangle` is the eigenvalue.

    Returns ``(delta, W)``: delta ascending (r,), W (r, r) one direction per row.
    """
    dZ = Z[1:] - Z[:-1]
    C = dZ.T @ dZ / dZ.shape[0]
    delta, U = symmetric_eigh((C + C.T) / 2)
    return delta.clamp_min(0.0), U.T.contiguous()


# ---------------------------------------------------------------- estimator
class SFA(ArrayTransformerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Slow feature analysis: outputs that vary as slowly as possible in time.

    Rows of ``X`` are consecutive time steps. SFA finds functions
    :math:`y_j = g_j(x)` in a fixed function space that minimise the slowness
    :math:`\Delta(y_j) = \langle \dot y_j^2 \rangle_t` under
    :math:`\langle y_j \rangle = 0`, :math:`\langle y_j^2 \rangle = 1` and
    :math:`\langle y_i y_j \rangle = 0` (:math:`i < j`). The algorithm:

    1. optional time-delay embedding :math:`[x(t), x(t-\tau), \dots, x(t-(m-1)\tau)]`;
    2. sphering (PCA whitening) of that signal;
    3. for ``degree=2``, expansion into all monomials of degree 1 and 2, then
       sphering again;
    4. the eigenvectors of the covariance of the finite-difference derivative
       :math:`\dot z(t) = z(t+1) - z(t)` with the smallest eigenvalues,
       slowest first. Each eigenvalue is the :math:`\Delta` of its output.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of slow features; None keeps all (the rank of the sphered signal).
    degree : {1, 2}, default=1
        1: linear SFA; 2: quadratic SFA (degree-2 polynomial expansion).
    embedding_dim : int, default=1
        Number of time frames :math:`m` stacked by the delay embedding (1: none).
    delay : int, default=1
        Steps :math:`\tau` between stacked frames.
    rtol : float in [0, 1) or None, default=None
        Sphering drops directions with variance at most ``rtol * lambda_max``
        (rank-deficient or nearly collinear expanded signals, e.g. the square
        of a binary signal); None uses ``n_dims * eps(float64)``, the rounding
        level of the float64 covariance (see :class:`PCA`).
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    delta_values_ : ndarray of shape (n_components_,)
        :math:`\Delta` of each output on the training signal, ascending.
    components_ : ndarray of shape (n_components_, n_expanded)
        Maps the centred (expanded) signal to the outputs.
    mean_ : ndarray of shape (n_features * embedding_dim,)
        Mean of the embedded input.
    whitening_ : ndarray of shape (n_sphered, n_features * embedding_dim) or None
        First sphering (``degree=2`` only; for ``degree=1`` it is folded into
        ``components_``).
    expansion_mean_ : ndarray of shape (n_expanded,) or None
        Mean of the expanded signal (``degree=2`` only).
    n_components_ : int
    n_features_in_ : int

    Notes
    -----
    Outputs have zero mean, unit variance (ddof=1) and are uncorrelated on the
    training signal. Signs are fixed so that each output correlates
    positively with time over the training signal. With ``embedding_dim=m``,
    ``transform`` returns ``n_samples - (m-1) * delay`` rows, row ``i``
    belonging to time step ``i + (m-1) * delay``. Computation is in float64.

    References
    ----------
    Wiskott, L. & Sejnowski, T. J. (2002). Slow feature analysis: unsupervised
    learning of invariances. Neural Computation 14(4), 715-770.
    Wiskott, L. (2003). Estimating driving forces of nonstationary time series
    with slow feature analysis. arXiv:cond-mat/0312317.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "degree": [Interval(Integral, 1, 2, closed="both")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "delay": [Interval(Integral, 1, None, closed="left")],
        "rtol": [Interval(Real, 0, 1, closed="left"), None],
        "device": [str, torch.device, None],
    }

    def __init__(self, n_components=None, *, degree=1, embedding_dim=1, delay=1, rtol=None, device="cpu"):
        self.n_components = n_components
        self.degree = degree
        self.embedding_dim = embedding_dim
        self.delay = delay
        self.rtol = rtol
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the slow features of the time series ``X`` (n_samples, n_features); returns ``self``."""
        X = self._validate(X, reset=True)
        span = (self.embedding_dim - 1) * self.delay
        if X.shape[0] - span < 2:
            raise ValueError(
                f"SFA with embedding_dim={self.embedding_dim} and delay={self.delay} needs at least "
                f"{span + 2} samples (2 after the delay embedding), got {X.shape[0]} sample"
                f"{'' if X.shape[0] == 1 else 's'}; pass a longer series or a smaller embedding."
            )
        device = resolve_device(self.device)
        E = delay_embedding(as_device_tensor(X, device, torch.float64), self.embedding_dim, self.delay)
        mean, P = sphering(E, self._rtol(E.shape[1]))
        if P.shape[0] == 0:
            raise ValueError("X has no variance: the signal is constant, so there is nothing slow to find.")
        Z = (E - mean) @ P.T
        n_dims = E.shape[1]
        if self.degree == 2:
            n_exp = P.shape[0] * (P.shape[0] + 3) // 2
            if n_exp > MAX_EXPANDED_FEATURES:
                raise ValueError(
                    f"The quadratic expansion of {P.shape[0]} sphered input dimensions has {n_exp} features "
                    f"(more than {MAX_EXPANDED_FEATURES}); reduce the input first (e.g. PCA(n_components=...)), "
                    "use a smaller embedding_dim, or degree=1."
                )
            H = quadratic_expansion(Z)
            mean2, P2 = sphering(H, self._rtol(H.shape[1]))
            Z = (H - mean2) @ P2.T
            n_dims = H.shape[1]
        k = _select_n_components(self.n_components, None, Z.shape[1], min(Z.shape[0], n_dims), "the sphered signal")
        delta, W = slow_directions(Z)
        W = W[:k]
        # Signs: each output correlates positively with time on the training signal.
        t = torch.arange(Z.shape[0], dtype=torch.float64, device=device)
        trend = (Z @ W.T).T @ (t - t.mean())
        signs = torch.where(trend < 0, -1.0, 1.0).to(torch.float64)
        W = W * signs[:, None]
        self.mean_ = to_numpy(mean)
        if self.degree == 2:
            self.whitening_ = to_numpy(P)
            self.expansion_mean_ = to_numpy(mean2)
            self.components_ = to_numpy(W @ P2)
        else:
            self.whitening_ = None
            self.expansion_mean_ = None
            self.components_ = to_numpy(W @ P)
        self.delta_values_ = to_numpy(delta[:k])
        self.n_components_ = k
        return self

    def transform(self, X):
        """Slow features (n_samples - (m-1) delay, n_components_) of the series ``X``, slowest first."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        span = (self.embedding_dim - 1) * self.delay
        if X.shape[0] <= span:
            raise ValueError(
                f"X has {X.shape[0]} samples; with embedding_dim={self.embedding_dim} and delay={self.delay} "
                f"transform needs at least {span + 1}."
            )
        device = resolve_device(self.device)
        f64 = torch.float64
        E = delay_embedding(as_device_tensor(X, device, f64), self.embedding_dim, self.delay)
        H = E - torch.as_tensor(self.mean_, device=device)
        if self.degree == 2:
            H = quadratic_expansion(H @ torch.as_tensor(self.whitening_, device=device).T)
            H = H - torch.as_tensor(self.expansion_mean_, device=device)
        Y = H @ torch.as_tensor(self.components_, dtype=f64, device=device).T
        return to_numpy(Y).astype(X.dtype, copy=False)

    def _rtol(self, n_dims: int) -> float:
        return default_rtol(n_dims, np.float64) if self.rtol is None else float(self.rtol)

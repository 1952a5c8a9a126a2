"""Principal curves (Hastie & Stuetzle 1989): a smooth curve through the middle of the data.

A principal curve ``f(lambda)`` is self-consistent: every point on it is the
mean of the data that project onto it, ``f(lambda) = E[x | lambda_f(x) = lambda]``.
Starting from the first principal component line, two steps alternate:

- projection: ``lambda_i`` = arc length, along the current polyline, of the
  point of the curve nearest to ``x_i``;
- smoothing: each coordinate of ``x`` is regressed on ``lambda`` by a local linear
  smoother with tricube weights over the nearest ``span * n`` samples,
  evaluated at ``n_nodes`` equally spaced values of ``lambda``: the new polyline.

until the mean squared distance of the data to the curve changes by less than
``tol`` (relative). This is the lecture's "extension of PCA": the first
principal component is the principal curve of zero curvature.

References
----------
Hastie, T. & Stuetzle, W. (1989). Principal curves. *Journal of the American
Statistical Association*, 84(406), 502-516.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from aekit._torch import as_device_tensor, leading_axes, make_generator, resolve_device, to_numpy
from aekit._validation import ArrayTransformerMixin

__all__ = ["PrincipalCurve", "project_to_polyline", "local_linear_smooth", "polyline_arc_length", "point_at_arc_length"]

_CHUNK = 16384


# ---------------------------------------------------------------------------- kernels
def polyline_arc_length(curve: torch.Tensor) -> torch.Tensor:
    """Cumulative arc length at each vertex of a polyline ``(K, d)``; ``(K,)``, starting at 0."""
    seg = torch.linalg.vector_norm(curve[1:] - curve[:-1], dim=1)
    return torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)])


def project_to_polyline(X: torch.Tensor, curve: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest point of the polyline ``curve`` ``(K, d)`` to each row of ``X`` ``(n, d)``.

    For segment ``k`` from ``p_k`` with direction ``s_k = p_{k+1} - p_k``, the
    nearest point is ``p_k + t s_k`` with ``t = clip((x - p_k).s_k / ||s_k||^2, 0, 1)``
    at squared distance ``||x - p_k||^2 - 2 t (x - p_k).s_k + t^2 ||s_k||^2``;
    both inner products for all segments come from two matrix products.

    Returns
    -------
    lam : (n,) arc length of the projection from the start of the curve.
    d2 : (n,) squared distance to the curve.
    """
    P, S = curve[:-1], curve[1:] - curve[:-1]  # (K-1, d) starts and directions
    S_sq = torch.einsum("kd,kd->k", S, S).clamp_min(torch.finfo(curve.dtype).tiny)
    P_sq = torch.einsum("kd,kd->k", P, P)
    PS = torch.einsum("kd,kd->k", P, S)
    arc = polyline_arc_length(curve)
    lam, d2 = [], []
    for start in range(0, X.shape[0], _CHUNK):
        x = X[start : start + _CHUNK]
        x_sq = torch.linalg.vector_norm(x, dim=1).square_().unsqueeze(1)
        xs = x @ S.T - PS  # (n, K-1) (x - p_k).s_k
        xp = x_sq - 2.0 * (x @ P.T) + P_sq  # (n, K-1) ||x - p_k||^2
        t = (xs / S_sq).clamp_(0.0, 1.0)
        dist = (xp - 2.0 * t * xs + t * t * S_sq).clamp_(min=0.0)
        best, k = dist.min(dim=1)
        t_best = t.gather(1, k.unsqueeze(1)).squeeze(1)
        lam.append(arc[k] + t_best * S_sq[k].sqrt())
        d2.append(best)
    return torch.cat(lam), torch.cat(d2)


def local_linear_smooth(lam: torch.Tensor, X: torch.Tensor, at: torch.Tensor, span: float) -> torch.Tensor:
    """Local linear regression of every column of ``X`` ``(n, d)`` on ``lam`` ``(n,)``, evaluated at ``at`` ``(K,)``.

    At each ``s`` the weights are tricube, ``w_i = (1 - (|lam_i - s| / h)^3)^3``, with
    ``h`` the distance to the ``ceil(span * n)``-th nearest ``lam_i``; the fit
    ``a + b (lam - s)`` gives ``f(s) = a = (S2 T0 - S1 T1) / (S0 S2 - S1^2)`` with
    ``S_j = sum_i w_i (lam_i - s)^j`` and ``T_j = sum_i w_i (lam_i - s)^j x_i``
    (the weighted mean ``T0 / S0`` where the local design is singular). Returns ``(K, d)``.
    """
    n = lam.shape[0]
    q = min(n, max(3, math.ceil(span * n)))
    delta = lam.unsqueeze(0) - at.unsqueeze(1)  # (K, n)
    h = torch.kthvalue(delta.abs(), q, dim=1).values.unsqueeze(1)
    h = h * (1 + 1e-6) + torch.finfo(lam.dtype).eps
    w = (1.0 - (delta.abs() / h).clamp(max=1.0) ** 3) ** 3  # (K, n)
    S0, S1, S2 = w.sum(1), (w * delta).sum(1), (w * delta * delta).sum(1)
    T0, T1 = w @ X, (w * delta) @ X  # (K, d)
    det = S0 * S2 - S1 * S1
    ok = det > 1e-9 * S0 * S2.clamp_min(torch.finfo(lam.dtype).tiny)
    linear = (S2.unsqueeze(1) * T0 - S1.unsqueeze(1) * T1) / torch.where(ok, det, torch.ones_like(det)).unsqueeze(1)
    mean = T0 / S0.unsqueeze(1)
    return torch.where(ok.unsqueeze(1), linear, mean)


def point_at_arc_length(curve: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Points of the polyline ``(K, d)`` at arc lengths ``lam`` ``(n,)`` (clipped to the curve); ``(n, d)``."""
    arc = polyline_arc_length(curve)
    lam = lam.clamp(0.0, float(arc[-1]))
    k = torch.searchsorted(arc, lam, right=True).clamp_(1, len(arc) - 1) - 1  # segment index
    seg = (arc[k + 1] - arc[k]).clamp_min(torch.finfo(curve.dtype).tiny)
    t = ((lam - arc[k]) / seg).unsqueeze(1)
    return curve[k] + t * (curve[k + 1] - curve[k])


# ---------------------------------------------------------------------------- estimator
class PrincipalCurve(ArrayTransformerMixin, TransformerMixin, BaseEstimator):
    """Hastie-Stuetzle principal curve, in torch on CPU or CUDA.

    ``transform`` gives the arc-length position ``lambda`` ``(n, 1)`` of the
    projection of each sample onto the fitted polyline; ``inverse_transform``
    the point of the curve at a given arc length.

    Parameters
    ----------
    span : float in (0, 1], default=0.3
        Fraction of the samples in each local linear fit (the smoother's
        bandwidth; smaller follows the data more closely).
    n_nodes : int, default=100
        Vertices of the fitted polyline.
    max_iter : int, default=50
        Projection-smoothing rounds.
    tol : float, default=1e-4
        Stop when the mean squared distance changes by less than ``tol`` (relative).
    device : str, default="cpu"

    Attributes
    ----------
    curve_ : ndarray (n_nodes, n_features)
        The polyline.
    arc_length_ : ndarray (n_nodes,)
        Arc length at each vertex (``arc_length_[-1]`` is the curve's length).
    mean_squared_distance_ : float
        Mean squared distance of the training samples to the curve.
    pca_mean_squared_distance_ : float
        The same for the first principal component line, where the fit starts.
    n_iter_ : int
    history_ : list of dict
        ``mean_squared_distance`` after each round (round 0: the principal component).

    References
    ----------
    Hastie, T. & Stuetzle, W. (1989). Principal curves. *Journal of the American
    Statistical Association*, 84(406), 502-516.
    """

    # computed in float32 (float64 input too): its outputs are float32
    _dtypes = (np.float32, np.float64)
    _preserves_dtype = ("float32",)

    _parameter_constraints = {
        "span": [Interval(Real, 0, 1, closed="right")],
        "n_nodes": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device, None],
    }

    def __init__(self, *, span=0.3, n_nodes=100, max_iter=50, tol=1e-4, device="cpu"):
        self.span = span
        self.n_nodes = n_nodes
        self.max_iter = max_iter
        self.tol = tol
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the curve to ``X`` ``(n_samples, n_features)``; returns ``self``."""
        X = self._validate(X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(f"A principal curve needs at least 2 samples, got n_samples={X.shape[0]}.")
        device = resolve_device(self.device)
        Xt = as_device_tensor(X, device, torch.float32)
        mean = Xt.mean(0)
        axis, _ = leading_axes(Xt - mean, 1, make_generator(0, device))  # deterministic start
        lam = (Xt - mean) @ axis[0]
        resid = (Xt - mean) - torch.outer(lam, axis[0])  # residuals from the first principal component line
        lam = lam - lam.min()
        msd = float(torch.linalg.vector_norm(resid, dim=1).square().mean())
        history = [{"iteration": 0, "mean_squared_distance": msd}]
        self.pca_mean_squared_distance_ = msd
        curve = None
        for it in range(1, int(self.max_iter) + 1):
            knots = torch.linspace(float(lam.min()), float(lam.max()), int(self.n_nodes), device=device)
            curve = local_linear_smooth(lam, Xt, knots, float(self.span))
            lam, d2 = project_to_polyline(Xt, curve)
            new = float(d2.mean())
            history.append({"iteration": it, "mean_squared_distance": new})
            converged = abs(msd - new) <= self.tol * max(msd, torch.finfo(torch.float32).tiny)
            msd = new
            if converged:
                break
        self.curve_ = to_numpy(curve).astype(np.float32)
        self.arc_length_ = to_numpy(polyline_arc_length(curve)).astype(np.float32)
        self.mean_squared_distance_ = msd
        self.history_ = history
        self.n_iter_ = len(history) - 1
        return self

    def transform(self, X):
        """Arc-length position of each sample's projection onto the curve, ``(n_samples, 1)``."""
        check_is_fitted(self, "curve_")
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        lam, _ = project_to_polyline(as_device_tensor(X, device, torch.float32), torch.as_tensor(self.curve_, device=device))
        return to_numpy(lam).astype(np.float32).reshape(-1, 1)

    def inverse_transform(self, X):
        """Points of the curve at arc lengths ``X`` ``(n_samples, 1)`` (clipped to the curve); ``(n_samples, n_features)``."""
        check_is_fitted(self, "curve_")
        lam = check_array(X, dtype=[np.float32, np.float64])
        if lam.shape[1] != 1:
            raise ValueError(f"inverse_transform takes arc lengths of shape (n_samples, 1), got {lam.shape}.")
        device = resolve_device(self.device)
        curve = torch.as_tensor(self.curve_, device=device)
        return to_numpy(point_at_arc_length(curve, as_device_tensor(lam[:, 0], device, torch.float32))).astype(np.float32)

    def projection_distances(self, X) -> np.ndarray:
        """Squared distance of each sample to the curve, ``(n_samples,)``."""
        check_is_fitted(self, "curve_")
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        _, d2 = project_to_polyline(as_device_tensor(X, device, torch.float32), torch.as_tensor(self.curve_, device=device))
        return to_numpy(d2).astype(np.float32)

    def score(self, X, y=None) -> float:
        """Negative mean squared distance to the curve (higher is better)."""
        return -float(self.projection_distances(X).mean())

"""FastICA: independent components by fixed-point iteration on PCA-whitened data.

Kernels first (contrasts, symmetric decorrelation, the parallel and deflation
iterations, all on tensors), then the estimator, which whitens with
:class:`aekit.decomposition.PCA` and keeps the result.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from aekit._torch import as_device_tensor, make_generator, one_cpu_thread, resolve_device, to_numpy
from aekit._validation import ArrayTransformerMixin, resolve_option
from aekit.decomposition._pca import PCA, check_codes

__all__ = [
    "FastICA",
    "CONTRASTS",
    "symmetric_decorrelation",
    "ica_parallel",
    "ica_deflation",
    "escape_saddles",
    "match_sources",
]


# ---------------------------------------------------------------- contrasts
# Signals are rows: y has shape (k, n), one output per row, so that every
# mean over samples is a reduction along the contiguous axis. Each contrast G
# has a derivative g and second derivative g'. The fixed-point update needs
# g(y) and the mean of g'(y); G itself ranks the outputs by their negentropy
# estimate (E G(y) - E G(nu))^2, nu ~ N(0, 1).
def _logcosh(y: torch.Tensor, alpha: float):
    gy = torch.tanh(alpha * y)
    return gy, alpha * (1.0 - (gy * gy).mean(-1))


def _exp(y: torch.Tensor, alpha: float):
    y2 = y * y
    e = torch.exp(-0.5 * y2)
    return y * e, (e - y2 * e).mean(-1)


def _cube(y: torch.Tensor, alpha: float):
    y2 = y * y
    return y2 * y, 3.0 * y2.mean(-1)


def _G_logcosh(y, alpha):
    # log cosh(a y) / a = (logaddexp(a y, -a y) - log 2) / a: finite for large |y|.
    ay = alpha * y
    return (torch.logaddexp(ay, -ay) - math.log(2.0)) / alpha


def _G_exp(y, alpha):
    return -torch.exp(-0.5 * y * y)


def _G_cube(y, alpha):
    return (y * y) ** 2 / 4.0


CONTRASTS = {
    "logcosh": (_logcosh, _G_logcosh),
    "exp": (_exp, _G_exp),
    "cube": (_cube, _G_cube),
}


@functools.lru_cache(maxsize=32)
def _gaussian_expectation(fun: str, alpha: float) -> float:
    """E G(nu) for nu ~ N(0, 1) and the contrast ``fun``, by 64-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(64)
    values = CONTRASTS[fun][1](torch.as_tensor(nodes, dtype=torch.float64), alpha).numpy()
    return float(np.sum(weights * values) / np.sqrt(2.0 * np.pi))


# ---------------------------------------------------------------- iterations
def symmetric_decorrelation(W: torch.Tensor) -> torch.Tensor:
    r"""The orthogonal matrix closest to ``W``: :math:`(W W^\top)^{-1/2} W`, shape (k, k)."""
    s, u = torch.linalg.eigh(W @ W.T)
    s = s.clamp_min(torch.finfo(W.dtype).tiny)
    return (u * s.rsqrt()) @ u.T @ W


def ica_parallel(Z: torch.Tensor, W: torch.Tensor, g, alpha: float, tol: float, max_iter: int):
    r"""All components at once (symmetric FastICA).

    With whitened signals ``Z`` (k, n), one per row, and rows :math:`w_j` of
    ``W`` (k, k): :math:`w_j \leftarrow E[z\, g(w_j^\top z)] - E[g'(w_j^\top z)]\, w_j`,
    then :math:`W \leftarrow (W W^\top)^{-1/2} W`. Stops when every row turned
    by less than ``tol``: :math:`\max_j \big|\,|w_j^{new} \cdot w_j| - 1\big| < tol`.

    Returns ``(W, n_iter, converged)``.
    """
    n = Z.shape[1]
    W = symmetric_decorrelation(W)
    for it in range(1, max_iter + 1):
        gy, gp = g(W @ Z, alpha)  # (k, n), (k,)
        W_new = symmetric_decorrelation(gy @ Z.T / n - gp[:, None] * W)
        change = float((torch.abs(torch.sum(W_new * W, dim=1)) - 1.0).abs().max())
        W = W_new
        if change < tol:
            return W, it, True
    return W, max_iter, False


def ica_deflation(Z: torch.Tensor, W: torch.Tensor, g, alpha: float, tol: float, max_iter: int):
    r"""One component at a time, each kept orthogonal to the ones before (Gram-Schmidt).

    Same fixed-point update as :func:`ica_parallel` for a single :math:`w`
    (``Z`` is (k, n)), followed by :math:`w \leftarrow w - W_{<j}^\top W_{<j} w`
    and normalisation. Returns ``(W, n_iter, converged)``; ``n_iter`` is the
    largest count over components.
    """
    k, n = Z.shape
    out = torch.zeros_like(W)
    n_iter, converged = 0, True

    def orthonormal(w, j):
        w = w - out[:j].T @ (out[:j] @ w)
        return w / torch.linalg.vector_norm(w)

    for j in range(k):
        w = orthonormal(W[j], j)
        done = False
        for it in range(1, max_iter + 1):
            gy, gp = g((w @ Z)[None, :], alpha)  # (1, n), (1,)
            w_new = orthonormal(Z @ gy[0] / n - gp[0] * w, j)
            change = abs(abs(float(w_new @ w)) - 1.0)
            w = w_new
            if change < tol:
                done = True
                break
        out[j] = w
        n_iter = max(n_iter, it)
        converged = converged and done
    return out, n_iter, converged


_SADDLE_SAMPLES = 20000


def escape_saddles(Z: torch.Tensor, W: torch.Tensor, G, alpha: float, gauss: float):
    r"""Test of saddle points (Tichavský, Koldovský & Oja 2006): rotate pairs that sit on a saddle.

    Symmetric FastICA can stop at a spurious fixed point where two outputs are
    the half-sum and half-difference of two sources. For each pair of outputs
    :math:`y_i, y_j` the 45-degree rotation
    :math:`u, v = (y_i \pm y_j)/\sqrt 2` is compared with them by the negentropy
    estimate :math:`J(y) = (E\,G(y) - E\,G(\nu))^2`; when
    :math:`J(u) + J(v) > J(y_i) + J(y_j)` the two rows of ``W`` are replaced by
    their rotation (pairs taken by decreasing gain, each row at most once).

    ``Z`` is (k, n); at most ``_SADDLE_SAMPLES`` evenly spaced samples are
    used (the gain at a saddle is large, a subsample sees it). Returns
    ``(W, rotated)``: the new (k, k) matrix and whether any pair turned.
    """
    k = W.shape[0]
    if k < 2:
        return W, False
    step = max(1, -(-Z.shape[1] // _SADDLE_SAMPLES))
    S = W @ Z[:, ::step]  # (k, m)
    J = (G(S, alpha).mean(-1) - gauss) ** 2  # (k,)
    i, j = torch.triu_indices(k, k, offset=1, device=W.device)
    root2 = math.sqrt(2.0)
    gain = torch.empty(i.shape[0], dtype=W.dtype, device=W.device)
    per_block = max(1, (1 << 22) // S.shape[1])  # pairs per block: bounded memory
    for start in range(0, i.shape[0], per_block):
        a, b = i[start : start + per_block], j[start : start + per_block]
        U = (S[a] + S[b]) / root2  # (pairs, m)
        V = (S[a] - S[b]) / root2
        gain[start : start + per_block] = (
            (G(U, alpha).mean(-1) - gauss) ** 2 + (G(V, alpha).mean(-1) - gauss) ** 2 - J[a] - J[b]
        )
    W = W.clone()
    used: set[int] = set()
    for p in torch.argsort(gain, descending=True).tolist():
        a, b = int(i[p]), int(j[p])
        if float(gain[p]) <= 0.0:
            break
        if a in used or b in used:
            continue
        wa, wb = W[a].clone(), W[b].clone()
        W[a], W[b] = (wa + wb) / root2, (wa - wb) / root2
        used.update((a, b))
    return W, bool(used)


def match_sources(sources, estimates):
    """Pair each true source with one estimated component by their correlation (Hungarian method).

    ICA recovers sources only up to order and sign; this finds the one-to-one
    matching that maximises the summed ``|corr|``.

    Parameters
    ----------
    sources : array of shape (n_samples, m)
    estimates : array of shape (n_samples, k)

    Returns
    -------
    order : int array of shape (m,)
        ``estimates[:, order[i]]`` matches ``sources[:, i]``; -1 where
        ``k < m`` left a source unmatched.
    correlations : float array of shape (m,)
        Signed correlation of each matched pair (NaN when unmatched).
    """
    S = np.asarray(sources, dtype=np.float64)
    Y = np.asarray(estimates, dtype=np.float64)
    if S.ndim != 2 or Y.ndim != 2 or S.shape[0] != Y.shape[0]:
        raise ValueError(
            f"sources {S.shape} and estimates {Y.shape} must be 2-D with the same number of rows (samples)."
        )
    m = S.shape[1]
    C = np.corrcoef(S.T, Y.T)[:m, m:]  # (m, k)
    rows, cols = linear_sum_assignment(-np.abs(np.nan_to_num(C)))
    order = np.full(m, -1)
    corr = np.full(m, np.nan)
    order[rows] = cols
    corr[rows] = C[rows, cols]
    return order, corr


_ALGORITHMS = {"parallel": ica_parallel, "deflation": ica_deflation}

# Below this many multiply-adds per iteration (n_samples * k * k) the CPU loop
# runs on one thread: waking a thread pool for each small product costs more
# than the product, and on a busy machine far more.
_SERIAL_WORK = 1 << 22


def _serial_if_small(device: torch.device, work: int):
    """A context that runs a loop of small tensor operations on one CPU thread (:func:`one_cpu_thread`).

    The same remedy as scikit-learn's KMeans, which limits its BLAS threads
    around loops of small products.
    """
    return one_cpu_thread(device) if work <= _SERIAL_WORK else contextlib.nullcontext()


# ---------------------------------------------------------------- estimator
class FastICA(ArrayTransformerMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Independent component analysis by FastICA (Hyvärinen 1999).

    The data are centred and whitened by PCA, :math:`z = K (x - \mu)` with
    :math:`K = \Lambda_k^{-1/2} V_k`, so that :math:`\operatorname{cov}(z) = I`.
    An orthogonal :math:`W` is then sought that makes the outputs
    :math:`s = W z` maximally non-Gaussian, by the fixed-point rule
    :math:`w \leftarrow E[z\, g(w^\top z)] - E[g'(w^\top z)]\, w` with
    :math:`g = G'` for the contrast :math:`G`. The unmixing matrix is
    ``components_`` :math:`= W K` and the sources ``transform(X)``
    :math:`= (X - \mu) W_{\text{un}}^\top`, each with unit variance.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of sources; None keeps every non-negligible principal component.
    algorithm : {"parallel", "deflation"}, default="parallel"
        All components at once with symmetric decorrelation, or one by one
        with Gram-Schmidt deflation.
    fun : {"logcosh", "exp", "cube"}, default="logcosh"
        Contrast :math:`G`: :math:`\log\cosh(\alpha u)/\alpha` (general purpose),
        :math:`-e^{-u^2/2}` (robust, for super-Gaussian sources),
        :math:`u^4/4` (kurtosis).
    alpha : float in [1, 2], default=1.0
        :math:`\alpha` of the logcosh contrast.
    max_iter : int, default=200
    tol : float, default=1e-4
        Stop when no unmixing vector turns by more than this
        (:math:`\big||w^{new}\cdot w| - 1\big|`).
    w_init : array of shape (n_components, n_components) or None
        Initial unmixing matrix in the whitened space; default random normal.
    saddle_test : bool, default=True
        After convergence, test every pair of outputs for a saddle point (the
        half-sum and half-difference of two sources) and, where one is found,
        rotate the pair by 45 degrees and iterate again (Tichavský et al. 2006).
        Without it an unlucky random start can stop at such a spurious
        solution (about one start in six on a 4-source mixture).
    rtol : float or None, default=None
        Negligible-eigenvalue threshold of the whitening PCA (see :class:`PCA`).
    random_state : int, numpy Generator or None
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Unmixing matrix :math:`W K`, applied to centred data.
    mixing_ : ndarray of shape (n_features, n_components_)
        Pseudo-inverse of ``components_``: :math:`x \approx A s + \mu`.
        Signs: the largest-magnitude entry of each column is positive (each
        source enters the sensor it dominates positively).
    whitening_ : ndarray of shape (n_components_, n_features)
        :math:`K`, the PCA whitening matrix.
    mean_ : ndarray of shape (n_features,)
    n_components_ : int
    n_iter_ : int
        Iterations run (the largest over components for deflation).

    Notes
    -----
    Components are ordered by decreasing negentropy estimate
    :math:`(E\,G(s) - E\,G(\nu))^2`, :math:`\nu \sim N(0, 1)`: the least
    Gaussian source first. Computation is in float64.

    References
    ----------
    Hyvärinen, A. (1999). Fast and robust fixed-point algorithms for
    independent component analysis. IEEE Trans. Neural Networks 10(3), 626-634.
    Hyvärinen, A. & Oja, E. (2000). Independent component analysis:
    algorithms and applications. Neural Networks 13, 411-430.
    Tichavský, P., Koldovský, Z. & Oja, E. (2006). Performance analysis of the
    FastICA algorithm and Cramér-Rao bounds for linear independent component
    analysis. IEEE Trans. Signal Processing 54(4), 1189-1203.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "algorithm": [StrOptions(set(_ALGORITHMS))],
        "fun": [StrOptions(set(CONTRASTS))],
        "alpha": [Interval(Real, 1, 2, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "w_init": ["array-like", None],
        "saddle_test": ["boolean"],
        "rtol": [Interval(Real, 0, 1, closed="left"), None],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
    }

    def __init__(
        self,
        n_components=None,
        *,
        algorithm="parallel",
        fun="logcosh",
        alpha=1.0,
        max_iter=200,
        tol=1e-4,
        w_init=None,
        saddle_test=True,
        rtol=None,
        random_state=None,
        device="cpu",
    ):
        self.n_components = n_components
        self.algorithm = algorithm
        self.fun = fun
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.w_init = w_init
        self.saddle_test = saddle_test
        self.rtol = rtol
        self.random_state = random_state
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the unmixing matrix for ``X`` of shape (n_samples, n_features); returns ``self``."""
        X = self._validate(X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(f"FastICA needs at least 2 samples to whiten the data, got {X.shape[0]} sample.")
        device = resolve_device(self.device)
        solve = resolve_option("algorithm", self.algorithm, _ALGORITHMS)
        g, G = resolve_option("fun", self.fun, CONTRASTS)
        pca = PCA(self.n_components, whiten=True, rtol=self.rtol, device=device).fit(X)
        k = pca.n_components_
        f64 = torch.float64
        mean = torch.as_tensor(pca.mean_, dtype=f64, device=device)
        K = torch.as_tensor(pca.components_ / np.sqrt(pca.explained_variance_)[:, None], dtype=f64, device=device)
        Z = K @ (as_device_tensor(X, device, f64) - mean).T  # (k, n): one white signal per row

        if self.w_init is None:
            gen = make_generator(self.random_state, device)
            W0 = torch.randn(k, k, generator=gen, device=device, dtype=f64)
        else:
            W0 = torch.as_tensor(check_array(self.w_init, dtype=np.float64, input_name="w_init"), device=device)
            if W0.shape != (k, k):
                raise ValueError(f"w_init has shape {tuple(W0.shape)}; it must be ({k}, {k}) (n_components squared).")
        alpha, tol, max_iter = float(self.alpha), float(self.tol), int(self.max_iter)
        gauss = _gaussian_expectation(self.fun, alpha)
        with _serial_if_small(device, Z.shape[1] * k * k):
            W, n_iter, converged = solve(Z, W0, g, alpha, tol, max_iter)
            for _ in range(k if self.saddle_test and converged else 0):
                W_rot, rotated = escape_saddles(Z, W, G, alpha, gauss)
                if not rotated:
                    break
                W, more, converged = solve(Z, W_rot, g, alpha, tol, max_iter)
                n_iter += more
        if not converged:
            warnings.warn(
                f"FastICA did not converge in max_iter={self.max_iter} iterations (tol={self.tol}); "
                "raise max_iter or tol, or check that the sources are not Gaussian.",
                ConvergenceWarning,
                stacklevel=2,
            )
        # Order: least Gaussian first. Signs: each mixing column's largest entry positive.
        negentropy = (G(W @ Z, alpha).mean(-1) - gauss) ** 2
        W = W[torch.argsort(negentropy, descending=True, stable=True)]
        unmixing = W @ K  # (k, d)
        mixing = torch.linalg.pinv(unmixing)  # (d, k)
        idx = mixing.abs().argmax(dim=0, keepdim=True)
        signs = torch.sign(mixing.gather(0, idx))
        signs[signs == 0] = 1
        self.mean_ = pca.mean_
        self.whitening_ = to_numpy(K)
        self.components_ = to_numpy(unmixing * signs.T)
        self.mixing_ = to_numpy(mixing * signs)
        self.n_components_ = k
        self.n_iter_ = int(n_iter)
        return self

    def transform(self, X):
        """Estimated sources (n_samples, n_components_) of ``X`` (n_samples, n_features)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        Xt = as_device_tensor(X, device)
        W = torch.as_tensor(self.components_, dtype=Xt.dtype, device=device)
        mean = torch.as_tensor(self.mean_, dtype=Xt.dtype, device=device)
        return to_numpy((Xt - mean) @ W.T)

    def inverse_transform(self, X):
        """Mix sources (n_samples, n_components_) back into observations (n_samples, n_features)."""
        St = check_codes(self, X)
        A = torch.as_tensor(self.mixing_, dtype=St.dtype, device=St.device)
        mean = torch.as_tensor(self.mean_, dtype=St.dtype, device=St.device)
        return to_numpy(St @ A.T + mean)

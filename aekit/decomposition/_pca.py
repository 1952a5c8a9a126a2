"""Principal component analysis: eigenvectors of the covariance matrix.

The kernels come first and work on tensors on any device; the estimator only
validates, calls them and keeps the result. :mod:`aekit.decomposition._fastica`
and :mod:`aekit.decomposition._sfa` whiten their data with the same kernels.

Numerics
--------
The covariance is accumulated in one pass over row chunks with the
*shifted-data* algorithm: each chunk is shifted by ``m`` (the mean of the
first rows when the data sit far from the origin, else nothing), its Gram
matrix is computed in the data's dtype and summed in float64, and the exact
mean ``m + d`` and scatter ``sum (x-m)(x-m)^T - n d d^T`` follow from the
column sums of the shifted chunks. Shifting data that sit far from the origin
avoids the cancellation of ``X^T X - n mu mu^T``; summing chunk Gram matrices
in float64 keeps the error at about one float32 rounding of the largest
eigenvalue (measurements: benchmarks/results/notes.md). The eigendecomposition of
float32 data is a float32 eigensolve whose leading vectors are refined in
float64 (Rayleigh-Ritz). Batches seen by ``partial_fit``
are merged with the pairwise update of Chan, Golub & LeVeque, so streaming the
data gives the same covariance as one pass.
"""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from threadpoolctl import threadpool_limits
from sklearn.utils._param_validation import Interval, RealNotInt
from sklearn.utils.validation import assert_all_finite, check_array, check_is_fitted, validate_data

from aekit._torch import as_device_tensor, one_cpu_thread, resolve_device, to_numpy

__all__ = [
    "PCA",
    "column_moments",
    "combine_moments",
    "gram",
    "symmetric_eigh",
    "covariance_eigh",
    "refine_top_eigenvectors",
    "flip_signs",
    "numerical_rank",
    "default_rtol",
    "truncated_reconstruction",
]

# Rows per chunk are chosen so that one centred chunk holds about this many
# entries (64 MiB in float32): large enough for BLAS to run at full speed,
# small enough that the centred copy never doubles the memory of big data.
_CHUNK_ENTRIES = 1 << 24
# Chunks used in place (no centring, no copy) hold four times as many: fewer
# BLAS calls (each ends with its threads waiting for the slowest), while the
# float64 sum of their Gram matrices still bounds the float32 error however
# many rows there are (MNIST, one chunk: 5.7e-8 of the largest eigenvalue).
_IN_PLACE_CHUNK_ENTRIES = 1 << 26


# ---------------------------------------------------------------- kernels
def gram(A: torch.Tensor) -> torch.Tensor:
    """``A^T A`` for ``A`` of shape (m, d), in ``A``'s dtype, shape (d, d).

    On the CPU the product goes through NumPy, whose ``matmul`` recognises
    ``A.T @ A`` and calls the BLAS symmetric rank-k update (``syrk``): half
    the floating-point work of torch's general matrix product, which has no
    symmetric kernel. The tensor memory is shared, nothing is copied. On other
    devices it is ``torch.matmul`` (cuBLAS).
    """
    if A.device.type == "cpu":
        a = A.numpy()
        return torch.from_numpy(a.T @ a)
    return A.T @ A


def column_sums(A, block: int = 128):
    """Column sums of ``A`` (m, d) in float64: blocks of ``block`` rows summed in ``A``'s dtype, then in float64.

    ``A`` is a tensor (result: float64 tensor) or a NumPy array (result:
    float64 array). As accurate as a pairwise sum and several times faster
    than ``A.sum(0)`` on the CPU, where a reduction over the leading dimension
    is slow.
    """
    m, d = A.shape
    full = m - m % block
    if isinstance(A, np.ndarray):
        total = A[full:].sum(0, dtype=np.float64)
        if full:
            total += A[:full].reshape(-1, block, d).sum(1).sum(0, dtype=np.float64)
        return total
    total = A[full:].sum(0).to(torch.float64)
    if full:
        total += A[:full].reshape(-1, block, d).sum(1).to(torch.float64).sum(0)
    return total


def _chunk_rows(n_features: int, entries: int = _CHUNK_ENTRIES) -> int:
    return max(256, entries // max(n_features, 1))


def _accumulate(X: torch.Tensor, rows: int, shift: torch.Tensor | None):
    """One pass of the shifted-data sums: ``n``, mean and scatter, float64 (see :func:`column_moments`).

    On the CPU the loop runs in NumPy: its BLAS threads then never wait for
    torch's OpenMP threads, which keep spinning for a while after each torch
    operation and would slow every interleaved ``syrk``.
    """
    n, d = X.shape
    if X.device.type == "cpu":
        x = X.numpy()
        s = None if shift is None else shift.numpy()
        total, offset = np.zeros((d, d)), np.zeros(d)
        buffer = None if s is None else np.empty((min(rows, n), d), dtype=x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are reported by the caller
            for start in range(0, n, rows):
                chunk = x[start : start + rows]
                if s is not None:
                    chunk = np.subtract(chunk, s, out=buffer[: chunk.shape[0]])
                total += chunk.T @ chunk  # BLAS syrk, see gram()
                offset += column_sums(chunk)
        total, offset = torch.from_numpy(total), torch.from_numpy(offset)
    else:
        total = torch.zeros(d, d, dtype=torch.float64, device=X.device)
        offset = torch.zeros(d, dtype=torch.float64, device=X.device)
        buffer = None if shift is None else torch.empty(min(rows, n), d, dtype=X.dtype, device=X.device)
        for start in range(0, n, rows):
            chunk = X[start : start + rows]
            if shift is not None:
                chunk = torch.sub(chunk, shift, out=buffer[: chunk.shape[0]])
            total += gram(chunk).to(torch.float64)
            offset += column_sums(chunk)
    delta = offset / n
    mean = delta if shift is None else shift.to(torch.float64) + delta
    return n, mean, total - n * torch.outer(delta, delta)


# Centring each chunk costs a pass over the data; it is skipped when the
# data's offset is small against its spread, ||mu||^2 <= _OFFSET_RATIO tr(Sigma):
# the rounding error of the uncentred Gram matrix then grows by at most a
# factor 1 + _OFFSET_RATIO (MNIST: ||mu||^2 / tr(Sigma) = 0.67).
_OFFSET_RATIO = 3.0


def column_moments(X: torch.Tensor, *, chunk_rows: int | None = None):
    """Sample count, mean and scatter matrix of the rows of ``X``, in float64.

    Shifted-data algorithm: every chunk is shifted by ``s``, its Gram matrix
    computed in the data's dtype and summed in float64, and the column sums of
    the shifted chunks give the exact correction at the end:
    ``mu = s + d`` and ``S = sum (x - s)(x - s)^T - n d d^T`` with
    ``d = (1/n) sum (x - s)``. The shift is the mean of the first chunk when
    the data sit far from the origin (``||mu||^2 > 3 tr(Sigma)``, judged on
    the first 1024 rows and checked again at the end), so that nothing large
    is ever subtracted; otherwise ``s = 0`` and the chunks are used as they
    are, which saves the centring pass. One pass over ``X`` either way (two
    if the first rows misjudged the offset).

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features), float32 or float64, any device
    chunk_rows : int, optional
        Rows multiplied at a time (default: about 16M entries when the chunks
        are shifted, a copy; 64M when they are used in place).

    Returns
    -------
    n : int
    mean : float64 tensor of shape (n_features,)
        ``mu = (1/n) sum_i x_i``
    scatter : float64 tensor of shape (n_features, n_features)
        ``S = sum_i (x_i - mu)(x_i - mu)^T``; the covariance is ``S / (n - 1)``.
        NaN or inf in ``X`` make ``mean`` and ``scatter`` non-finite.
    """
    n, d = X.shape
    rows = chunk_rows or _chunk_rows(d)
    head = X[: min(rows, 1024)]
    shift = (column_sums(head) / head.shape[0]).to(X.dtype)
    spread = float(((head - shift) ** 2).sum()) / head.shape[0]
    far = float(torch.dot(shift, shift)) > _OFFSET_RATIO * spread
    if far:
        n, mean, scatter = _accumulate(X, rows, shift)
    else:
        n, mean, scatter = _accumulate(X, chunk_rows or _chunk_rows(d, _IN_PLACE_CHUNK_ENTRIES), None)
    if not far and float(mean @ mean) > _OFFSET_RATIO * float(torch.diagonal(scatter).sum()) / n:
        n, mean, scatter = _accumulate(X, rows, mean.to(X.dtype))
    return n, mean, scatter


def combine_moments(n_a: int, mean_a, scatter_a, n_b: int, mean_b, scatter_b):
    """Merge the moments of two sets of rows (Chan, Golub & LeVeque 1979).

    ``n = n_a + n_b``, ``delta = mean_b - mean_a``,
    ``mean = mean_a + delta n_b / n``,
    ``S = S_a + S_b + delta delta^T n_a n_b / n``: exact, and stable because no
    large uncentred sums are ever subtracted.
    """
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    scatter = scatter_a + scatter_b + torch.outer(delta, delta) * (n_a * n_b / n)
    return n, mean, scatter


def flip_signs(components: torch.Tensor) -> torch.Tensor:
    """Make the largest-magnitude entry of each row positive (ties: the first such entry).

    The sign of an eigenvector is arbitrary; this fixes it the way
    scikit-learn's ``svd_flip(u_based_decision=False)`` does, so results agree
    with scikit-learn's PCA component by component.
    """
    idx = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(components.gather(1, idx))
    signs[signs == 0] = 1
    return components * signs


def symmetric_eigh(A: torch.Tensor):
    """``torch.linalg.eigh`` of a symmetric matrix (ascending), through SciPy's LAPACK on the CPU.

    On the CPU, SciPy's ``syevd`` (OpenBLAS, pthreads) is several times faster
    than torch's here and stays fast on a busy machine, where an OpenMP
    eigensolver can stall for seconds; on other devices it is torch's.
    """
    if A.device.type == "cpu":
        values, vectors = scipy.linalg.eigh(A.numpy(), driver="evd", check_finite=False)
        return torch.from_numpy(values), torch.from_numpy(vectors)
    return torch.linalg.eigh(A)


def covariance_eigh(covariance: torch.Tensor, dtype: torch.dtype = torch.float64):
    """Eigen-decomposition of a covariance matrix, largest eigenvalue first.

    Parameters
    ----------
    covariance : tensor of shape (d, d), symmetric positive semi-definite
    dtype : torch dtype
        Precision of the eigensolver (float64; float32 is two to three times
        as fast, accurate enough to start :func:`refine_top_eigenvectors`).

    Returns
    -------
    eigenvalues : float64 tensor of shape (d,), descending, negatives clipped to 0
    eigenvectors : float64 tensor of shape (d, d), one unit eigenvector per ROW,
        signs fixed by :func:`flip_signs`. ``C = V^T diag(eigenvalues) V``.
    """
    C = covariance.to(dtype)
    C = (C + C.T) / 2
    values, vectors = symmetric_eigh(C)
    values = values.flip(0).clamp_min(0.0).to(torch.float64)
    vectors = flip_signs(vectors.flip(1).T.to(torch.float64).contiguous())
    return values, vectors


def refine_top_eigenvectors(covariance: torch.Tensor, vectors: torch.Tensor):
    r"""Rayleigh-Ritz refinement, in float64, of approximate leading eigenvectors.

    With ``Q`` an orthonormal basis of the rows of ``vectors`` (k, d), the
    eigenpairs of :math:`H = Q C Q^\top` (k, k) give the best approximations of
    the eigenpairs of ``C`` inside that subspace. Eigenvalue errors are
    quadratic in the subspace's angle, so the small angle of vectors from a
    float32 eigensolver gives eigenvalues close to float64 accuracy
    (benchmarks/results/notes.md), at the cost of a float32 eigensolve plus :math:`O(d^2 k)`.

    Returns ``(eigenvalues (k,), eigenvectors (k, d))``, descending, signs fixed.
    """
    C = covariance.to(torch.float64)
    Q, _ = torch.linalg.qr(vectors.to(torch.float64).T)  # (d, k), orthonormal columns
    H = Q.T @ C @ Q
    values, U = symmetric_eigh((H + H.T) / 2)
    refined = (Q @ U).flip(1).T.contiguous()
    return values.flip(0).clamp_min(0.0), flip_signs(refined)


def default_rtol(n_features: int, dtype) -> float:
    """``n_features * eps(dtype)``: numpy's ``matrix_rank`` rule, applied to the covariance.

    Weyl's inequality bounds each eigenvalue's error by the spectral norm of
    the covariance error, itself at most ``n_features`` times its largest
    entry error, which is about ``eps * lambda_max`` when the Gram matrix is
    accumulated in ``dtype``. Eigenvalues under ``n_features * eps * lambda_max``
    therefore cannot be told apart from zero.
    """
    return float(n_features * np.finfo(np.dtype(dtype)).eps)


def numerical_rank(eigenvalues: torch.Tensor, rtol: float) -> int:
    """Number of eigenvalues (descending) larger than ``rtol * eigenvalues[0]``."""
    top = float(eigenvalues[0]) if eigenvalues.numel() else 0.0
    if top <= 0.0:
        return 0
    return int((eigenvalues > rtol * top).sum())


def _select_n_components(n_components, ratios: np.ndarray, rank: int, limit: int, what: str) -> int:
    """The component count asked for, checked against the data (see :class:`PCA`)."""
    if n_components is None:
        return rank
    if isinstance(n_components, Integral):
        if n_components > limit:
            raise ValueError(
                f"n_components={n_components} must be between 1 and min(n_samples, n_features)={limit} "
                f"for {what}; lower n_components or pass more data."
            )
        if n_components > rank:
            raise ValueError(
                f"n_components={n_components} is larger than the numerical rank {rank} of {what}: "
                f"the other eigenvalues of its covariance are negligible (below rtol * largest). "
                f"Use n_components <= {rank}, n_components=None (all {rank}), or a smaller rtol."
            )
        return int(n_components)
    # A fraction of the variance: the fewest components whose cumulative ratio exceeds it.
    k = int(np.searchsorted(np.cumsum(ratios), n_components, side="right")) + 1
    return min(k, rank)


def check_codes(estimator, X) -> torch.Tensor:
    """The input of ``inverse_transform``, checked: (n_samples, n_components_), as a tensor on the device."""
    check_is_fitted(estimator)
    Z = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    if Z.shape[1] != estimator.n_components_:
        raise ValueError(
            f"X has {Z.shape[1]} columns but this {type(estimator).__name__} has {estimator.n_components_} "
            "components; pass the output of transform."
        )
    return as_device_tensor(Z, resolve_device(estimator.device))


def truncated_reconstruction(pca, X, n_components: int) -> np.ndarray:
    r"""Reconstruct ``X`` from the first ``n_components`` axes of a fitted :class:`PCA`.

    :math:`\hat X = (X - \mu) V_k^\top V_k + \mu`: the reconstructions at
    several component counts from one fit (the axes are nested). ``X`` has
    shape (n_samples, n_features); so does the result.
    """
    check_is_fitted(pca)
    if not 1 <= n_components <= pca.n_components_:
        raise ValueError(
            f"n_components={n_components} must be between 1 and the {pca.n_components_} fitted components."
        )
    X = pca._validate(X, reset=False)
    device = resolve_device(pca.device)
    Xt = as_device_tensor(X, device)
    V = torch.as_tensor(pca.components_[:n_components], dtype=Xt.dtype, device=device)
    mean = torch.as_tensor(pca.mean_, dtype=Xt.dtype, device=device)
    return to_numpy(((Xt - mean) @ V.T) @ V + mean)


# On the CPU, covariances of at most this many features are eigendecomposed on one thread (see _eigen_threads).
_ONE_THREAD_EIGEN_FEATURES = 1024


def _eigen_threads(device: torch.device, n_features: int):
    """BLAS threads for the eigen stage: one on the CPU when the covariance is small, else unchanged.

    The BLAS threads that just formed the Gram matrix keep spinning for a while;
    an eigensolve of at most ``_ONE_THREAD_EIGEN_FEATURES`` features (tens of
    milliseconds) runs faster on one thread beside them than on threads that
    share their cores. Measured on MNIST (784 features, 2 threads): without this
    and :func:`one_cpu_thread` the fit took 1.2-1.3x scikit-learn's, which
    stays in one BLAS pool.
    """
    if device.type != "cpu" or n_features > _ONE_THREAD_EIGEN_FEATURES:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------- estimator
class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Principal component analysis: the eigenvectors of the covariance matrix.

    With the sample covariance of the centred data

    .. math:: \Sigma = \frac{1}{n-1} \sum_i (x_i - \mu)(x_i - \mu)^\top
              = V^\top \Lambda V,

    the principal axes are the rows of :math:`V` (orthonormal eigenvectors,
    largest eigenvalue first) and the eigenvalues :math:`\lambda_j` are the
    variances along them. ``transform`` computes :math:`z = V_k (x - \mu)`
    (divided by :math:`\sqrt{\lambda_j}` when ``whiten``), ``inverse_transform``
    :math:`\hat x = V_k^\top z + \mu`.

    Parameters
    ----------
    n_components : int, float in (0, 1) or None, default=None
        int: keep that many components; it must not exceed
        ``min(n_samples, n_features)`` nor the numerical rank of the data
        (else a ``ValueError`` says the largest count allowed).
        float: keep the fewest components whose explained variance ratios sum
        to more than this fraction. None: keep every component whose
        eigenvalue is not negligible (the numerical rank).
    whiten : bool, default=False
        Divide each projection by :math:`\sqrt{\lambda_j}` so that the outputs
        have unit variance.
    rtol : float in [0, 1) or None, default=None
        Eigenvalues at or below ``rtol * lambda_max`` are negligible and their
        components discarded (the lecture's rule). None uses
        ``n_features * eps`` of the input dtype (float32: 1.19e-7 per feature,
        float64: 2.2e-16), NumPy's ``matrix_rank`` default: below it an
        eigenvalue is within the rounding error of the float32 Gram matrix.
        Pass float64 data to resolve smaller eigenvalues.
    device : str or torch.device, default="cpu"
        Where the covariance, the eigendecomposition and ``transform`` run
        (``"cuda"``, ``"auto"``, ...).

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Principal axes (unit eigenvectors of the covariance), largest variance
        first. Signs: the largest-magnitude entry of each axis is positive.
    explained_variance_ : ndarray of shape (n_components_,)
        Eigenvalues :math:`\lambda_j` (variance along each axis, ddof=1).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        :math:`\lambda_j / \operatorname{tr}\Sigma`.
    singular_values_ : ndarray of shape (n_components_,)
        :math:`\sqrt{(n-1)\lambda_j}`, the singular values of the centred data.
    noise_variance_ : float
        Mean of the discarded eigenvalues among the first
        ``min(n_samples, n_features)`` (probabilistic PCA's noise variance).
    mean_ : ndarray of shape (n_features,)
    covariance_ : ndarray of shape (n_features, n_features)
        The sample covariance (float64); ``partial_fit`` continues from it.
    n_components_ : int
    rank_ : int
        Numerical rank of the covariance under ``rtol``.
    n_samples_seen_ : int
    n_features_in_ : int

    References
    ----------
    Pearson, K. (1901). On lines and planes of closest fit to systems of points
    in space. Hotelling, H. (1933). Analysis of a complex of statistical
    variables into principal components. Chan, T. F., Golub, G. H. & LeVeque,
    R. J. (1979). Updating formulae and a pairwise algorithm for computing
    sample variances.
    """

    _parameter_constraints: dict = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            None,
        ],
        "whiten": ["boolean"],
        "rtol": [Interval(Real, 0, 1, closed="left"), None],
        "device": [str, torch.device, None],
    }

    def __init__(self, n_components=None, *, whiten=False, rtol=None, device="cpu"):
        self.n_components = n_components
        self.whiten = whiten
        self.rtol = rtol
        self.device = device

    # -- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the principal axes to ``X`` of shape (n_samples, n_features); returns ``self``."""
        X = self._validate(X, reset=True, ensure_all_finite=False)  # finiteness: see _moments
        if X.shape[0] < 2:
            raise ValueError(
                f"PCA needs at least 2 samples to estimate a covariance, got {X.shape[0]} sample; pass more rows."
            )
        device = resolve_device(self.device)
        with one_cpu_thread(device):
            n, mean, scatter = self._moments(X, device)
            with _eigen_threads(device, X.shape[1]):
                self._set_from_moments(n, mean, scatter, X.dtype)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add the batch ``X`` to the running mean and covariance and refit the axes.

        Data larger than memory can be streamed batch by batch; the result
        equals one ``fit`` on all rows up to rounding (pairwise update of
        Chan et al.). The first batch needs at least 2 rows.
        """
        first = not hasattr(self, "covariance_")
        X = self._validate(X, reset=first, ensure_all_finite=False)
        device = resolve_device(self.device)
        with one_cpu_thread(device):
            n_b, mean_b, scatter_b = self._moments(X, device)
            with _eigen_threads(device, X.shape[1]):
                self._set_from_batch(first, n_b, mean_b, scatter_b, device, X.dtype)
        return self

    def _set_from_batch(self, first: bool, n_b: int, mean_b, scatter_b, device, dtype) -> None:
        """Merge a batch's moments into the running ones (Chan et al.) and refit the axes."""
        if first:
            if n_b < 2:
                raise ValueError(
                    f"The first batch given to partial_fit has {n_b} sample; it needs at least 2 "
                    "to estimate a covariance."
                )
            n, mean, scatter = n_b, mean_b, scatter_b
        else:
            n_a = int(self.n_samples_seen_)
            mean_a = torch.as_tensor(self.mean_, dtype=torch.float64, device=device)
            scatter_a = torch.as_tensor(self.covariance_, dtype=torch.float64, device=device) * (n_a - 1)
            n, mean, scatter = combine_moments(n_a, mean_a, scatter_a, n_b, mean_b, scatter_b)
        self._set_from_moments(n, mean, scatter, dtype)

    def _moments(self, X: np.ndarray, device):
        """:func:`column_moments` of ``X``, which also serves as the finiteness check.

        One NaN or inf makes the sums non-finite, so the data are read once
        instead of twice; only then is ``X`` searched to name the problem.
        """
        n, mean, scatter = column_moments(as_device_tensor(X, device))
        # A NaN or inf reaches its column's sum; an overflowing product x_i x_j
        # implies an overflowing square on the diagonal: O(d) checks suffice.
        if not bool(torch.isfinite(torch.cat([mean, torch.diagonal(scatter)])).all()):
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
            raise ValueError("X has values so large that its covariance overflows; rescale the data.")
        return n, mean, scatter

    def _set_from_moments(self, n: int, mean, scatter, dtype) -> None:
        d = scatter.shape[0]
        covariance = scatter / (n - 1)
        # Float32 data: a float32 eigensolve resolves everything down to the
        # rank threshold; the kept axes are then refined in float64 when they
        # are few (cheaper than a float64 eigensolve, as accurate for them).
        k_asked = self.n_components
        low = np.dtype(dtype) == np.float32 and k_asked is not None and not (
            isinstance(k_asked, Integral) and k_asked > d // 2
        )
        if low:  # all eigenvalues for the rank; the float32 vectors stay raw (the refinement re-orthonormalizes them)
            C32 = covariance.to(torch.float32)
            values32, vectors32 = symmetric_eigh((C32 + C32.T) / 2)  # ascending, one vector per column
            eigenvalues = values32.flip(0).clamp_min(0.0).to(torch.float64)
        else:
            eigenvalues, eigenvectors = covariance_eigh(covariance)
        total = float(torch.diagonal(covariance).sum())
        rtol = default_rtol(d, dtype) if self.rtol is None else float(self.rtol)
        rank = numerical_rank(eigenvalues, rtol)
        if rank == 0:
            raise ValueError(
                "X has no variance: every sample is the same point, so PCA has no direction to find. "
                "Check that the data are not constant."
            )
        limit = min(n, d)
        k = _select_n_components(self.n_components, to_numpy(eigenvalues) / total, rank, limit, "X")
        if low and k <= d // 2:
            top, eigenvectors = refine_top_eigenvectors(covariance, vectors32[:, d - k :].T)
            eigenvalues = torch.cat([top, eigenvalues[k:]])
        elif low:
            eigenvalues, eigenvectors = covariance_eigh(covariance)
        values = to_numpy(eigenvalues)
        self.n_samples_seen_ = int(n)
        self.mean_ = to_numpy(mean)
        self.covariance_ = to_numpy(covariance)
        self.rank_ = rank
        self.n_components_ = k
        self.components_ = to_numpy(eigenvectors[:k])
        self.explained_variance_ = values[:k].copy()
        self.explained_variance_ratio_ = values[:k] / total
        self.singular_values_ = np.sqrt(values[:k] * (n - 1))
        # Discarded variance: the trace minus what is kept (exact), spread over the other axes.
        rest = max(total - float(values[:k].sum()) - float(values[limit:].sum()), 0.0)
        self.noise_variance_ = rest / (limit - k) if limit > k else 0.0

    # -- using the fit
    def transform(self, X):
        """Project ``X`` on the principal axes: (n_samples, n_features) -> (n_samples, n_components_)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        Xt = as_device_tensor(X, device)
        mean, W = self._projection(device, Xt.dtype)
        return to_numpy((Xt - mean) @ W.T)

    def inverse_transform(self, X):
        """Map projections (n_samples, n_components_) back to the input space (n_samples, n_features)."""
        Zt = check_codes(self, X)
        device = Zt.device
        V = torch.as_tensor(self.components_, dtype=Zt.dtype, device=device)
        if self.whiten:
            V = V * torch.as_tensor(np.sqrt(self.explained_variance_), dtype=Zt.dtype, device=device)[:, None]
        mean = torch.as_tensor(self.mean_, dtype=Zt.dtype, device=device)
        return to_numpy(Zt @ V + mean)

    def get_covariance(self):
        r"""The model covariance :math:`V_k^\top (\Lambda_k - \sigma^2) V_k + \sigma^2 I` (probabilistic PCA)."""
        check_is_fitted(self)
        V = self.components_
        lam = self.explained_variance_ - self.noise_variance_
        cov = (V.T * lam) @ V
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def _projection(self, device, dtype):
        """Mean (n_features,) and projection matrix (n_components_, n_features) as tensors."""
        W = torch.as_tensor(self.components_, dtype=torch.float64, device=device)
        if self.whiten:
            W = W / torch.as_tensor(np.sqrt(self.explained_variance_), dtype=torch.float64, device=device)[:, None]
        mean = torch.as_tensor(self.mean_, dtype=dtype, device=device)
        return mean, W.to(dtype)

    def _validate(self, X, *, reset: bool, ensure_all_finite: bool = True):
        return validate_data(
            self, X, dtype=[np.float64, np.float32], reset=reset, ensure_all_finite=ensure_all_finite
        )

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

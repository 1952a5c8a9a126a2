"""Kernel PCA: PCA in the feature space of a kernel, exact or by the Nyström approximation."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from aekit._torch import make_numpy_rng, resolve_device, to_numpy
from aekit._validation import EmbeddingMixin, resolve_option
from aekit.manifold._eigen import EIGEN_SOLVERS, top_eigenpairs

__all__ = [
    "KernelPCA",
    "KERNELS",
    "pairwise_kernel",
    "rbf_kernel",
    "polynomial_kernel",
    "sigmoid_kernel",
    "cosine_kernel",
    "linear_kernel",
    "centre_kernel",
    "centre_test_kernel",
]


# ------------------------------------------------------------------ kernels
def linear_kernel(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``k(a, b) = a^T b``; (m, d), (n, d) -> (m, n)."""
    return A @ B.T


def rbf_kernel(A: torch.Tensor, B: torch.Tensor, gamma: float) -> torch.Tensor:
    """``k(a, b) = exp(-γ |a - b|^2)``; (m, d), (n, d) -> (m, n).

    ``-γ |a - b|^2 = 2γ a^T b - γ |a|^2 - γ |b|^2`` in one matrix product, then in place.
    """
    shift = (-gamma * (A * A).sum(1))[:, None] + (-gamma * (B * B).sum(1))[None, :]
    return torch.addmm(shift, A, B.T, alpha=2.0 * gamma).clamp_max_(0.0).exp_()


def polynomial_kernel(A: torch.Tensor, B: torch.Tensor, gamma: float, degree: float, coef0: float) -> torch.Tensor:
    """``k(a, b) = (γ a^T b + c_0)^degree``; (m, d), (n, d) -> (m, n)."""
    return (gamma * (A @ B.T) + coef0) ** degree


def sigmoid_kernel(A: torch.Tensor, B: torch.Tensor, gamma: float, coef0: float) -> torch.Tensor:
    """``k(a, b) = tanh(γ a^T b + c_0)`` (not positive definite in general); (m, n)."""
    return torch.tanh(gamma * (A @ B.T) + coef0)


def cosine_kernel(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``k(a, b) = a^T b / (|a| |b|)``, 0 for a zero vector; (m, n)."""

    def unit(M):
        norm = torch.linalg.norm(M, dim=1, keepdim=True)
        return M / torch.where(norm > 0, norm, torch.ones_like(norm))

    return unit(A) @ unit(B).T


KERNELS = {
    "linear": lambda A, B, gamma, degree, coef0: linear_kernel(A, B),
    "rbf": lambda A, B, gamma, degree, coef0: rbf_kernel(A, B, gamma),
    "poly": lambda A, B, gamma, degree, coef0: polynomial_kernel(A, B, gamma, degree, coef0),
    "sigmoid": lambda A, B, gamma, degree, coef0: sigmoid_kernel(A, B, gamma, coef0),
    "cosine": lambda A, B, gamma, degree, coef0: cosine_kernel(A, B),
}


def pairwise_kernel(A, B, kernel: str, *, gamma: float, degree: float = 3, coef0: float = 1.0) -> torch.Tensor:
    """The kernel matrix ``K_ij = k(a_i, b_j)`` of a named kernel (see ``KERNELS``)."""
    fn = resolve_option("kernel", kernel, KERNELS)
    return fn(A, B, gamma, degree, coef0)


def centre_kernel(K: torch.Tensor, *, inplace: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Centre a kernel matrix in feature space: ``K_c = (I - 1/n) K (I - 1/n)``.

    ``K_c[i, j] = <φ(x_i) - \bar φ, φ(x_j) - \bar φ>`` with ``\bar φ`` the mean
    feature vector.

    With ``inplace`` the result overwrites ``K``.

    Returns
    -------
    K_c : tensor (n, n)
    col_means : tensor (n,)  ``mean_i K[i, j]``
    total_mean : tensor ()   ``mean_ij K[i, j]``
    """
    col = K.mean(dim=0)
    total = col.mean()
    shift = col[None, :] + K.mean(dim=1, keepdim=True) - total
    return (K.sub_(shift) if inplace else K - shift), col, total


def centre_test_kernel(K_new: torch.Tensor, col_means: torch.Tensor, total_mean: torch.Tensor) -> torch.Tensor:
    r"""Centre the kernel between new points and the training points (m, n) with the training mean.

    ``<φ(x) - \bar φ, φ(x_j) - \bar φ> = k(x, x_j) - mean_i k(x, x_i) - mean_i k(x_i, x_j) + mean_il k(x_i, x_l)``.
    """
    return K_new - col_means[None, :] - K_new.mean(dim=1, keepdim=True) + total_mean


# ------------------------------------------------------------------ estimator
class KernelPCA(EmbeddingMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Kernel principal component analysis.

    With the centred kernel matrix ``K_c = (I - 1/n) K (I - 1/n) = A Λ A^T``
    (``K_ij = k(x_i, x_j)``, columns of ``A`` orthonormal), the embedding of
    the training points is ``Y = A_k Λ_k^{1/2}`` and a new point is projected
    by ``y = Λ_k^{-1/2} A_k^T k_c(x)`` with its centred kernel column
    ``k_c(x)``.

    Nyström (``n_landmarks = m``): ``m`` random landmarks give the features
    ``F = K_nm K_mm^{-1/2}`` (``F F^T ≈ K``); they are centred and their PCA
    ``(F - \bar F)^T (F - \bar F) = U Λ U^T`` gives ``Y = (F - \bar F) U_k``.
    Time ``O(n m^2)``, memory ``O(n m)`` instead of ``O(n^3)`` / ``O(n^2)``.

    Pre-image (``fit_inverse_transform=True``): kernel ridge regression from
    the embedding back to the inputs, ``X ≈ K_Y (K_Y + α I)^{-1} X`` with the
    same kernel applied to embeddings; with landmarks, the subset-of-regressors
    solution ``(K_{Ym}^T K_{Ym} + α K_{mm}) B = K_{Ym}^T X``.

    Parameters
    ----------
    n_components : int or None, default=None
        None keeps every component with a positive eigenvalue.
    kernel : {"linear", "rbf", "poly", "sigmoid", "cosine", "precomputed"}, default="linear"
        "precomputed": ``X`` is the (n, n) kernel matrix at fit and the
        (m, n) kernel with the training points at transform.
    gamma : float or None, default=None
        Of rbf, poly and sigmoid; None means ``1 / n_features``.
    degree : float, default=3
    coef0 : float, default=1
    alpha : float, default=1.0
        Ridge of the pre-image regression.
    fit_inverse_transform : bool, default=False
    eigen_solver : {"auto", "dense", "arpack", "randomized"}, default="auto"
    tol : float, default=0
    max_iter : int or None, default=None
    remove_zero_eig : bool, default=False
        Drop components with a zero eigenvalue (always done when
        ``n_components`` is None).
    n_landmarks : int or None, default=None
        Nyström approximation with this many random landmarks; None is exact.
    random_state : int, numpy Generator or None, default=None
        Landmarks and eigensolver start.
    device : str, default="cpu"
        Torch device of the kernel matrices and eigendecompositions.

    Attributes
    ----------
    eigenvalues_ : ndarray (n_components,)
        Of the centred (approximate) kernel matrix, descending.
    eigenvectors_ : ndarray (n_samples, n_components)
        ``A_k`` (exact only).
    embedding_ : ndarray (n_samples, n_components)
        The training points' projections.
    X_fit_ : ndarray (n_samples, n_features)
        Training points (exact) or the landmarks (Nyström).
    landmarks_ : ndarray (n_landmarks,)
        Indices of the landmarks (Nyström only).
    K_fit_rows_ : ndarray (n_samples,), K_fit_all_ : float
        Column means and mean of the training kernel (exact only).
    projection_ : ndarray (n_landmarks, n_components), offset_ : ndarray (n_components,)
        Nyström projection ``y = k(x, landmarks) P - b`` (Nyström only).
    gamma_ : float
    dual_coef_ : ndarray, X_transformed_fit_ : ndarray
        Pre-image regression coefficients and the embeddings they are
        attached to (with ``fit_inverse_transform``).
    n_features_in_ : int

    References
    ----------
    Schölkopf, Smola & Müller (1998), Nonlinear component analysis as a
    kernel eigenvalue problem, Neural Computation 10. Williams & Seeger
    (2001), Using the Nyström method to speed up kernel machines, NIPS 13.
    Bakır, Weston & Schölkopf (2004), Learning to find pre-images, NIPS 16.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "kernel": [StrOptions(set(KERNELS) | {"precomputed"})],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Real],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_inverse_transform": ["boolean"],
        "eigen_solver": [StrOptions(set(EIGEN_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "remove_zero_eig": ["boolean"],
        "n_landmarks": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        n_components=None,
        *,
        kernel="linear",
        gamma=None,
        degree=3,
        coef0=1,
        alpha=1.0,
        fit_inverse_transform=False,
        eigen_solver="auto",
        tol=0,
        max_iter=None,
        remove_zero_eig=False,
        n_landmarks=None,
        random_state=None,
        device="cpu",
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.alpha = alpha
        self.fit_inverse_transform = fit_inverse_transform
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.remove_zero_eig = remove_zero_eig
        self.n_landmarks = n_landmarks
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------ helpers
    def _kernel(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return pairwise_kernel(A, B, self.kernel, gamma=self.gamma_, degree=self.degree, coef0=self.coef0)

    def _keep(self, values: torch.Tensor, vectors: torch.Tensor):
        """Set negative and negligible (< 1e-12 of the largest) eigenvalues to 0; drop them when asked."""
        values = torch.where(values > values[0].clamp_min(0) * 1e-12, values, torch.zeros_like(values))
        if self.remove_zero_eig or self.n_components is None:
            keep = values > 0
            if not bool(keep.any()):
                raise ValueError("The centred kernel matrix has no positive eigenvalue: the kernel sees all points as equal.")
            values, vectors = values[keep], vectors[:, keep]
        return values, vectors

    @staticmethod
    def _inv_sqrt(values: torch.Tensor) -> torch.Tensor:
        return torch.where(values > 0, values.clamp_min(1e-300).rsqrt(), torch.zeros_like(values))

    # ------------------------------------------------------------ fit
    def _fit(self, X):
        X = self._validate(X, reset=True, ensure_min_samples=2)
        n, d = X.shape
        precomputed = self.kernel == "precomputed"
        if precomputed and n != d:
            raise ValueError(f"kernel='precomputed' needs a square (n, n) kernel matrix, got shape {X.shape}.")
        if precomputed and (self.n_landmarks is not None or self.fit_inverse_transform):
            raise ValueError(
                "kernel='precomputed' works without n_landmarks and without fit_inverse_transform "
                "(both need the kernel of new points); pass the data and a named kernel instead."
            )
        if self.n_landmarks is not None and self.n_landmarks > n:
            raise ValueError(f"n_landmarks={self.n_landmarks} is larger than n_samples={n}; use fewer landmarks.")
        device = resolve_device(self.device)
        rng = make_numpy_rng(self.random_state)
        self.gamma_ = float(1.0 / d if self.gamma is None else self.gamma)
        for name in ("eigenvectors_", "landmarks_", "K_fit_rows_", "K_fit_all_", "projection_", "offset_",
                     "dual_coef_", "X_transformed_fit_"):
            self.__dict__.pop(name, None)
        Xt = torch.tensor(np.asarray(X), dtype=torch.float64, device=device)
        solver = dict(solver=self.eigen_solver, tol=self.tol, max_iter=self.max_iter, random_state=rng)
        if self.n_landmarks is None:
            K = Xt if precomputed else self._kernel(Xt, Xt)
            Kc, col, total = centre_kernel(K, inplace=True)  # K is a fresh tensor here
            k = n if self.n_components is None else min(n, self.n_components)
            values, vectors = top_eigenpairs(Kc, k, **solver)  # symmetric up to rounding
            values, vectors = self._keep(values, vectors)
            Y = vectors * values.sqrt()
            self.X_fit_ = X
            self.K_fit_rows_ = to_numpy(col)
            self.K_fit_all_ = float(total)
            self.eigenvectors_ = np.ascontiguousarray(to_numpy(vectors))
        else:
            m = self.n_landmarks
            landmarks = np.sort(rng.choice(n, size=m, replace=False))
            Xm = Xt[torch.as_tensor(landmarks, device=device)]
            K_mm = self._kernel(Xm, Xm)
            s, U = torch.linalg.eigh((K_mm + K_mm.T) / 2)
            inv_sqrt = U * self._inv_sqrt(torch.where(s > s.abs().max() * 1e-12, s, torch.zeros_like(s))) @ U.T
            F = self._nystroem_features(Xt, Xm, inv_sqrt)  # (n, m)
            mean_F = F.mean(dim=0)
            F -= mean_F
            C = F.T @ F  # (m, m)
            k = m if self.n_components is None else min(m, self.n_components)
            values, W = top_eigenpairs((C + C.T) / 2, k, **solver)
            values, W = self._keep(values, W)
            Y = F @ W
            self.X_fit_ = np.ascontiguousarray(X[landmarks])
            self.landmarks_ = landmarks
            self.projection_ = np.ascontiguousarray(to_numpy(inv_sqrt @ W))
            self.offset_ = to_numpy(mean_F @ W)
        self.eigenvalues_ = to_numpy(values)
        self.embedding_ = np.ascontiguousarray(to_numpy(Y)).astype(X.dtype, copy=False)
        if self.fit_inverse_transform:
            self._fit_pre_image(Xt, Y)
        return self

    def _nystroem_features(self, Xt: torch.Tensor, Xm: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """``k(X, landmarks) @ right`` (n, r), a block of rows at a time (memory O(n r))."""
        out = torch.empty(Xt.shape[0], right.shape[1], dtype=Xt.dtype, device=Xt.device)
        chunk = max(1, 2**24 // max(1, Xm.shape[0]))
        for s in range(0, Xt.shape[0], chunk):
            out[s : s + chunk] = self._kernel(Xt[s : s + chunk], Xm) @ right
        return out

    def _fit_pre_image(self, Xt: torch.Tensor, Y: torch.Tensor) -> None:
        """Kernel ridge regression from the embedding back to the inputs (learned pre-image)."""
        if self.n_landmarks is None:
            K = self._kernel(Y, Y)
            K.diagonal().add_(self.alpha)
            L, info = torch.linalg.cholesky_ex(K)
            coef = torch.cholesky_solve(Xt, L) if int(info) == 0 else torch.linalg.solve(K, Xt)
            self.X_transformed_fit_ = np.ascontiguousarray(to_numpy(Y))
        else:
            idx = torch.as_tensor(self.landmarks_, device=Y.device)
            Ym = Y[idx]
            K_nm = self._kernel(Y, Ym)  # (n, m)
            A = K_nm.T @ K_nm + self.alpha * self._kernel(Ym, Ym)
            A = (A + A.T) / 2
            # a tiny jitter keeps the system solvable when alpha = 0 or landmarks coincide
            A.diagonal().add_(1e-10 * float(A.diagonal().mean()))
            coef = torch.linalg.solve(A, K_nm.T @ Xt)
            self.X_transformed_fit_ = np.ascontiguousarray(to_numpy(Ym))
        self.dual_coef_ = np.ascontiguousarray(to_numpy(coef))

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Project new points onto the kernel principal components.

        Parameters
        ----------
        X : array-like (n_queries, n_features), or (n_queries, n_samples) kernel rows with "precomputed"

        Returns
        -------
        ndarray (n_queries, n_components)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        Xt = torch.tensor(np.asarray(X), dtype=torch.float64, device=device)
        ref = torch.tensor(self.X_fit_, dtype=torch.float64, device=device)
        if hasattr(self, "projection_"):
            P = torch.from_numpy(self.projection_).to(device)
            Y = self._nystroem_features(Xt, ref, P) - torch.from_numpy(self.offset_).to(device)
        else:
            col = torch.from_numpy(self.K_fit_rows_).to(device)
            total = torch.tensor(self.K_fit_all_, dtype=torch.float64, device=device)
            values = torch.from_numpy(self.eigenvalues_).to(device)
            P = torch.from_numpy(self.eigenvectors_).to(device) * self._inv_sqrt(values)
            Y = torch.empty(Xt.shape[0], P.shape[1], dtype=torch.float64, device=device)
            chunk = max(1, 2**22 // ref.shape[0])  # query rows per block: memory O(chunk * n_samples)
            for s in range(0, Xt.shape[0], chunk):
                K = Xt[s : s + chunk] if self.kernel == "precomputed" else self._kernel(Xt[s : s + chunk], ref)
                Y[s : s + chunk] = centre_test_kernel(K, col, total) @ P
        return to_numpy(Y).astype(X.dtype, copy=False)

    def _has_pre_image(self) -> bool:
        if self.kernel == "precomputed" or not self.fit_inverse_transform:
            raise AttributeError(
                "inverse_transform needs the pre-image regression: refit with fit_inverse_transform=True "
                "(not available with kernel='precomputed')."
            )
        return True

    @available_if(_has_pre_image)
    def inverse_transform(self, Y):
        """Map embeddings back to the input space with the learned pre-image regression.

        Only with ``fit_inverse_transform=True`` (otherwise the estimator has no
        ``inverse_transform``, scikit-learn's convention for a method that a
        setting turns off).

        Parameters
        ----------
        Y : array-like (n_queries, n_components)

        Returns
        -------
        ndarray (n_queries, n_features)
        """
        check_is_fitted(self, "dual_coef_")
        Y = np.asarray(Y)
        k = self.X_transformed_fit_.shape[1]
        if Y.ndim != 2 or Y.shape[1] != k:
            raise ValueError(f"inverse_transform expects an array of shape (n, {k}), got {Y.shape}.")
        if not np.isfinite(Y).all():
            raise ValueError("Y contains NaN or infinity.")
        device = resolve_device(self.device)
        Yt = torch.tensor(Y, dtype=torch.float64, device=device)
        K = self._kernel(Yt, torch.from_numpy(self.X_transformed_fit_).to(device))
        X = K @ torch.from_numpy(self.dual_coef_).to(device)
        return to_numpy(X).astype(Y.dtype if Y.dtype == np.float32 else np.float64, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags


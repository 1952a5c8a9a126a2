"""Locally linear embedding: reconstruction weights, then the bottom eigenvectors of (I - W)^T (I - W)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from aekit._torch import make_numpy_rng, resolve_device, to_numpy
from aekit._validation import EmbeddingMixin
from aekit.manifold._eigen import bottom_eigenpairs
from aekit.manifold._graph import check_neighbors

__all__ = ["LocallyLinearEmbedding", "barycenter_weights", "modified_lle_cost"]

_CHUNK = 2**22  # elements of the (chunk, k, k) local Gram matrices held at once


def _float64(A: np.ndarray, device) -> torch.Tensor:
    """A float64 copy on ``device`` (also of read-only arrays, which torch will not share)."""
    return torch.tensor(np.asarray(A), dtype=torch.float64, device=device)


def barycenter_weights(X: torch.Tensor, neighbors: torch.Tensor, reg: float = 1e-3) -> torch.Tensor:
    r"""Weights that rebuild each point from its neighbours, summing to one.

    For point ``x`` with neighbours ``n_1..n_k``: ``Z = [n_c - x]`` (k, d),
    local Gram ``G = Z Z^T``, regularized ``G + r I`` with
    ``r = reg * trace(G)`` (``reg`` when the trace is 0), and

    .. math::

        w = \frac{(G + r I)^{-1} \mathbf 1}{\mathbf 1^T (G + r I)^{-1} \mathbf 1}
        = \arg\min_{\mathbf 1^T w = 1} \lVert x - \textstyle\sum_c w_c n_c \rVert^2 + r \lVert w \rVert^2 .

    Parameters
    ----------
    X : tensor (m, d)
    neighbors : tensor (m, k, d)  the neighbours' coordinates
    reg : float

    Returns
    -------
    tensor (m, k)
    """
    m, k, _ = neighbors.shape
    out = torch.empty(m, k, dtype=X.dtype, device=X.device)
    eye = torch.eye(k, dtype=X.dtype, device=X.device)
    ones = torch.ones(k, 1, dtype=X.dtype, device=X.device)
    chunk = max(1, _CHUNK // (k * max(k, neighbors.shape[2])))
    for s in range(0, m, chunk):
        Z = neighbors[s : s + chunk] - X[s : s + chunk, None, :]  # (b, k, d)
        G = Z @ Z.transpose(1, 2)  # (b, k, k)
        trace = G.diagonal(dim1=1, dim2=2).sum(1)
        r = torch.where(trace > 0, reg * trace, torch.full_like(trace, reg))
        L, info = torch.linalg.cholesky_ex(G + r[:, None, None] * eye)
        if bool((info != 0).any()):
            w = torch.linalg.solve(G + r[:, None, None] * eye, ones.expand(Z.shape[0], k, 1))
        else:
            w = torch.cholesky_solve(ones.expand(Z.shape[0], k, 1), L)
        w = w[..., 0]
        out[s : s + chunk] = w / w.sum(1, keepdim=True)
    return out


def modified_lle_cost(X: torch.Tensor, ind: torch.Tensor, n_components: int, reg: float = 1e-3, tol: float = 1e-12):
    r"""The cost matrix of modified LLE (multiple weight vectors per neighbourhood), as sparse COO parts.

    For each point the local Gram ``C = Z Z^T = V diag(λ) V^T`` (λ descending)
    gives the regularized weights ``w`` and the ``s_i`` smallest eigenvectors
    ``V_i`` (s_i chosen so that their share of the spectrum matches the median
    ratio ``η``). A Householder reflection ``H = I - 2 h h^T`` with
    ``h ∝ α 1 - V_i^T 1`` turns them into ``s_i`` weight vectors
    ``W_i = V_i H + (1 - α) w 1^T`` that all sum to one, and

    .. math::

        M = \sum_i S_i (\begin{smallmatrix} 1 \\ -W_i \end{smallmatrix})
            (\begin{smallmatrix} 1 \\ -W_i \end{smallmatrix})^T S_i^T

    with ``S_i`` selecting ``i`` and its neighbours.

    Parameters
    ----------
    X : tensor (n, d)
    ind : tensor (n, k)  neighbour indices (self excluded)
    n_components, reg, tol

    Returns
    -------
    rows, cols, values : tensors describing the sparse (n, n) matrix M (duplicates add up)

    References
    ----------
    Zhang & Wang (2007), MLLE: modified locally linear embedding using
    multiple weights, NIPS 19.
    """
    n, k = ind.shape
    d = X.shape[1]
    nev = min(d, k)
    Z = X[ind] - X[:, None, :]  # (n, k, d)
    evals, V = torch.linalg.eigh(Z @ Z.transpose(1, 2))  # ascending
    evals, V = evals.flip(1), V.flip(2)  # descending
    evals = evals.clamp_min(0.0)
    evals[:, nev:] = 0.0  # the Gram has rank <= d
    r = reg * evals.sum(1)  # (n,)
    tmp = (V.transpose(1, 2) @ torch.ones(n, k, 1, dtype=X.dtype, device=X.device))[..., 0]  # (n, k)
    denom = torch.cat([evals[:, :nev] + r[:, None], r[:, None].expand(n, k - nev)], dim=1)
    w_reg = (V @ (tmp / denom)[..., None])[..., 0]
    w_reg = w_reg / w_reg.sum(1, keepdim=True)
    # number of "small" eigenvectors per point
    top = evals[:, :n_components].sum(1)
    rho = evals[:, n_components:nev].sum(1) / top
    eta = torch.quantile(rho, 0.5)  # the median ratio (averaging the middle two, as numpy does)
    csum = evals[:, :nev].cumsum(1)
    eta_range = csum[:, -1:] / csum[:, :-1] - 1.0  # (n, nev - 1), decreasing
    s = (eta_range < eta).sum(1) + (k - nev)  # (n,)
    s = s.clamp(1, k)
    # V_i: the last s_i columns of V (the smallest eigenvalues), others masked to zero
    mask = (torch.arange(k, device=X.device)[None, :] >= (k - s)[:, None]).to(X.dtype)  # (n, k)
    Vi = V * mask[:, None, :]
    alpha = torch.linalg.norm(Vi.sum(1), dim=1) / s.to(X.dtype).sqrt()  # (n,)
    h = alpha[:, None] * mask - Vi.sum(1)  # (n, k): alpha 1 - V_i^T 1 on the kept columns
    norm_h = torch.linalg.norm(h, dim=1, keepdim=True)
    h = torch.where(norm_h < tol, torch.zeros_like(h), h / norm_h.clamp_min(tol))
    Wi = Vi - 2.0 * (Vi @ h[..., None]) * h[:, None, :] + (1.0 - alpha)[:, None, None] * w_reg[:, :, None] * mask[:, None, :]
    WWt = Wi @ Wi.transpose(1, 2)  # (n, k, k)
    wsum = Wi.sum(2)  # (n, k)
    i = torch.arange(n, device=X.device)
    rows = torch.cat([ind[:, :, None].expand(n, k, k).reshape(-1), i.repeat_interleave(k), ind.reshape(-1), i])
    cols = torch.cat([ind[:, None, :].expand(n, k, k).reshape(-1), ind.reshape(-1), i.repeat_interleave(k), i])
    vals = torch.cat([WWt.reshape(-1), -wsum.reshape(-1), -wsum.reshape(-1), s.to(X.dtype)])
    return rows, cols, vals


class LocallyLinearEmbedding(EmbeddingMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Locally linear embedding: keep each point's reconstruction from its neighbours.

    1. Reconstruction weights ``W`` (rows sum to one) from the ``n_neighbors``
       nearest points, regularized by ``reg * trace`` of the local Gram
       matrix (:func:`barycenter_weights`).
    2. The embedding minimizes ``Σ_i |y_i - Σ_j W_ij y_j|^2`` under
       ``Y^T Y = I``: the bottom eigenvectors of the sparse
       ``M = (I - W)^T (I - W)``, skipping the constant one.

    ``method="modified"`` uses several weight vectors per neighbourhood
    (Zhang & Wang 2007), which keeps the weights stable when
    ``n_neighbors > n_features``.

    New points (``transform``) get reconstruction weights from their
    ``n_neighbors`` nearest training points, applied to those points'
    embedding: ``y = Σ_c w_c y_c``.

    Parameters
    ----------
    n_neighbors : int, default=5
    n_components : int, default=2
    reg : float, default=1e-3
        Regularization relative to the trace of each local Gram matrix.
    eigen_solver : {"auto", "arpack", "dense"}, default="auto"
        "arpack": shift-invert ARPACK around 0 on the sparse ``M``; "dense":
        ``torch.linalg.eigh`` on the device. "auto": dense up to 500 points
        (20000 on a GPU).
    tol : float, default=1e-6
    max_iter : int, default=100
        ARPACK's tolerance and iterations.
    method : {"standard", "modified"}, default="standard"
    modified_tol : float, default=1e-12
        Below this norm the Householder vector of modified LLE is dropped.
    neighbors_algorithm : {"auto", "brute", "kd_tree", "ball_tree"}, default="auto"
    n_jobs : int or None, default=None
    random_state : int, numpy Generator or None, default=None
        ARPACK's starting vector.
    device : str, default="cpu"

    Attributes
    ----------
    embedding_ : ndarray (n_samples, n_components)
    reconstruction_error_ : float
        ``Σ`` of the kept eigenvalues = ``Σ_i |y_i - Σ_j W_ij y_j|^2`` (standard LLE).
    X_fit_ : ndarray (n_samples, n_features)
    n_features_in_ : int

    References
    ----------
    Roweis & Saul (2000), Nonlinear dimensionality reduction by locally linear
    embedding, Science 290. Zhang & Wang (2007), MLLE: modified locally linear
    embedding using multiple weights, NIPS 19.
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, None, closed="neither")],
        "eigen_solver": [StrOptions({"auto", "arpack", "dense"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"standard", "modified"})],
        "modified_tol": [Interval(Real, 0, None, closed="left")],
        "neighbors_algorithm": [StrOptions({"auto", "brute", "kd_tree", "ball_tree"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state", np.random.Generator],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        n_neighbors=5,
        n_components=2,
        reg=1e-3,
        eigen_solver="auto",
        tol=1e-6,
        max_iter=100,
        method="standard",
        modified_tol=1e-12,
        neighbors_algorithm="auto",
        n_jobs=None,
        random_state=None,
        device="cpu",
    ):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.reg = reg
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.method = method
        self.modified_tol = modified_tol
        self.neighbors_algorithm = neighbors_algorithm
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.device = device

    def _make_neighbors(self) -> NearestNeighbors:
        return NearestNeighbors(n_neighbors=self.n_neighbors, algorithm=self.neighbors_algorithm, n_jobs=self.n_jobs)

    def _neighbors(self) -> NearestNeighbors:
        """The neighbour index of the training points (rebuilt after loading)."""
        nn = getattr(self, "_nn", None)
        if nn is None:
            nn = self._nn = self._make_neighbors().fit(self.X_fit_)
        return nn

    def _fit(self, X):
        X = self._validate(X, reset=True, ensure_min_samples=2)
        n, d = X.shape
        check_neighbors(self.n_neighbors, None, n)
        if self.n_components > d:
            raise ValueError(
                f"n_components={self.n_components} is larger than n_features={d}: LLE cannot embed "
                "in more dimensions than the data has. Lower n_components."
            )
        if self.n_components + 1 >= n:
            raise ValueError(
                f"n_components={self.n_components} needs at least n_components + 2 = {self.n_components + 2} "
                f"samples, got {n}."
            )
        if self.method == "modified" and self.n_neighbors < self.n_components:
            raise ValueError(
                f"modified LLE needs n_neighbors >= n_components, got {self.n_neighbors} < {self.n_components}."
            )
        device = resolve_device(self.device)
        self.X_fit_ = X
        self._nn = self._make_neighbors().fit(X)
        ind = self._nn.kneighbors(return_distance=False)  # (n, k), self excluded
        self._warn_if_disconnected(ind)
        Xt = _float64(X, device)
        indt = torch.as_tensor(ind, device=device)
        k = self.n_neighbors
        if self.method == "standard":
            W = barycenter_weights(Xt, Xt[indt], self.reg)
            Wsp = sp.csr_matrix((to_numpy(W).ravel(), ind.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
            IW = sp.identity(n, format="csr") - Wsp
            M = (IW.T @ IW).tocsr()
        else:
            rows, cols, vals = modified_lle_cost(Xt, indt, self.n_components, self.reg, self.modified_tol)
            M = sp.coo_matrix((to_numpy(vals), (to_numpy(rows), to_numpy(cols))), shape=(n, n)).tocsr()
        values, vectors = bottom_eigenpairs(
            M,
            self.n_components,
            n_skip=1,
            solver=self.eigen_solver,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=make_numpy_rng(self.random_state),
            device=device,
        )
        self.embedding_ = np.ascontiguousarray(vectors).astype(X.dtype, copy=False)
        self.reconstruction_error_ = float(np.sum(values))
        return self

    def _warn_if_disconnected(self, ind: np.ndarray) -> None:
        n, k = ind.shape
        graph = sp.csr_matrix((np.ones(n * k), ind.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
        n_comp, _ = connected_components(graph, directed=False)
        if n_comp > 1:
            warnings.warn(
                f"The {k}-nearest-neighbour graph is disconnected ({n_comp} connected components): LLE then "
                "embeds the components independently and their relative placement is arbitrary. "
                "Increase n_neighbors to connect them.",
                UserWarning,
                stacklevel=3,
            )

    def transform(self, X):
        """Embeddings (n_queries, n_components) of new points ``X`` (n_queries, n_features).

        Each point's reconstruction weights from its training neighbours,
        applied to their embeddings.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        ind = self._neighbors().kneighbors(X, n_neighbors=self.n_neighbors, return_distance=False)
        train = _float64(self.X_fit_, device)
        indt = torch.as_tensor(ind, device=device)
        W = barycenter_weights(_float64(X, device), train[indt], self.reg)
        Y = _float64(self.embedding_, device)
        out = (W[:, :, None] * Y[indt]).sum(1)
        return to_numpy(out).astype(X.dtype, copy=False)

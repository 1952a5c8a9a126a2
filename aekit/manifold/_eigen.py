"""Eigensolvers shared by the spectral manifold methods (MDS, Isomap, kernel PCA, LLE).

* :func:`top_eigenpairs` — largest eigenpairs of a dense symmetric matrix held
  as a torch tensor: ``torch.linalg.eigh`` on its device ("dense"), ARPACK
  through :func:`scipy.sparse.linalg.eigsh` with torch matrix products
  ("arpack"), or a randomized range finder in torch ("randomized").
* :func:`bottom_eigenpairs` — smallest eigenpairs of a sparse symmetric
  positive semi-definite matrix (LLE's ``(I - W)^T (I - W)``), skipping the
  constant null vector: ARPACK in shift-invert mode or a dense ``eigh``.

Eigenvectors get a deterministic sign: the entry of largest magnitude of each
one is positive.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from aekit._torch import make_generator, make_numpy_rng, to_numpy
from aekit._validation import resolve_option

__all__ = ["EIGEN_SOLVERS", "top_eigenpairs", "bottom_eigenpairs", "fix_signs"]

EIGEN_SOLVERS = ("auto", "dense", "arpack", "randomized")


def fix_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Flip columns so that each one's entry of largest magnitude is positive."""
    idx = vectors.abs().argmax(dim=0)
    signs = torch.sign(vectors[idx, torch.arange(vectors.shape[1], device=vectors.device)])
    signs[signs == 0] = 1
    return (vectors * signs).contiguous()


def _choose(solver: str, n: int, k: int, device: torch.device) -> str:
    resolve_option("eigen_solver", solver, dict.fromkeys(EIGEN_SOLVERS))
    if solver != "auto":
        return solver
    if n <= 500 or 5 * k >= n:
        return "dense"
    if device.type != "cpu":
        return "dense" if n <= 20000 else "randomized"
    return "arpack" if k < 10 else ("dense" if n <= 4000 else "randomized")


def _arpack_v0(n: int, random_state) -> np.ndarray:
    return make_numpy_rng(random_state).uniform(-1.0, 1.0, n)


def top_eigenpairs(
    A: torch.Tensor,
    n_components: int,
    *,
    solver: str = "auto",
    tol: float = 0.0,
    max_iter: int | None = None,
    random_state=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n_components`` largest (algebraic) eigenpairs of a symmetric matrix.

    Parameters
    ----------
    A : tensor, shape (n, n)
        Symmetric; float64 recommended.
    n_components : int
    solver : {"auto", "dense", "arpack", "randomized"}
        "auto" takes "dense" for n <= 500 (or many components), on a GPU up
        to n = 20000, and ARPACK on the CPU for fewer than 10 components.
        "randomized" returns the eigenpairs of largest *magnitude*, which are
        the largest ones for positive semi-definite matrices.
    tol, max_iter : ARPACK's stopping rule (0 = machine precision; None =
        10 n iterations), or for "randomized" the number of power iterations
        (``max_iter``, default 7).
    random_state : the ARPACK starting vector and the randomized sketch.

    Returns
    -------
    values : tensor (n_components,), descending
    vectors : tensor (n, n_components), orthonormal columns, deterministic signs
    """
    n = A.shape[0]
    k = int(n_components)
    method = _choose(solver, n, k, A.device)
    if method == "arpack" and k >= n:
        method = "dense"
    if method == "dense":
        values, vectors = torch.linalg.eigh(A)
        values, vectors = values[-k:].flip(0), vectors[:, -k:].flip(1)
    elif method == "arpack":
        if A.device.type == "cpu":
            op = to_numpy(A)
        else:
            def matmat(V):
                return to_numpy(A @ torch.as_tensor(np.asarray(V), dtype=A.dtype, device=A.device))

            op = LinearOperator((n, n), matvec=matmat, matmat=matmat, dtype=np.float64)
        vals, vecs = eigsh(op, k=k, which="LA", tol=tol, maxiter=max_iter, v0=_arpack_v0(n, random_state))
        order = np.argsort(vals)[::-1]
        values = torch.as_tensor(vals[order].copy(), dtype=A.dtype, device=A.device)
        vectors = torch.as_tensor(vecs[:, order].copy(), dtype=A.dtype, device=A.device)
    else:
        values, vectors = _randomized_eigh(A, k, n_iter=7 if max_iter is None else int(max_iter), random_state=random_state)
    return values, fix_signs(vectors)


def _randomized_eigh(A: torch.Tensor, k: int, *, n_iter: int, random_state, oversample: int = 10):
    """Randomized range finder with power iterations, then a Rayleigh–Ritz step.

    Halko, Martinsson & Tropp (2011), Finding structure with randomness, SIAM Review 53.
    """
    n = A.shape[0]
    p = min(n, k + oversample)
    gen = make_generator(random_state, A.device)
    Q = torch.randn(n, p, dtype=A.dtype, device=A.device, generator=gen)
    Q, _ = torch.linalg.qr(A @ Q)
    for _ in range(n_iter):
        Q, _ = torch.linalg.qr(A @ Q)
    T = Q.T @ A @ Q  # (p, p)
    vals, W = torch.linalg.eigh((T + T.T) / 2)
    order = torch.argsort(vals.abs(), descending=True)[:k]
    vals, W = vals[order], W[:, order]
    order = torch.argsort(vals, descending=True)
    return vals[order], Q @ W[:, order]


def bottom_eigenpairs(
    M: sp.sparray | sp.spmatrix,
    n_components: int,
    *,
    n_skip: int = 1,
    solver: str = "auto",
    tol: float = 1e-6,
    max_iter: int = 100,
    random_state=None,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs ``n_skip .. n_skip + n_components - 1`` from the bottom of a sparse PSD matrix.

    Parameters
    ----------
    M : sparse matrix, shape (n, n)
        Symmetric positive semi-definite (LLE's cost matrix).
    n_components : int
    n_skip : int
        Bottom eigenvectors to drop (1: the constant vector of LLE).
    solver : {"auto", "dense", "arpack"}
        "dense": ``torch.linalg.eigh`` of ``M`` as a dense matrix on ``device``;
        "arpack": :func:`scipy.sparse.linalg.eigsh` in shift-invert mode
        around 0 (one sparse LU factorization). "auto" is "dense" up to
        n = 500 (on a GPU up to 20000) and "arpack" beyond.

    Returns
    -------
    values : ndarray (n_components,), ascending
    vectors : ndarray (n, n_components), deterministic signs
    """
    n = M.shape[0]
    k = int(n_components)
    resolve_option("eigen_solver", solver, dict.fromkeys(("auto", "dense", "arpack")))
    device = torch.device(device)
    if solver == "auto":
        limit = 20000 if device.type != "cpu" else 500
        solver = "dense" if n <= limit or k + n_skip >= n else "arpack"
    if solver == "arpack" and k + n_skip < n:
        try:
            vals, vecs = eigsh(
                sp.csc_matrix(M), k=k + n_skip, sigma=0.0, which="LM", tol=tol, maxiter=max_iter,
                v0=_arpack_v0(n, random_state),
            )
        except RuntimeError as exc:
            raise ValueError(
                f"ARPACK did not find the bottom eigenvectors ({exc}); "
                "use eigen_solver='dense' or raise max_iter / reg."
            ) from None
        order = np.argsort(vals)[n_skip:]
        values, vectors = vals[order], vecs[:, order]
    else:
        dense = torch.as_tensor(M.toarray(), dtype=torch.float64, device=device)
        vals, vecs = torch.linalg.eigh(dense)
        values, vectors = to_numpy(vals[n_skip : n_skip + k]), to_numpy(vecs[:, n_skip : n_skip + k])
    vectors = to_numpy(fix_signs(torch.as_tensor(np.ascontiguousarray(vectors))))
    return values, vectors

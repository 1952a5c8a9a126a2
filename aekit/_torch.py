"""Devices, generators, array <-> tensor conversion and small tensor kernels, shared by every estimator.

Library code never touches global random state: ``random_state`` becomes a
:class:`torch.Generator` (or a :class:`numpy.random.Generator`) inside ``fit``.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings

import numpy as np
import torch

__all__ = [
    "resolve_device",
    "make_generator",
    "make_numpy_rng",
    "as_tensor",
    "to_numpy",
    "seed_from",
    "as_device_tensor",
    "map_rows",
    "CHUNK_ROWS",
    "as_float_matrix",
    "sq_dists",
    "leading_axes",
    "one_cpu_thread",
]


def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    ``None`` and ``"cpu"`` give the CPU, ``"auto"`` the first CUDA device when
    one is available (else the CPU), anything else is passed to ``torch.device``.
    Asking for CUDA on a machine without it raises a clear error.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device: use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA but this torch build sees no GPU "
            f"(torch {torch.__version__}); use device='cpu' or device='auto'."
        )
    return dev


def seed_from(random_state) -> int:
    """A 63-bit integer seed drawn from ``random_state`` (None, int or numpy Generator/RandomState)."""
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}.")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}."
    )


def make_generator(random_state, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``random_state``."""
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(seed_from(random_state))
    return gen


def make_numpy_rng(random_state) -> np.random.Generator:
    """A :class:`numpy.random.Generator` seeded from ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(seed_from(random_state))


def as_tensor(X, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``X`` (array-like or tensor) as a contiguous tensor of ``dtype`` on ``device``."""
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype).contiguous()
    return torch.as_tensor(np.ascontiguousarray(X), dtype=dtype, device=device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor on any device as a numpy array (detached, on the CPU)."""
    return t.detach().cpu().numpy()


def as_device_tensor(X, device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``X`` (array or tensor) on ``device``; on the CPU a float array is shared, not copied.

    Read-only arrays (memory maps) are shared too: the kernels never write to
    their input, so torch's warning about non-writable arrays does not apply.
    """
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype or X.dtype)
    X = np.ascontiguousarray(X)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(X)
    return t.to(device=device, dtype=dtype or t.dtype)


#: Rows per forward pass when a fitted model maps a whole data set (transform, predict, statistics).
CHUNK_ROWS = 8192


@torch.no_grad()
def map_rows(fn, X: torch.Tensor, rows: int = CHUNK_ROWS) -> torch.Tensor:
    """``fn`` applied to ``X`` (n, ...) ``rows`` rows at a time, without a graph; float32 results concatenated."""
    parts = [fn(X[s : s + rows]).float() for s in range(0, X.shape[0], rows)]
    return torch.cat(parts) if parts else X.new_zeros((0, 0))


def as_float_matrix(A, name: str, device, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``A`` (array or tensor, shape (n, d) with n >= 1, finite numbers) as a ``dtype`` tensor on ``device``.

    Anything else raises a ValueError naming ``name`` and the problem. Arrays
    are copied: torch does not share read-only numpy memory.
    """
    t = A.detach() if isinstance(A, torch.Tensor) else torch.tensor(np.asarray(A))
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {tuple(t.shape)}.")
    if t.shape[0] == 0:
        raise ValueError(f"{name} has zero samples.")
    if not t.dtype.is_floating_point and t.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise ValueError(f"{name} must hold numbers, got dtype {t.dtype}.")
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinity; clean the data or the embedding first.")
    return t


def sq_dists(A_rows: torch.Tensor, A: torch.Tensor, sq_norms: torch.Tensor, row_norms: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``|a_i - a_j|^2`` (chunk, n) of rows (chunk, d) to points ``A`` (n, d).

    ``sq_norms`` (n,) and ``row_norms`` (chunk,) are the squared norms of ``A``
    and of ``A_rows``; rounding below zero is clipped.
    """
    d = torch.addmm(row_norms[:, None] + sq_norms[None, :], A_rows, A.T, alpha=-2.0)
    return d.clamp_min_(0.0)


def leading_axes(Xc: torch.Tensor, k: int, generator: torch.Generator, n_iter: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` principal axes ``(k, d)`` and variances ``(k,)`` of centred ``Xc`` ``(m, d)``.

    Exact eigendecomposition of the covariance when ``d`` is small, else a
    randomized subspace iteration (Halko et al. 2011) with a Rayleigh-Ritz step.
    """
    m, d = Xc.shape
    if d <= 64:
        evals, evecs = torch.linalg.eigh(Xc.T @ Xc / max(m - 1, 1))
        order = torch.argsort(evals, descending=True)[:k]
        return evecs[:, order].T, evals[order].clamp_min(0)
    q = min(d, k + 8)
    Q = torch.randn(d, q, generator=generator, device=Xc.device, dtype=Xc.dtype)
    for _ in range(n_iter):
        Q, _ = torch.linalg.qr(((Xc @ Q).T @ Xc).T)  # (Xc^T Xc) Q, written so both products are row-major
    B = Xc @ Q  # (m, q)
    evals, evecs = torch.linalg.eigh(B.T @ B / max(m - 1, 1))
    order = torch.argsort(evals, descending=True)[:k]
    return (Q @ evecs[:, order]).T, evals[order].clamp_min(0)


@contextlib.contextmanager
def one_cpu_thread(device: torch.device):
    """Run torch's CPU kernels on one thread for a while (then restore the thread count).

    Sequential rules (the online SOM, CCA's pivot steps) are thousands of tiny
    steps; splitting each across threads costs more than the step, and on a busy
    machine waiting threads make it 10-100x slower. A CPU PCA fit uses it too: its
    heavy work is BLAS (NumPy's Gram product, SciPy's eigensolve) and torch only
    does O(d^2) bookkeeping between those calls, where a woken torch pool would
    leave threads spinning on the cores the BLAS wants. GPUs are unaffected.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)

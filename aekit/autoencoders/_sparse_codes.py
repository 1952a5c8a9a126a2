"""Sparse codes as CSR rows, and the three products a sparse autoencoder needs on them.

A batch of codes ``H`` (n, m) with few non-zeros per row is kept as
:class:`SparseCodes`: for row ``r``, the entries ``crow[r]:crow[r + 1]`` of
``indices`` (latents) and ``values``. With a decoder ``W`` (m, d) whose rows
are the dictionary atoms, the products are

    decode          Y = H W                          (n, d)   Σ over a row's entries of value · W[latent]
    sampled_dot     S_e = <A[row(e)], W[latent(e)]>  (nnz,)   the entries of A Wᵀ that H keeps
    latent_scatter  G = Hᵀ A                         (m, d)   Σ over a latent's entries of value · A[row]

each costing O(nnz · d) instead of the dense O(n · m · d). They are
torch's CSR kernels (MKL on the CPU, cuSPARSE on CUDA). ``latent_scatter``
needs the codes ordered by latent (CSR of ``Hᵀ``), which
:meth:`SparseCodes.by_latent` builds once (a stable sort of the latent
indices) and keeps for every later product on the same pattern.

:func:`decode` is differentiable (values and ``W``) through its own backward
pass: ``∂/∂values = sampled_dot(∂Y, W)``, ``∂/∂W = latent_scatter(values, ∂Y)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch

__all__ = ["SparseCodes", "LatentOrder", "decode", "decode_values", "sampled_dot", "latent_scatter", "upcast"]


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A torch CSR tensor, without torch's one-time notices (CSR support in beta, invariant checks off):
    the kernels used here are covered by this package's tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size=size)


@dataclass(frozen=True)
class LatentOrder:
    """The codes' entries ordered by latent: the CSR structure of ``Hᵀ`` (m, n).

    Attributes
    ----------
    order : (nnz,) int64
        Entry positions (in row order) sorted by latent, stably (so rows ascend within a latent).
    crow : (m + 1,) int64
        Latent ``j`` owns ``order[crow[j]:crow[j + 1]]``.
    rows : (nnz,) int64
        The row of each entry, in that order.
    """

    order: torch.Tensor
    crow: torch.Tensor
    rows: torch.Tensor


@dataclass(eq=False)
class SparseCodes:
    """Codes of ``n`` rows over ``n_latents`` latents in CSR form.

    Attributes
    ----------
    values : (nnz,) float
    indices : (nnz,) int64 latent of each entry
    crow : (n + 1,) int64 row pointers
    n_latents : int
    """

    values: torch.Tensor
    indices: torch.Tensor
    crow: torch.Tensor
    n_latents: int
    _cache: dict = field(default_factory=dict, repr=False)  # shared by every copy with the same pattern

    @classmethod
    def from_rows(cls, values: torch.Tensor, indices: torch.Tensor, n_latents: int) -> "SparseCodes":
        """Codes with the same number ``k`` of entries in every row: ``values``, ``indices`` of shape (n, k)."""
        n, k = indices.shape
        crow = torch.arange(0, n * k + 1, k, device=indices.device, dtype=torch.int64)
        return cls(values.reshape(-1), indices.reshape(-1), crow, n_latents)

    @classmethod
    def from_dense(cls, h: torch.Tensor) -> "SparseCodes":
        """The non-zero entries of dense codes ``h`` (n, m), row by row."""
        mask = h != 0
        crow = torch.zeros(h.shape[0] + 1, dtype=torch.int64, device=h.device)
        torch.cumsum(mask.sum(dim=1), 0, out=crow[1:])
        return cls(h[mask], mask.nonzero()[:, 1], crow, h.shape[1])

    @property
    def n_rows(self) -> int:
        return self.crow.shape[0] - 1

    def with_values(self, values: torch.Tensor) -> "SparseCodes":
        """The same pattern (and its cached latent order) with other values (nnz,)."""
        return SparseCodes(values, self.indices, self.crow, self.n_latents, self._cache)

    def row_ids(self) -> torch.Tensor:
        """The row of each entry (nnz,) int64."""
        counts = self.crow.diff()
        return torch.repeat_interleave(torch.arange(self.n_rows, device=counts.device), counts)

    def by_latent(self) -> LatentOrder:
        """The entries ordered by latent (computed once per pattern)."""
        if "by_latent" not in self._cache:
            order = torch.argsort(self.indices, stable=True)
            crow = torch.zeros(self.n_latents + 1, dtype=torch.int64, device=self.indices.device)
            torch.cumsum(torch.bincount(self.indices, minlength=self.n_latents), 0, out=crow[1:])
            self._cache["by_latent"] = LatentOrder(order, crow, self.row_ids()[order])
        return self._cache["by_latent"]

    def csr(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """``H`` as a torch sparse CSR tensor (n, m) (with ``values`` in place of the codes' own)."""
        v = self.values if values is None else values
        return _csr(self.crow, self.indices, v, (self.n_rows, self.n_latents))

    def to_dense(self) -> torch.Tensor:
        """``H`` as a dense (n, m) tensor (duplicates summed)."""
        out = torch.zeros(self.n_rows, self.n_latents, dtype=self.values.dtype, device=self.values.device)
        return out.index_put_((self.row_ids(), self.indices), self.values, accumulate=True)

    def fired(self) -> torch.Tensor:
        """(m,) bool: the latents with a non-zero entry in some row."""
        active = self.indices[self.values != 0]
        return torch.bincount(active, minlength=self.n_latents) > 0


def upcast(t: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors as float32 (the sparse kernels take float32 and float64 only); others unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def decode_values(codes: SparseCodes, W: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
    """``H W`` (n, d) for the codes (or ``values`` on their pattern) and atoms ``W`` (m, d); no autograd."""
    v = codes.values if values is None else values
    W = upcast(W)
    if v.numel() == 0:
        return W.new_zeros(codes.n_rows, W.shape[1])
    return codes.csr(v.to(W.dtype)) @ W


def sampled_dot(codes: SparseCodes, A: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``<A[row(e)], W[latent(e)]>`` for every entry ``e`` of the codes (nnz,): the kept entries of ``A Wᵀ``.

    ``A`` (n, d), ``W`` (m, d).
    """
    A, W = upcast(A), upcast(W)
    if codes.indices.numel() == 0:
        return A.new_zeros(0)
    pattern = codes.csr(torch.zeros(codes.indices.shape[0], dtype=A.dtype, device=A.device))
    return torch.sparse.sampled_addmm(pattern, A, W.t(), beta=0.0).values()


def latent_scatter(codes: SparseCodes, weights: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``Σ_{e of latent j} weights[e] · A[row(e)]`` for every latent ``j`` (m, d): ``Hᵀ A`` with ``H``'s values
    replaced by ``weights`` (nnz,), in row order. ``A`` (n, d)."""
    A = upcast(A)
    if weights.numel() == 0:
        return A.new_zeros(codes.n_latents, A.shape[1])
    lat = codes.by_latent()
    Ht = _csr(lat.crow, lat.rows, weights.to(A.dtype)[lat.order], (codes.n_latents, codes.n_rows))
    return Ht @ A


class _Decode(torch.autograd.Function):
    """``Y = H W`` with the sparse backward pass (see the module docstring)."""

    @staticmethod
    def forward(ctx, values, W, codes):
        ctx.codes = codes
        ctx.save_for_backward(values, W)
        with torch.autocast(device_type=W.device.type, enabled=False):  # the sparse kernels take float32
            return decode_values(codes, W, values)

    @staticmethod
    def backward(ctx, grad):
        values, W = ctx.saved_tensors
        codes = ctx.codes
        with torch.autocast(device_type=W.device.type, enabled=False):
            grad_values = sampled_dot(codes, grad, W).to(values.dtype) if ctx.needs_input_grad[0] else None
            grad_W = latent_scatter(codes, values.detach(), grad).to(W.dtype) if ctx.needs_input_grad[1] else None
        return grad_values, grad_W, None


def decode(codes: SparseCodes, W: torch.Tensor) -> torch.Tensor:
    """``H W`` (n, d) for sparse codes and atoms ``W`` (m, d), differentiable in ``codes.values`` and ``W``."""
    return _Decode.apply(codes.values, W, codes)

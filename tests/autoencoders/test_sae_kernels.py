"""Sparse-autoencoder kernels: exact selections, the CSR products against dense ones (values and gradients)."""

import numpy as np
import pytest
import torch

from aekit.autoencoders._sae_kernels import (
    Workspace,
    normalize_rows_,
    preactivations,
    remove_parallel_component,
    select_encode,
)
from aekit.autoencoders._select import top_k_batch, top_k_rows
from aekit.autoencoders._sparse_codes import SparseCodes, decode, latent_scatter, sampled_dot


def _sorted_values(v):
    return torch.sort(v.float().reshape(v.shape[0], -1) if v.ndim > 1 else v.float(), dim=-1).values


@pytest.mark.parametrize("n,m,k", [(64, 4608, 32), (50, 2049, 7), (40, 1500, 5), (30, 1024, 64), (20, 100, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_top_k_rows_equals_torch_topk(n, m, k, dtype):
    z = torch.randn(n, m, generator=torch.Generator().manual_seed(m + k)).to(dtype)
    values, indices = top_k_rows(z, k)
    expected = torch.topk(z, k, dim=1).values
    assert values.dtype == dtype and indices.shape == (n, k)
    assert torch.equal(_sorted_values(values), _sorted_values(expected))
    assert torch.equal(z.gather(1, indices), values)
    assert all(len(set(row.tolist())) == k for row in indices)  # k distinct latents per row


def test_top_k_rows_two_level_path_with_threads_and_tail():
    # m = 4099 is not a multiple of the group size: the leftover columns are always candidates;
    # the largest entries are planted there and in the first column
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2100, 4099, generator=g)
    z[:, -1] = 50.0
    z[:, 0] = 40.0
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # row blocks partitioned in parallel
    try:
        values, indices = top_k_rows(z, 16)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(_sorted_values(values), _sorted_values(torch.topk(z, 16, dim=1).values))
    assert bool((indices == 4098).any(dim=1).all()) and bool((indices == 0).any(dim=1).all())


@pytest.mark.parametrize("n,m,k", [(64, 4608, 32), (33, 300, 4), (10, 50, 7)])
def test_top_k_batch_keeps_exactly_k_times_rows_the_largest(n, m, k):
    g = torch.Generator().manual_seed(n)
    z = torch.randn(n, m, generator=g)
    z[0] += 3.0  # one row takes far more than k entries
    values, indices, crow = top_k_batch(z, k * n)
    assert values.numel() == k * n and int(crow[-1]) == k * n
    assert torch.equal(torch.sort(values).values, torch.sort(torch.topk(z.reshape(-1), k * n).values).values)
    rows = torch.repeat_interleave(torch.arange(n), crow.diff())
    assert torch.equal(z[rows, indices], values)
    assert int(crow.diff()[0]) > k  # the shifted row kept more than k


def test_top_k_batch_breaks_ties_to_the_exact_count():
    z = torch.zeros(6, 10)
    z[:, :3] = 1.0  # 18 entries tie at 1.0, 12 are kept
    values, indices, crow = top_k_batch(z, 12)
    assert values.numel() == 12 and bool((values == 1.0).all())


def test_k_larger_than_the_width_is_a_clear_error():
    with pytest.raises(ValueError, match="k=9 must be between 1 and the number of latents \\(8\\)"):
        top_k_rows(torch.randn(3, 8), 9)


def _random_codes(n, m, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, m, generator=g, dtype=torch.float64)
    values, indices = torch.topk(z, k, dim=1, sorted=False)
    return SparseCodes.from_rows(values, indices, m)


def test_sparse_products_equal_dense_ones():
    n, m, d, k = 37, 90, 13, 6
    codes = _random_codes(n, m, k)
    H = codes.to_dense()
    g = torch.Generator().manual_seed(1)
    W = torch.randn(m, d, generator=g, dtype=torch.float64)
    A = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(codes.values.shape, generator=g, dtype=torch.float64)
    tol = dict(rtol=0, atol=1e-12)  # float64 sums of a few dozen O(1) products
    torch.testing.assert_close(decode(codes, W), H @ W, **tol)
    torch.testing.assert_close(sampled_dot(codes, A, W), (A @ W.t())[codes.row_ids(), codes.indices], **tol)
    torch.testing.assert_close(latent_scatter(codes, w, A), codes.with_values(w).to_dense().t() @ A, **tol)
    # variable row lengths, an empty row, a latent used twice in one row (summed)
    ragged = SparseCodes(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64), torch.tensor([3, 3, 0, 5]),
                         torch.tensor([0, 2, 2, 4]), 6)
    W6 = W[:6]
    torch.testing.assert_close(decode(ragged, W6), ragged.to_dense() @ W6, **tol)
    assert torch.equal(ragged.fired(), torch.tensor([True, False, False, True, False, True]))


def test_decode_gradients_equal_dense_autograd():
    n, m, d, k = 21, 40, 9, 5
    codes = _random_codes(n, m, k, seed=3)
    W = torch.randn(m, d, dtype=torch.float64, requires_grad=True)
    values = codes.values.clone().requires_grad_()
    upstream = torch.randn(n, d, dtype=torch.float64)
    (decode(codes.with_values(values), W) * upstream).sum().backward()
    W2 = W.detach().clone().requires_grad_()
    values2 = codes.values.clone().requires_grad_()
    dense = torch.zeros(n, m, dtype=torch.float64).index_put((codes.row_ids(), codes.indices), values2)
    ((dense @ W2) * upstream).sum().backward()
    torch.testing.assert_close(values.grad, values2.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(W.grad, W2.grad, rtol=0, atol=1e-12)


def test_select_encode_gradients_equal_dense_autograd_through_topk():
    # the sparse encoder pass (custom backward) against autograd through a dense TopK + ReLU
    n, m, d, k = 30, 64, 10, 4
    g = torch.Generator().manual_seed(4)
    xn = torch.randn(n, d, generator=g, dtype=torch.float64)
    params = [torch.randn(d, generator=g, dtype=torch.float64), torch.randn(m, d, generator=g, dtype=torch.float64),
              torch.randn(m, generator=g, dtype=torch.float64)]
    upstream = torch.randn(n, k, generator=g, dtype=torch.float64)

    def select(z):
        values, indices = torch.topk(z, k, dim=1)
        return [SparseCodes.from_rows(torch.relu(values), indices, m)]

    sparse_params = [p.clone().requires_grad_() for p in params]
    (codes,) = select_encode(xn, *sparse_params, select=select, dtype=torch.float64, workspace=Workspace())
    (codes.values.view(n, k) * upstream).sum().backward()

    dense_params = [p.clone().requires_grad_() for p in params]
    b_dec, W_enc, b_enc = dense_params
    z = (xn - b_dec) @ W_enc.t() + b_enc
    values, _ = torch.topk(z, k, dim=1)
    (torch.relu(values) * upstream).sum().backward()
    for a, b in zip(sparse_params, dense_params):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-10)


def test_preactivations_with_the_bias_in_the_product_equal_addmm():
    g = torch.Generator().manual_seed(5)
    xc, W, b = torch.randn(50, 20, generator=g), torch.randn(70, 20, generator=g), torch.randn(70, generator=g)
    ws = Workspace()
    z = preactivations(xc, W, b, torch.float32, ws)
    torch.testing.assert_close(z, torch.addmm(b, xc, W.t()), rtol=1e-5, atol=1e-5)
    z2 = preactivations(xc * 2, W, b, torch.float32, ws)  # the buffers are reused, the padding stays valid
    assert z2.data_ptr() == z.data_ptr()
    torch.testing.assert_close(z2, torch.addmm(b, 2 * xc, W.t()), rtol=1e-5, atol=1e-5)


def test_parallel_component_removed_and_rows_renormalized():
    g = torch.Generator().manual_seed(6)
    W = torch.randn(12, 7, generator=g, dtype=torch.float64)
    grad = torch.randn(12, 7, generator=g, dtype=torch.float64)
    original = grad.clone()
    remove_parallel_component(grad, W)
    assert float((grad * W).sum(dim=1).abs().max()) < 1e-12
    # what was removed is parallel to each row: the rest of the gradient is unchanged
    removed = original - grad
    cos = (removed * W).sum(1) / (removed.norm(dim=1) * W.norm(dim=1))
    torch.testing.assert_close(cos.abs(), torch.ones(12, dtype=torch.float64))
    normalize_rows_(W)
    torch.testing.assert_close(W.norm(dim=1), torch.ones(12, dtype=torch.float64))


def test_sparse_codes_from_dense_round_trip():
    h = torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]])
    codes = SparseCodes.from_dense(h)
    assert codes.crow.tolist() == [0, 1, 1, 3] and codes.indices.tolist() == [1, 0, 2]
    assert torch.equal(codes.to_dense(), h)
    lat = codes.by_latent()
    assert lat.crow.tolist() == [0, 1, 2, 3] and lat.rows.tolist() == [2, 0, 2]
    assert codes.with_values(codes.values * 2).by_latent() is lat  # computed once per pattern
    assert np.array_equal(codes.fired().numpy(), [True, True, True])

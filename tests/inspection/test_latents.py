"""The one-pass latent statistics: the running top-N against a full sort, counts, totals and histograms against
the dense codes, the spread of latents over firing frequency."""

import numpy as np
import pytest
import torch

from aekit.inspection import choose_latents, histogram_edges, merge_top, top_activations

from conftest import brute_force_top


def _stream(H: np.ndarray, n_top: int, chunks) -> tuple[np.ndarray, np.ndarray]:
    """merge_top over the non-zero entries of H (n, m), fed in chunks of rows of the given sizes."""
    m = H.shape[1]
    top_v = torch.full((m, n_top), -torch.inf, dtype=torch.float64)
    top_r = torch.full((m, n_top), -1, dtype=torch.int64)
    start = 0
    for size in chunks:
        block = H[start : start + size]
        r, j = np.nonzero(block)
        top_v, top_r = merge_top(top_v, top_r, torch.as_tensor(block[r, j]), torch.as_tensor(r + start),
                                 torch.as_tensor(j))
        start += size
    assert start == H.shape[0]
    return top_r.numpy(), top_v.numpy()


@pytest.mark.parametrize("seed", range(4))
def test_the_streaming_top_n_equals_a_full_sort_with_ties_broken_by_row(seed):
    rng = np.random.default_rng(seed)
    n, m, n_top = 400, 9, 6
    # few distinct values, so that ties decide most places; a quarter of the entries non-zero; some latents
    # fire on fewer than n_top rows, one never
    H = rng.integers(1, 5, size=(n, m)) * (rng.random((n, m)) < 0.25)
    H[:, 7] = 0
    H[rng.choice(n, 3, replace=False), 7] = [2, 2, 1]
    H[:, 8] = 0
    sizes = rng.integers(1, 60, size=200)
    sizes = np.concatenate([sizes[np.cumsum(sizes) < n], [0]])
    sizes[-1] = n - sizes[:-1].sum()
    rows, values = _stream(H.astype(np.float64), n_top, sizes)
    expect_rows, expect_values = brute_force_top(H.astype(np.float64), n_top)
    np.testing.assert_array_equal(rows, expect_rows)
    np.testing.assert_array_equal(values, expect_values)
    twos, one = sorted(np.flatnonzero(H[:, 7] == 2).tolist()), np.flatnonzero(H[:, 7] == 1).tolist()
    assert rows[7].tolist() == twos + one + [-1] * 3  # equal values: the earlier row first; then padding
    assert (rows[8] == -1).all() and np.isneginf(values[8]).all()


def test_merge_top_keeps_the_earlier_row_of_equal_values_in_any_arrival_order():
    top_v = torch.full((1, 2), -torch.inf)
    top_r = torch.full((1, 2), -1, dtype=torch.int64)
    for row in (9, 4, 7, 2):  # rows arrive out of order, all with the same value
        top_v, top_r = merge_top(top_v, top_r, torch.tensor([1.0]), torch.tensor([row]), torch.tensor([0]))
    assert top_r.tolist() == [[2, 4]] and top_v.tolist() == [[1.0, 1.0]]


def _codes_in_chunks(sae, X, chunk):
    """Dense feature codes of X computed the way the pass computes them (the same chunks of rows)."""
    module = sae.module_
    with torch.no_grad():
        return torch.cat([module.sparse_features(torch.as_tensor(X[s : s + chunk])).to_dense()
                          for s in range(0, X.shape[0], chunk)]).numpy()


@pytest.mark.usefixtures("one_torch_thread")
def test_top_activations_of_a_sparse_dictionary_agree_with_its_dense_codes(text_sae, text_store):
    X = text_store.rows().numpy()
    chunk, n_top = 77, 5
    H = _codes_in_chunks(text_sae, X, chunk)
    for data in (X, text_store):  # an array and the store on disk give the same statistics
        stats = top_activations(text_sae, data, n_top=n_top, chunk_rows=chunk)
        rows, values = brute_force_top(H, n_top)
        np.testing.assert_array_equal(stats.top_rows, rows)
        np.testing.assert_array_equal(stats.top_values, values.astype(np.float32))
        np.testing.assert_array_equal(stats.counts, (H != 0).sum(axis=0))
        # totals are float64 sums of float32 codes: exact up to float64 rounding of n terms
        np.testing.assert_allclose(stats.totals, H.astype(np.float64).sum(axis=0), rtol=1e-12, atol=0)
        edges = stats.edges
        expect = np.zeros_like(stats.histogram)
        for j in range(H.shape[1]):
            v = H[H[:, j] != 0, j].astype(np.float64)
            b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, edges.size - 2)
            expect[j] = np.bincount(b, minlength=edges.size - 1)
        np.testing.assert_array_equal(stats.histogram, expect)
        assert stats.histogram.sum() == (H != 0).sum() and stats.n_rows == len(X)
        np.testing.assert_allclose(stats.frequency, (H != 0).mean(axis=0))


@pytest.mark.usefixtures("one_torch_thread")
def test_max_rows_stops_the_pass_and_bad_input_is_refused(text_sae, text_store):
    stats = top_activations(text_sae, text_store, n_top=3, max_rows=150, chunk_rows=64)
    assert stats.n_rows == 150 and stats.top_rows.max() < 150 and stats.counts.sum() <= 150 * 4
    with pytest.raises(ValueError, match="has 5 features per row but the sparse autoencoder takes 32"):
        top_activations(text_sae, np.zeros((10, 5), np.float32))
    with pytest.raises(ValueError, match="increasing"):
        top_activations(text_sae, text_store, edges=[1.0, 0.5])
    with pytest.raises(TypeError, match="fitted SparseDictionary"):
        top_activations(object(), text_store)
    from aekit.autoencoders import SparseDictionary

    with pytest.raises(ValueError, match="not fitted"):
        top_activations(SparseDictionary(8), text_store)


def test_histogram_edges_are_log_spaced():
    edges = histogram_edges(1e-2, 1e2, per_decade=4)
    assert edges.size == 17 and edges[0] == pytest.approx(1e-2) and edges[-1] == pytest.approx(1e2)
    np.testing.assert_allclose(np.diff(np.log10(edges)), 0.25)
    with pytest.raises(ValueError):
        histogram_edges(1.0, 1.0)


def test_latents_are_chosen_as_a_spread_over_firing_frequency():
    counts = np.array([0, 50, 3, 0, 7, 1000, 3, 20, 9, 0, 400])
    # alive by count (ties by index): 2 (3), 6 (3), 4 (7), 8 (9), 7 (20), 1 (50), 10 (400), 5 (1000)
    assert choose_latents(counts, 3).tolist() == [2, 7, 5]
    assert choose_latents(counts, 8).tolist() == [2, 6, 4, 8, 7, 1, 10, 5]
    assert choose_latents(counts, 50).tolist() == [2, 6, 4, 8, 7, 1, 10, 5]  # no more than fired
    assert choose_latents(np.zeros(4), 3).size == 0

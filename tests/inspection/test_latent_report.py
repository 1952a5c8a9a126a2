"""Contexts point at the right tokens, the logit lens is the direct effect through the final norm, and the
latent report gathers it all (text and images), saved and loaded without pickle."""

import numpy as np
import pytest
import torch

from aekit.harvest import TEXT_COLUMNS, causal_lm
from aekit.inspection import (
    LatentReport,
    LogitLens,
    context_activations,
    inspect_latents,
    inspect_store,
    logit_lens,
    promoted_tokens,
    token_contexts,
)

from _tolerance import rounding_bound
from conftest import CONTEXT, VOCABULARY, tiny_llama

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------ contexts from an index
def _index(n_windows=3, context=6, drop=()):
    """A text index by hand: windows of ``context`` positions, position 0 not harvested; token 100 w + p."""
    rows = [(100 * w + p, 7, 10 * w + p, w, p) for w in range(n_windows) for p in range(1, context)
            if (w, p) not in drop]
    return np.array(rows, dtype=np.int32)


def test_a_context_holds_the_tokens_of_its_window_around_the_row():
    index = _index()
    # rows 0-4: window 0, positions 1-5; rows 5-9: window 1
    ctx = token_contexts(index, np.array([7, 5, 9, 0]), before=3, after=2)
    assert ctx.before == 3 and ctx.width == 6
    np.testing.assert_array_equal(ctx.tokens, [
        [-1, 101, 102, 103, 104, 105],   # row 7 = window 1, position 3: positions 1..5, nothing before position 1
        [-1, -1, -1, 101, 102, 103],     # row 5 = window 1, position 1: the window starts there
        [102, 103, 104, 105, -1, -1],    # row 9 = window 1, position 5: the window ends there
        [-1, -1, -1, 1, 2, 3],           # row 0: window 0, position 1 (token 100 * 0 + 1)
    ])
    np.testing.assert_array_equal(ctx.rows[0], [-1, 5, 6, 7, 8, 9])
    assert (ctx.tokens[:, 3] == index[[7, 5, 9, 0], 0]).all()  # the row's own token at column `before`


def test_a_missing_row_leaves_a_gap_and_the_others_keep_their_places():
    index = _index(drop={(1, 3)})  # window 1, position 3 dropped (an extreme norm, say): rows shift by one
    ctx = token_contexts(index, np.array([7]), before=3, after=1)  # row 7 is now window 1, position 4
    np.testing.assert_array_equal(ctx.tokens, [[101, 102, -1, 104, 105]])
    np.testing.assert_array_equal(ctx.rows, [[5, 6, -1, 7, 8]])


def test_contexts_need_a_text_index():
    with pytest.raises(ValueError, match="token contexts need 'token', 'window' and 'window_position'"):
        token_contexts(np.zeros((4, 2), np.int32), [0], columns=("sample", "location"))
    with pytest.raises(ValueError, match="beyond the index"):
        token_contexts(_index(), [99])


def test_contexts_of_a_harvested_store_are_the_tokens_the_model_saw(text_store, windows):
    rows = np.array([[0, 14, 15], [40, 100, len(text_store) - 1]])
    before, after = 5, 2
    ctx = token_contexts(text_store, rows, before=before, after=after)
    for flat, r in zip(np.ndindex(rows.shape), rows.reshape(-1)):
        w, p = divmod(int(r), CONTEXT - 1)  # the store holds positions 1..15 of every window, in order
        p += 1
        for s in range(before + 1 + after):
            q = p + s - before
            inside = 1 <= q < CONTEXT
            assert ctx.tokens[flat][s] == (windows.tokens[w, q] if inside else -1)
            assert ctx.rows[flat][s] == (r + s - before if inside else -1)


# ------------------------------------------------------------------ the latent's activation on its contexts
def test_context_activations_are_the_codes_of_the_context_rows(text_sae, text_store):
    report = inspect_latents(text_sae, text_store, n_latents=6, n_top=4, before=5, after=2)
    X = text_store.rows().numpy()
    H = text_sae.transform(X)
    module = text_sae.module_
    # the codes of a row computed in two batches differ by the rounding of one pre-activation: d products
    scale = float(np.abs(X).max() * np.abs(module.W_enc.detach().numpy()).sum(axis=1).max()
                  + np.abs(module.b_enc.detach().numpy()).max())
    tol = rounding_bound(np.float32, X.shape[1] + 2, scale)
    for i, j in enumerate(report.latents):
        rows = report.context_rows[i]
        expect = np.where(rows >= 0, H[rows.clip(min=0), j], 0.0)
        np.testing.assert_allclose(report.context_values[i], expect, rtol=0, atol=tol)
        shown = report.top_rows[i] >= 0
        np.testing.assert_allclose(report.context_values[i][shown, report.before], report.top_values[i][shown],
                                   rtol=0, atol=tol)
    assert report.context_tokens.shape == report.top_rows.shape + (8,)
    empty = context_activations(text_sae, text_store, -np.ones((1, 2, 3), np.int64), [0])
    assert (empty == 0).all()


# ------------------------------------------------------------------ promoted tokens
@pytest.fixture(scope="module")
def gained_llama():
    """A tiny Llama whose final RMSNorm has a non-trivial gain (at initialization it is all ones)."""
    model = tiny_llama(seed=3)
    with torch.no_grad():
        model.model.norm.weight.copy_(torch.linspace(0.2, 2.0, model.config.hidden_size))
    return model


def test_the_logit_lens_reads_the_unembedding_and_the_final_norm(gained_llama):
    lens = logit_lens(gained_llama)
    assert lens.unembedding.data_ptr() == gained_llama.lm_head.weight.data_ptr()
    assert torch.equal(lens.norm_weight, gained_llama.model.norm.weight) and not lens.center
    with pytest.raises(ValueError, match="knows RMSNorm and LayerNorm"):
        logit_lens(gained_llama, norm="lm_head")
    with pytest.raises(ValueError, match="no output embedding"):
        logit_lens(torch.nn.Linear(3, 3))


def test_promoted_tokens_equal_a_direct_computation(gained_llama):
    lens = logit_lens(gained_llama)
    atoms = torch.nn.functional.normalize(torch.randn(7, 32, generator=torch.Generator().manual_seed(0)), dim=1)
    got = promoted_tokens(atoms, lens, k=5)
    W_U = gained_llama.lm_head.weight.detach().double().numpy()
    g = gained_llama.model.norm.weight.detach().double().numpy()
    u = (atoms.double().numpy() * g) @ W_U.T
    u -= u.mean(axis=1, keepdims=True)
    order = np.argsort(-u, axis=1)
    np.testing.assert_array_equal(got.ids, order[:, :5])
    np.testing.assert_array_equal(got.suppressed_ids, order[:, ::-1][:, :5])
    tol = rounding_bound(np.float32, 32 + 64, float(np.abs(W_U).sum(axis=1).max() * np.abs(g).max()))
    np.testing.assert_allclose(got.values, np.take_along_axis(u, order[:, :5], 1), rtol=0, atol=tol)
    assert (np.diff(got.values, axis=1) <= 0).all() and (np.diff(got.suppressed_values, axis=1) >= 0).all()


def test_the_lens_is_the_first_order_effect_on_the_logits_through_the_real_norm(gained_llama):
    # Adding eps * d to a residual x orthogonal to d leaves rms(x) unchanged to first order, so the logits of the
    # model's own final norm and head change by eps / rms(x) * W_U (g ⊙ d) (+ a shift common to all tokens).
    lens = logit_lens(gained_llama)
    gen = torch.Generator().manual_seed(1)
    d = torch.nn.functional.normalize(torch.randn(32, generator=gen, dtype=torch.float64), dim=0)
    x = torch.randn(32, generator=gen, dtype=torch.float64) * 3
    x -= (x @ d) * d
    norm, head = gained_llama.model.norm.double(), gained_llama.lm_head.double()
    try:
        with torch.no_grad():
            # Llama's RMSNorm computes in float32 whatever its input: a step of 0.05 keeps float32 rounding of the
            # difference (~1e-7 / 0.05) small, and the central quotient is exact up to the rms(x + eps d) =
            # sqrt(rms^2 + eps^2 / d) it divides by: a relative eps^2 / (2 d rms^2) ~ 1e-5
            eps = 0.05
            delta = (head(norm(x + eps * d)) - head(norm(x - eps * d))) / (2 * eps)
            rms = torch.sqrt((x * x).mean() + norm.variance_epsilon)
            predicted = lens.logits(d[None].float()).double()[0] / rms
        delta -= delta.mean()
        np.testing.assert_allclose(delta.numpy(), predicted.numpy(), rtol=0, atol=1e-4 * float(predicted.abs().max()))
    finally:
        gained_llama.float()


def test_a_layernorm_lens_centres_the_direction():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=24, n_layer=1,
                                                                n_head=2)).eval()
    with torch.no_grad():
        gpt2.transformer.ln_f.weight.copy_(torch.linspace(0.5, 1.5, 24))
    lens = logit_lens(gpt2, norm="transformer.ln_f")
    assert lens.center and torch.equal(lens.norm_weight, gpt2.transformer.ln_f.weight)
    d = torch.nn.functional.normalize(torch.randn(1, 24, dtype=torch.float64), dim=1)
    x = torch.randn(24, dtype=torch.float64)
    xc, dc = x - x.mean(), d[0] - d[0].mean()
    x = x - (xc @ dc) / (dc @ dc) * dc  # centred x orthogonal to centred d: the std is unchanged to first order
    ln, head = gpt2.transformer.ln_f.double(), gpt2.lm_head.double()
    with torch.no_grad():
        eps = 0.05  # as for the RMSNorm: truncation ~ eps^2 / (2 d std^2), float32 products in the lens
        delta = (head(ln(x + eps * d[0])) - head(ln(x - eps * d[0]))) / (2 * eps)
        std = torch.sqrt(((x - x.mean()) ** 2).mean() + ln.eps)
        predicted = lens.logits(d.float()).double()[0] / std
    delta -= delta.mean()
    np.testing.assert_allclose(delta.numpy(), predicted.numpy(), rtol=0, atol=1e-4 * float(predicted.abs().max()))


# ------------------------------------------------------------------ the report
def test_the_report_of_a_text_store_has_contexts_text_and_promoted_tokens(text_sae, text_store, llama):
    model = causal_lm(llama, VOCABULARY)  # a list of strings stands for the tokenizer
    report = inspect_store(text_sae, text_store, text_model=model, n_latents=5, n_top=3, before=4, after=1)
    assert report.is_text and len(report.latents) == 5 and report.notes == []
    counts = report.all_counts[report.latents]
    assert (np.diff(counts) >= 0).all() and counts[0] == report.all_counts[report.all_counts > 0].min()
    for i, n, s in zip(*np.nonzero(report.context_tokens >= 0)):
        assert report.text(report.context_tokens[i, n, s]) == VOCABULARY[report.context_tokens[i, n, s]]
    atoms = text_sae.components_[report.latents]
    direct = promoted_tokens(atoms, logit_lens(llama), k=10)
    np.testing.assert_array_equal(report.promoted_ids, direct.ids)
    np.testing.assert_array_equal(report.suppressed_ids, direct.suppressed_ids)
    info = report.info
    assert info["sparse_autoencoder"] == {"class": "SparseDictionary", "architecture": "topk", "d": 32,
                                          "latents": 96, "k": 4}
    assert info["activations"]["layer"] == "model.layers.1" and info["rows"] == len(text_store)


def test_an_array_with_a_hand_made_index_gives_the_store_report(text_sae, text_store):
    X, index = text_store.rows().numpy(), text_store.index_rows()
    from_store = inspect_latents(text_sae, text_store, n_latents=4, n_top=3)
    from_array = inspect_latents(text_sae, X, index=index, columns=TEXT_COLUMNS, n_latents=4, n_top=3)
    for name in ("latents", "top_rows", "top_values", "context_tokens", "context_rows", "histogram"):
        np.testing.assert_array_equal(getattr(from_array, name), getattr(from_store, name))
    bare = inspect_latents(text_sae, X, n_latents=4, n_top=3)
    assert not bare.is_text and "no index" in bare.notes[0]


def test_an_image_store_gives_the_top_images(digit_codes):
    digits, store, sae = digit_codes
    images = digits.X.reshape(-1, 8, 8)
    report = inspect_store(sae, store, images=images, n_latents=5, n_top=4)
    assert not report.is_text and report.notes == []
    shown = report.top_rows >= 0
    np.testing.assert_array_equal(report.top_samples, report.top_rows)  # one row per image: sample = row
    np.testing.assert_array_equal(report.images[shown], images[report.top_rows[shown]])
    assert "pass the images" in inspect_store(sae, store, n_latents=2).notes[0]
    with pytest.raises(ValueError, match="pass the images the store was harvested from"):
        inspect_store(sae, store, images=images[:10], n_latents=2)


def test_latents_given_by_hand_and_out_of_range(text_sae, text_store):
    report = inspect_latents(text_sae, text_store, latents=[5, 0, 95], n_top=2)
    assert report.latents.tolist() == [5, 0, 95] and report.info["selection"] == "latents given"
    with pytest.raises(ValueError, match=r"latents \[96\] out of range"):
        inspect_latents(text_sae, text_store, latents=[96])


def test_a_report_saves_and_loads_without_pickle(text_sae, text_store, llama, tmp_path):
    report = inspect_store(text_sae, text_store, text_model=causal_lm(llama, VOCABULARY), n_latents=3, n_top=2)
    report.save(tmp_path / "latents")
    assert sorted(p.name for p in (tmp_path / "latents").iterdir()) == ["arrays.safetensors", "report.json"]
    again = LatentReport.load(tmp_path / "latents")
    for name in ("latents", "all_counts", "counts", "totals", "histogram", "edges", "top_rows", "top_values",
                 "context_tokens", "context_rows", "context_values", "promoted_ids", "promoted_values",
                 "suppressed_ids", "suppressed_values"):
        np.testing.assert_array_equal(getattr(again, name), getattr(report, name))
    assert again.images is None and again.token_text == report.token_text and again.info == report.info
    assert again.n_rows == report.n_rows and again.before == report.before
    (tmp_path / "latents" / "report.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a version-1 latent report"):
        LatentReport.load(tmp_path / "latents")


def test_a_lens_of_another_width_is_refused():
    with pytest.raises(ValueError, match=r"atoms must be \(L, d\) with d = 4"):
        promoted_tokens(np.ones((2, 3)), LogitLens(torch.ones(10, 4)))

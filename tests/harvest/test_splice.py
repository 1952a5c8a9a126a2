"""Splicing a reconstruction into the forward pass: CE, KL and embedding cosine against direct computations."""

import pytest
import torch
import torch.nn.functional as F

from aekit.harvest import TextModel, WindowFormat, embedding_splice, next_token_splice, splice


def _reference(llama, windows, layer, fn, e=1):
    """Per-token CE of the clean and replaced model and KL(clean || replaced), computed directly."""
    ids = torch.from_numpy(windows.tokens)
    with torch.no_grad():
        clean = llama(ids).logits

        def hook(module, inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            new = h.clone()
            new[:, e:] = fn(h[:, e:].reshape(-1, h.shape[-1])).reshape(h[:, e:].shape)
            return (new, *output[1:]) if isinstance(output, tuple) else new

        handle = llama.get_submodule(layer).register_forward_hook(hook)
        replaced = llama(ids).logits
        handle.remove()
    target = ids[:, e + 1 :].reshape(-1)
    lp_clean = F.log_softmax(clean[:, e:-1], -1).reshape(target.shape[0], -1)
    lp_new = F.log_softmax(replaced[:, e:-1], -1).reshape(target.shape[0], -1)
    ce = lambda lp: float(F.nll_loss(lp, target))  # noqa: E731
    kl = float(F.kl_div(lp_new, lp_clean, log_target=True, reduction="batchmean"))
    return ce(lp_clean), ce(lp_new), kl, target.shape[0]


def test_next_token_splice_agrees_with_a_direct_computation(text_model, llama, windows):
    w = windows.take(10)
    halve = lambda x: 0.5 * x  # noqa: E731
    result = next_token_splice(text_model, "model.layers.1", w, halve, batch_size=4)
    ce_clean, ce_half, kl_half, n = _reference(llama, w, "model.layers.1", halve)
    _, ce_zero, kl_zero, _ = _reference(llama, w, "model.layers.1", torch.zeros_like)
    assert result.tokens == n == 10 * 14
    # float32 log-softmax sums over 140 tokens, accumulated in float64: agreement to float32 resolution
    assert result.ce_clean == pytest.approx(ce_clean, rel=1e-6)
    assert result.ce_spliced == pytest.approx(ce_half, rel=1e-6)
    assert result.ce_zero == pytest.approx(ce_zero, rel=1e-6)
    assert result.kl_spliced == pytest.approx(kl_half, rel=1e-5, abs=1e-9)
    assert result.kl_zero == pytest.approx(kl_zero, rel=1e-5, abs=1e-9)


def test_identity_recovers_everything_and_zero_is_the_ablation(text_model, windows):
    w = windows.take(6)
    ident = next_token_splice(text_model, "model.layers.1", w, lambda x: x)
    assert ident.ce_spliced == ident.ce_clean and ident.kl_spliced == 0.0
    zero = next_token_splice(text_model, "model.layers.1", w, torch.zeros_like)
    assert zero.ce_spliced == zero.ce_zero and zero.kl_spliced == zero.kl_zero > 0


def test_position_0_stays_clean(text_model, llama, windows):
    ids = torch.from_numpy(windows.tokens[:3])
    with torch.no_grad():
        clean = llama(ids).logits
        with splice(llama, "model.layers.1", torch.zeros_like, exclude_positions=1):
            spliced = llama(ids).logits
    torch.testing.assert_close(spliced[:, 0], clean[:, 0], rtol=0, atol=0)  # causal: position 0 sees only itself
    assert not torch.allclose(spliced[:, 1:], clean[:, 1:])


def test_reconstruct_receives_float32_rows_and_must_keep_their_shape(text_model, windows):
    seen = []

    def record(x):
        seen.append((x.dtype, tuple(x.shape)))
        return x

    next_token_splice(text_model, "model.layers.1", windows.take(2), record, batch_size=2)
    assert seen == [(torch.float32, (2 * 15, 32))]
    with pytest.raises(ValueError, match=r"map rows \(n, d\) = \(30, 32\) to the same shape, got \(30, 16\)"):
        next_token_splice(text_model, "model.layers.1", windows.take(2), lambda x: x[:, :16], batch_size=2)


def test_wrong_kind_of_model(text_model, windows):
    with pytest.raises(ValueError, match="use next_token_splice"):
        embedding_splice(text_model, "model.layers.1", windows, lambda x: x)


def _tiny_encoder():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    bert = transformers.BertModel(transformers.BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64)).eval()

    def embed(ids):  # mean pooling and unit norm, as all-MiniLM-L6-v2
        return F.normalize(bert(ids).last_hidden_state.mean(dim=1), dim=-1)

    return TextModel("tiny-bert", "encoder", bert, None, WindowFormat(prefix=(1,), suffix=(2,)), "encoder.layer.{}",
                     2, 32, embed)


def test_embedding_splice(windows):
    model = _tiny_encoder()
    w = windows.take(8)
    ident = embedding_splice(model, "encoder.layer.0", w, lambda x: x, batch_size=3)
    assert ident.cosine == pytest.approx(1.0, abs=1e-6) and ident.windows == 8
    noisy = embedding_splice(model, "encoder.layer.0", w, lambda x: x + 0.5 * torch.randn_like(x), batch_size=3)
    assert ident.cosine_zero < noisy.cosine < 1.0
    with pytest.raises(ValueError, match="use embedding_splice"):
        next_token_splice(model, "encoder.layer.0", w, lambda x: x)

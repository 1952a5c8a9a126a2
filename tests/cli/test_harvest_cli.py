"""`aekit harvest`: an autoencoder's codes, a language model over text files, resume and errors."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aekit import io as aio
from aekit.autoencoders import Autoencoder
from aekit.cli import app
from aekit.datasets import load_digits
from aekit.harvest import ActivationStore, WindowFormat, causal_lm
from aekit.harvest import _lm

runner = CliRunner()
WORDS = "the quick brown fox jumps over a lazy dog and then sleeps under warm sun".split()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    ae = Autoencoder(n_components=12, max_epochs=2, random_state=0).fit(load_digits().X)
    aio.save(ae, run / "model")
    (run / "run.json").write_text(json.dumps({"dataset": "digits"}))
    return run, ae


def test_an_autoencoders_codes(run_dir, tmp_path):
    run, ae = run_dir
    result = runner.invoke(app, ["harvest", str(run), "--out", str(tmp_path / "s"), "--store-dtype", "float32",
                                 "--rows-per-shard", "500", "--no-progress"])
    assert result.exit_code == 0, result.output
    store = ActivationStore(tmp_path / "s", verify=True)
    assert len(store) == 1797 and store.d == 12 and store.shard_rows == [500, 500, 500, 297]
    torch.testing.assert_close(store.rows(), torch.from_numpy(ae.transform(load_digits().X)), rtol=1e-6, atol=1e-6)
    assert store.settings["model"] == "Autoencoder codes of digits" and store.settings["layer"] == ""
    assert "1797 rows x d=12" in result.output
    again = runner.invoke(app, ["harvest", str(run), "--out", str(tmp_path / "s"), "--no-progress"])
    assert again.exit_code == 2 and "resume" in again.output
    resumed = runner.invoke(app, ["harvest", str(run), "--out", str(tmp_path / "s"), "--store-dtype", "float32",
                                  "--rows-per-shard", "500", "--resume", "--no-progress"])
    assert resumed.exit_code == 0 and "this run: 0 rows" in resumed.output


@pytest.fixture
def tiny_lm(monkeypatch):
    """A tiny random Llama with a word-level tokenizer, registered as the model name 'tiny'."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=4,
                                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    llama = transformers.LlamaForCausalLM(config).eval()
    model = causal_lm(llama, tokenizer, name="tiny", window_format=WindowFormat(prefix=(1,), separator=(2,)))
    monkeypatch.setitem(_lm.TEXT_MODELS, "tiny", lambda dtype, device: model)
    return model


@pytest.fixture
def texts(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(12):
        (folder / f"doc{i:02d}.txt").write_text(" ".join(rng.choice(WORDS, size=60 + 10 * i)))
    return folder


def test_a_language_model_over_text_files(tiny_lm, texts, tmp_path):
    out = tmp_path / "s"
    args = ["harvest", "tiny", "--out", str(out), "--text", str(texts), "--split", "all", "--context", "16",
            "--layer", "1", "--store-dtype", "float32", "--batch-size", "4", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    store = ActivationStore(out)
    words = sum(60 + 10 * i for i in range(12)) + 12  # with a separator after each document
    assert len(store) == (words // 15) * 15 and store.settings["layer"] == "model.layers.1"
    assert store.settings["inputs"]["context"] == 16 and store.index_rows()[:, 4].min() == 1
    assert "12 documents" in result.output and "excluded positions: median norm" in result.output

    budget = runner.invoke(app, [*args[:3], str(tmp_path / "b"), *args[4:], "--tokens", "100"])
    assert budget.exit_code == 0, budget.output
    torch.testing.assert_close(ActivationStore(tmp_path / "b").rows(), store.rows(0, 100), rtol=0, atol=0)
    middle = runner.invoke(app, [*args[:3], str(tmp_path / "m"), *args[4:10], *args[12:]])
    assert middle.exit_code == 0 and ActivationStore(tmp_path / "m").settings["layer"] == "model.layers.2"


def test_errors_are_clear(tiny_lm, texts, tmp_path):
    base = ["harvest", "tiny", "--text", str(texts), "--split", "all", "--context", "16", "--no-progress"]
    bad_layer = runner.invoke(app, [*base, "--out", str(tmp_path / "a"), "--layer", "model.layer.1"])
    assert bad_layer.exit_code == 2 and "Closest names: model.layers.1" in bad_layer.output
    out_of_range = runner.invoke(app, [*base, "--out", str(tmp_path / "b"), "--layer", "9"])
    assert out_of_range.exit_code == 2 and "blocks 0..3, not 9" in out_of_range.output
    no_model = runner.invoke(app, ["harvest", str(tmp_path / "nothing"), "--out", str(tmp_path / "c")])
    assert no_model.exit_code == 2 and "neither 'smollm2', 'minilm' nor a run folder" in no_model.output
    bad_text = runner.invoke(app, [*base[:2], "--text", "poems", "--out", str(tmp_path / "d")])
    assert bad_text.exit_code == 2 and "Unknown text source 'poems'" in bad_text.output
    ok = runner.invoke(app, [*base, "--out", str(tmp_path / "e")])
    assert ok.exit_code == 0
    other = runner.invoke(app, [*base, "--out", str(tmp_path / "e"), "--context", "8", "--resume"])
    assert other.exit_code == 2 and "settings.inputs.context: stored 16, now 8" in other.output


def test_stride_gives_overlapping_windows(tiny_lm, texts, tmp_path):
    args = ["harvest", "tiny", "--text", str(texts), "--split", "all", "--context", "16", "--layer", "1",
            "--store-dtype", "float32", "--no-progress"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "s"), "--stride", "5"])
    assert result.exit_code == 0, result.output
    store = ActivationStore(tmp_path / "s")
    words = sum(60 + 10 * i for i in range(12)) + 12
    n = (words - 15) // 5 + 1
    assert len(store) == n * 15 and store.settings["inputs"]["stride"] == 5 and "stride 5" in result.output
    default = runner.invoke(app, [*args, "--out", str(tmp_path / "d")])
    assert default.exit_code == 0 and ActivationStore(tmp_path / "d").settings["inputs"]["stride"] == 15
    other = runner.invoke(app, [*args, "--out", str(tmp_path / "s"), "--stride", "7", "--resume"])
    assert other.exit_code == 2 and "stride: stored 5, now 7" in other.output
    for bad in ("0", "16"):
        wrong = runner.invoke(app, [*args, "--out", str(tmp_path / f"b{bad}"), "--stride", bad])
        assert wrong.exit_code == 2 and "stride" in wrong.output

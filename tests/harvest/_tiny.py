"""Tiny random models and token data for the harvest tests (no weights are fetched)."""

import numpy as np
import pytest
import torch

from aekit.datasets import TokenDocuments

VOCAB = 64
BOS, EOS = 1, 2


def tiny_llama(seed: int = 0, layers: int = 3, d: int = 32):
    """A randomly initialized Llama: ``layers`` blocks of width ``d``, vocabulary of 64."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=d, intermediate_size=2 * d, num_hidden_layers=layers, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, bos_token_id=BOS, eos_token_id=EOS,
    )
    return transformers.LlamaForCausalLM(config).eval()


def token_documents(lengths=(50, 200, 31, 400, 77), seed: int = 0) -> TokenDocuments:
    rng = np.random.default_rng(seed)
    tokens = tuple(rng.integers(3, VOCAB, size=n) for n in lengths)
    return TokenDocuments("random", tokens, tuple(f"doc{i}" for i in range(len(lengths))), "all", "random ids")

"""Fixtures of the harvest tests: one torch thread, a tiny random Llama, token windows."""

import pytest
import torch

from _tiny import BOS, EOS, tiny_llama, token_documents
from aekit.harvest import WindowFormat, causal_lm, cut_windows


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every harvest test on the one-thread setting of tests/conftest.py (tiny models, shared machines)."""


@pytest.fixture(scope="module")
def llama():
    return tiny_llama()


@pytest.fixture(scope="module")
def text_model(llama):
    return causal_lm(llama, name="tiny-llama", window_format=WindowFormat(prefix=(BOS,), separator=(EOS,)))


@pytest.fixture(scope="module")
def windows():
    return cut_windows(token_documents(), 16, WindowFormat(prefix=(BOS,), separator=(EOS,)))

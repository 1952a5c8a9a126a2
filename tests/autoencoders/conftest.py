"""One intra-op thread for these tests: the networks are tiny and the CPU is shared."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread_here(one_torch_thread):
    """Every test of this folder runs with :func:`one_torch_thread` (tests/conftest.py)."""

"""Fixtures of the latent-inspection tests: a text store harvested from the tiny random Llama of the harvest
tests, an image store of an autoencoder's codes of the digits, and small sparse autoencoders fitted on them."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harvest"))  # the tiny Llama of the harvest tests

from _tiny import BOS, EOS, VOCAB, tiny_llama, token_documents  # noqa: E402

CONTEXT = 16
#: A vocabulary for the tiny Llama's 64 ids: every token spelled as text a page must escape or show.
VOCABULARY = [f" w{i}" for i in range(VOCAB)]
VOCABULARY[3], VOCABULARY[4], VOCABULARY[5], VOCABULARY[6] = "<script>", "\n", " & ", '"q"'


@pytest.fixture(scope="module")
def llama():
    return tiny_llama()


@pytest.fixture(scope="module")
def windows():
    from aekit.harvest import WindowFormat, cut_windows

    return cut_windows(token_documents(), CONTEXT, WindowFormat(prefix=(BOS,), separator=(EOS,)))


@pytest.fixture(scope="module")
def text_store(llama, windows, tmp_path_factory, one_torch_thread_per_module):
    """Layer 1 of the tiny Llama over every window, float32, position 0 left out, small shards."""
    from aekit.harvest import harvest

    report = harvest(llama, "model.layers.1", windows, tmp_path_factory.mktemp("text") / "store",
                     store_dtype="float32", rows_per_shard=100, batch_size=8, progress=False)
    return report.store


@pytest.fixture(scope="module")
def text_sae(text_store, one_torch_thread_per_module):
    from aekit.autoencoders import SparseDictionary

    X = text_store.rows().numpy()
    return SparseDictionary(96, k=4, batch_size=128, max_epochs=3, warmup_steps=5, precision="float32",
                            random_state=0).fit(X)


@pytest.fixture(scope="module")
def digit_codes(tmp_path_factory, one_torch_thread_per_module):
    """An autoencoder of the 8 x 8 digits, its codes harvested into a store, and a sparse dictionary of them."""
    from aekit.autoencoders import Autoencoder, SparseDictionary
    from aekit.datasets import load_digits
    from aekit.harvest import FunctionModule, harvest

    digits = load_digits()
    ae = Autoencoder(24, max_epochs=3, random_state=0).fit(digits.X)
    store = harvest(FunctionModule(ae.torch_encoder(), ae.module_), "", digits.X,
                    tmp_path_factory.mktemp("codes") / "store", store_dtype="float32", rows_per_shard=400,
                    progress=False).store
    sae = SparseDictionary(48, k=3, batch_size=128, max_epochs=3, warmup_steps=5, precision="float32",
                           random_state=0).fit(store.rows().numpy())
    return digits, store, sae


def brute_force_top(H: np.ndarray, n_top: int):
    """Per column of dense codes H (n, m): the rows of its n_top largest non-zero values, by value descending
    then row ascending (a full sort), padded with -1 / -inf."""
    n, m = H.shape
    rows = np.full((m, n_top), -1, dtype=np.int64)
    values = np.full((m, n_top), -np.inf, dtype=np.float64)
    for j in range(m):
        nz = np.flatnonzero(H[:, j] != 0)
        order = nz[np.lexsort((nz, -H[nz, j]))][:n_top]
        rows[j, : order.size] = order
        values[j, : order.size] = H[order, j]
    return rows, values

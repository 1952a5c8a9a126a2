"""Shared by the figure, report and explorer tests: one headless Chromium, and small real run folders."""

from __future__ import annotations

import pytest
import torch

from _chromium import SKIP_REASON, Chromium, find_chromium


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium for every browser test of the session; skips when there is none."""
    binary = find_chromium()
    if binary is None:
        pytest.skip(SKIP_REASON)
    chrome = Chromium(binary, str(tmp_path_factory.mktemp("chromium-profile")))
    yield chrome
    chrome.close()


def _fit_runs(root):
    """Real fitted models of every kind the explorer shows, written as run folders by ``write_run``."""
    from aekit.autoencoders import (
        Autoencoder,
        DenoisingAutoencoder,
        KSparseAutoencoder,
        StackedAutoencoder,
    )
    from aekit.cli._run import write_run
    from aekit.datasets import load_digits, make_swiss_roll
    from aekit.decomposition import PCA
    from aekit.manifold import SOM, Isomap

    digits = load_digits()
    X = digits.X
    runs = {}

    def save(name, estimator, dataset, n, history=None):
        runs[name] = write_run(root / name, command=f"test {name}", dataset=dataset, estimator=estimator,
                               metrics={"n_samples": int(n)}, history=history, report=False)

    quick = dict(max_epochs=4, batch_size=64, learning_rate=3e-3, random_state=0)
    dae = DenoisingAutoencoder(32, loss="cross_entropy", sparsity_weight=1.0, sparsity_target=0.1, **quick).fit(X)
    save("dae", dae, "digits", len(X), dae.history_)
    ks = KSparseAutoencoder(48, k=6, k_alpha=1.0, **quick).fit(X)
    save("ksparse", ks, "digits", len(X), ks.history_)
    deep = Autoencoder(12, hidden_layer_sizes=(24,), hidden_activation="relu", encoder_activation="tanh",
                       tied_weights=True, **quick).fit(X)
    save("deep", deep, "digits", len(X), deep.history_)
    stacked = StackedAutoencoder([Autoencoder(24, max_epochs=3, random_state=0),
                                  Autoencoder(10, encoder_activation="relu", max_epochs=3, random_state=1)],
                                 fine_tune=True, max_epochs=2, random_state=0).fit(X[:1200])
    save("stacked", stacked, "digits", 1200)
    save("pca", PCA(10).fit(X), "digits", len(X))
    roll = make_swiss_roll()  # the registry's "swiss-roll": 2000 points, seed 0; the first 700 rows
    iso = Isomap(n_neighbors=10, n_components=2).fit(roll.X[:700])
    save("isomap", iso, "swiss-roll", 700)
    som = SOM((6, 7), topology="hexagonal", max_iter=6, random_state=0).fit(X)
    save("som", som, "digits", len(X), som.history_)
    return runs


@pytest.fixture(scope="session")
def explorer_runs(tmp_path_factory):
    """name -> run folder: dae, ksparse, deep, stacked (autoencoders), pca, isomap, som."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = _fit_runs(tmp_path_factory.mktemp("explorer-runs"))
    finally:
        torch.set_num_threads(before)
    return runs

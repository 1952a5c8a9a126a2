"""A small real sparse-autoencoder run on a text store, for the latent page and the explorer's latent browser.

The "network" is a token embedding (``nn.Embedding``) harvested over token windows, so the store is a real text
store (index with token, document, positions, window) built in a second, without a language model; the
vocabulary spells some tokens as text that a page must escape or show (``<script>``, a newline, ``&``, quotes).
"""

from __future__ import annotations

import numpy as np
import torch

VOCAB, D, CONTEXT = 40, 12, 12
VOCABULARY = [f" w{i}" for i in range(VOCAB)]
VOCABULARY[3], VOCABULARY[4], VOCABULARY[5], VOCABULARY[6] = "<script>alert(1)</script>", "\n", " a & b", ' "q"'


def text_windows(seed: int = 0):
    from aekit.datasets import TokenDocuments
    from aekit.harvest import WindowFormat, cut_windows

    rng = np.random.default_rng(seed)
    docs = TokenDocuments("random", tuple(rng.integers(3, VOCAB, size=n) for n in (80, 130, 45, 200)),
                          ("a", "b", "c", "d"), "all", "random ids")
    return cut_windows(docs, CONTEXT, WindowFormat(prefix=(1,), separator=(2,)))


def sae_run(root, *, keep_report: bool = True, n_latents: int = 6):
    """``(run folder, store, fitted SparseDictionary, report)``: a store of an embedding's outputs over token
    windows, a SparseDictionary trained on it (run folder as ``aekit sae train`` writes it) and, with
    ``keep_report``, its latent report kept in the run folder (the vocabulary above, a random unembedding)."""
    from aekit.autoencoders import SparseDictionary
    from aekit.cli._run import write_run
    from aekit.harvest import harvest
    from aekit.inspection import LogitLens, inspect_latents
    from aekit.viz.explorer import save_latent_report

    torch.manual_seed(0)
    embed = torch.nn.Embedding(VOCAB, D)
    store = harvest(embed, "", text_windows(), root / "store", model_name="embedding", store_dtype="float32",
                    rows_per_shard=128, batch_size=8, progress=False).store
    X = store.rows().numpy() + np.random.default_rng(0).normal(scale=0.05, size=(len(store), D)).astype(np.float32)
    sae = SparseDictionary(32, k=3, batch_size=64, max_epochs=4, warmup_steps=5, precision="float32",
                           random_state=0).fit(X)
    run = write_run(root / "sae", command="sae train topk", dataset=str(store.path), estimator=sae,
                    metrics={"fvu": 0.1}, history=sae.history_, report=False)
    report = None
    if keep_report:
        lens = LogitLens(torch.randn(VOCAB, D, generator=torch.Generator().manual_seed(1)))
        report = inspect_latents(sae, store, n_latents=n_latents, n_top=4, before=5, after=2,
                                 tokenizer=VOCABULARY, lens=lens)
        save_latent_report(report, run)
    return run, store, sae, report

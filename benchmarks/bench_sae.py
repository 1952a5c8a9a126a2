"""Sparse autoencoders on SmolLM2's layer-15 residual stream: harvest, train, measure, against four peer libraries.

Everything issue 14 asks to be shown, measured in one script on real activations
(SmolLM2-135M-Instruct, ``model.layers.15``, d 576, context 128, position 0 left
out; the offline text: Python documentation, Shakespeare and the standard library's
docstrings, split by document into train / validation / test):

1. **Harvest.** Three activation stores: the train split with overlapping windows
   (``--stride``, chosen so the store holds ``--store-rows``, 10 M by default:
   the offline text alone has about 4 M train tokens), and the validation and
   test splits without overlap, each harvested separately. Stop at the layer,
   bfloat16 weights, compiled norms and MLPs. The stores live in ``--work`` and
   are reused by later runs (a harvest resumes where a killed one stopped); the
   harvest speed is measured afresh in every run on ``--harvest-tokens`` rows.
2. **Throughput.** TopK, 4608 latents, k 32, batch 4096, on real train rows: aekit's
   ``SparseDictionary`` (its default fused sparse step) against sparsify, SAELens,
   dictionary_learning, overcomplete (each through its own trainer, float32 and
   bfloat16 autocast) and a plain-PyTorch TopK loop (drivers in
   ``benchmarks/sae_peers.py``), all on the same batches, interleaved in rounds
   (the order rotated each round), after the start-up steps stated in the file.
   Beside them the *matmul ceiling*: the dense encoder product, the decoder's work
   at its exact shape (the k active atoms per row) in bfloat16 and one fused Adam
   update, timed alone.
3. **Quality at equal budget.** Every contender trains on the same ``--budget``
   rows (the same batches in the same order, bfloat16), then is scored on held-out
   rows of the chosen split (``--split``: validation while choosing settings, test
   once at the end): explained variance, L0, latents dead on the held-out rows,
   and CE-loss recovered / KL with its reconstruction spliced into SmolLM2 at
   layer 15 on held-out windows.
4. **Memory.** A subprocess that only trains aekit from the on-disk train store
   (streamed through a shuffle buffer, one epoch over all its rows) and reports
   its peak resident memory (``getrusage``); its model is scored like the others.
5. **Scale.** The same training under ``torchrun`` with 2 processes (gloo)
   against one process: final weights and held-out explained variance.
6. **Inspection.** A page of top-activating contexts for 20 latents, written by
   aekit's inspection report when it is installed.

    python benchmarks/bench_sae.py [--split test] [--seed 0] [--budget 4000000] [--threads 2]
        [--stages harvest,throughput,quality,memory,scale,inspect] [--work DIR] [--out benchmarks/results/sae.md]

The peers run in the same process: use an environment with the ``bench-peers``
extra and the language-model set-up (``make peers``); peers that do not import
are left out with a note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sae_peers, beside this file

LAYER = "model.layers.15"
CONTEXT = 128
SOURCES = ("python-docs", "shakespeare", "docstrings")
D, M, K, B = 576, 4608, 32, 4096
STAGES = ("harvest", "throughput", "quality", "memory", "scale", "inspect")


# ---------------------------------------------------------------- harvest
def _lm_quiet():
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def load_model(compile_: bool = True):
    """SmolLM2 in bfloat16 (where native), its blocks' norms and MLPs compiled when a compiler is there."""
    from aekit.harvest import compile_blocks, load_smollm2

    _lm_quiet()
    lm = load_smollm2(dtype="auto")
    compiled = False
    if compile_:
        try:
            compile_blocks(lm.module)
            with torch.inference_mode():
                lm.module(torch.zeros(1, CONTEXT, dtype=torch.int64))  # compile now, not inside a timing
            compiled = True
        except Exception as exc:  # no C++ compiler: the plain bfloat16 model
            print(f"compile_blocks failed ({type(exc).__name__}: {exc}); harvesting without it", flush=True)
            lm = load_smollm2(dtype="auto")
    return lm, compiled


def text_windows(lm, split: str, stride: int | None = None, rows: int | None = None):
    """The windows of ``split`` of the three offline sources; with ``rows``, the largest stride giving that many."""
    from aekit.datasets import get_text, join_corpora
    from aekit.harvest import cut_windows, tokenize

    corpus = join_corpora([get_text(s, split) for s in SOURCES])
    docs = tokenize(corpus, lm.tokenizer)
    fmt = lm.window_format
    body = CONTEXT - len(fmt.prefix) - len(fmt.suffix)
    if rows is not None and stride is None:
        stream = docs.n_tokens + len(docs) * len(fmt.separator)
        need = -(-rows // (CONTEXT - 1))  # windows for that many rows (position 0 left out)
        stride = max(1, min(body, (stream - body) // max(need - 1, 1)))
    return cut_windows(docs, CONTEXT, fmt, stride=stride), docs.n_tokens


def harvest_store(lm, windows, path: Path, max_rows: int | None = None):
    """Harvest (or resume, or reuse) a store; the report of this call."""
    from aekit.harvest import harvest

    return harvest(lm.module, LAYER, windows, path, model_name="smollm2", batch_size=32, max_rows=max_rows,
                   resume=True, progress=sys.stderr.isatty())


def stage_harvest(args, work: Path) -> dict:
    """The three stores (built or reused) and a fresh timed harvest; the figures for the results file."""
    from aekit.harvest import ActivationStore

    t0 = time.perf_counter()
    lm, compiled = load_model()
    load_s = time.perf_counter() - t0
    out = {"compiled": compiled, "load_s": load_s, "stores": {}}
    for split in ("train", "validation", "test"):
        path = work / f"store-{split}"
        if split == "train":
            windows, text_tokens = text_windows(lm, split, args.stride, args.store_rows)
            max_rows = args.store_rows
        else:
            windows, text_tokens = text_windows(lm, split)
            max_rows = None
        sidecar = work / f"store-{split}.harvest.json"
        before = ActivationStore(path).complete if (path / "manifest.json").exists() else False
        if not before:
            print(f"harvesting {split}: {len(windows)} windows (stride {windows.stride}) -> {path}", flush=True)
            report = harvest_store(lm, windows, path, max_rows)
            record = {"rows": report.rows, "new_rows": report.new_rows, "tokens": report.tokens,
                      "seconds": report.seconds, "tokens_per_s": report.tokens_per_second,
                      "resumed": report.new_rows < report.rows, "compiled": compiled,
                      "excluded_norm_ratio": report.excluded_norm_ratio, "extreme_rows": report.extreme_rows,
                      "threads": torch.get_num_threads(), "load_before": os.getloadavg()[0]}
            sidecar.write_text(json.dumps(record, indent=1))
        store = ActivationStore(path)
        size = sum(store.shard_path(k).stat().st_size for k in range(store.n_shards))
        out["stores"][split] = {
            "rows": len(store), "text_tokens": text_tokens, "windows": len(windows), "stride": windows.stride,
            "bytes": size, "built_now": not before,
            "harvest": json.loads(sidecar.read_text()) if sidecar.exists() else None,
        }
    # a fresh harvest of --harvest-tokens rows, timed as a whole call (set-up and checksums included)
    if args.harvest_tokens:
        windows, _ = text_windows(lm, "train")
        need = -(-args.harvest_tokens // (CONTEXT - 1))
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            start = time.perf_counter()
            report = harvest_store(lm, windows.take(need), Path(tmp) / "s", args.harvest_tokens)
            seconds = time.perf_counter() - start
        out["timed"] = {"rows": report.rows, "tokens": report.tokens, "seconds": seconds,
                        "tokens_per_s": report.tokens / seconds, "excluded_norm_ratio": report.excluded_norm_ratio,
                        "extreme_rows": report.extreme_rows}
    return out


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    from aekit.datasets._base import get_data_home

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    p.add_argument("--work", type=Path, default=get_data_home() / "bench-sae",
                   help="folder of the activation stores and trained models (default: $AEKIT_DATA/bench-sae)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store-rows", type=int, default=10_000_000, help="rows of the train store")
    p.add_argument("--stride", type=int, default=None, help="train windows' stride (default: from --store-rows)")
    p.add_argument("--harvest-tokens", type=int, default=200_000, help="rows of the fresh timed harvest (0: skip)")
    p.add_argument("--out", default="benchmarks/results/sae.md")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    stages = args.stages.split(",")
    results = {}
    if "harvest" in stages:
        results["harvest"] = stage_harvest(args, args.work)
        print(json.dumps(results["harvest"], indent=1, default=str), flush=True)


if __name__ == "__main__":
    main()

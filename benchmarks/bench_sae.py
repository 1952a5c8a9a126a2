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
2. **Throughput.** TopK, 4608 latents, k 32, batch 4096, on ``--throughput-rows``
   real train rows held in memory: aekit's ``SparseDictionary`` (its default fused
   sparse step) against sparsify, SAELens, dictionary_learning, overcomplete (each
   through its own trainer) and a plain-PyTorch TopK loop (drivers in
   ``benchmarks/sae_peers.py``), every one in float32 and under bfloat16, all on the
   same batches, ``--steps`` steps each, ``--rounds`` interleaved rounds (the order
   rotated each round); steady tokens/s leaves out the first ``--warmup-steps``
   steps; median and spread over rounds. Beside them the *matmul ceiling*: the dense
   encoder product in bfloat16, the decoder at its exact shape (k active atoms per
   row) and one fused Adam update, timed alone; aekit's fraction of it.
3. **Quality at equal budget.** Every contender trains on the same ``--budget`` rows
   (the same batches in the same order, bfloat16, the common learning rate and
   schedule), then is scored on held-out rows of ``--split`` (validation while
   choosing settings, test once at the end): explained variance, FVU, L0, latents
   dead on the held-out rows, and CE-loss recovered / KL with its reconstruction
   spliced into SmolLM2 at layer 15 on ``--splice-windows`` held-out windows. An
   untrained aekit dictionary (its initialization) is the control; aekit runs over
   ``--seeds`` (mean ± sd), the peers once. The default budget (1,024,000 rows,
   250 steps, three aekit seeds) is what fits about 20 minutes on 2 threads, the
   overcomplete and SAELens runs taking most of it.
4. **Memory.** A subprocess that only trains aekit from the on-disk train store
   (``StoreBatches``: a shuffle buffer, one epoch over all its rows, or
   ``--memory-rows``) and reports its peak resident memory (``getrusage``) and
   rows/s; its model is scored like the others (and is the one inspected).
5. **Scale.** The same training (``--scale-rows``, float32, the generic step that
   DDP runs) under ``torchrun --nproc_per_node 2`` (gloo) against one process:
   largest weight difference and held-out explained variance of both.
6. **Inspection.** aekit's latent report (top-activating contexts, activation
   histogram, promoted tokens) for 20 latents on the held-out store, written to
   ``--page`` (self-contained HTML) with a screenshot ``--screenshot`` taken in
   headless Chromium (the browser tests' harness; skipped without Chromium).

Every stage saves its figures as a JSON piece in ``--work``
(``result-<stage>.json``: date, commit, command); the results file ``--out`` is
then assembled whole from every piece present there, each section naming the
run that measured it, so stages can run separately (the harvest of 10 M rows
takes hours) and the file says which run each number comes from.

    python benchmarks/bench_sae.py [--split test] [--budget 1024000] [--seeds 0,1,2] [--threads 2]
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
            max_rows = args.heldout_rows
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


# ---------------------------------------------------------------- shared
def train_rows(work: Path, n: int, dtype=torch.bfloat16) -> torch.Tensor:
    """The first ``n`` rows of the train store, in memory (bfloat16: the store's own precision)."""
    from aekit.harvest import ActivationStore

    store = ActivationStore(work / "store-train")
    if len(store) < n:
        raise SystemExit(f"the train store holds {len(store)} rows, fewer than the {n} asked for: harvest more "
                         "(--stages harvest --store-rows N) or ask for fewer")
    return store.rows(0, n, dtype=dtype)


def heldout_store(work: Path, split: str):
    from aekit.harvest import ActivationStore

    store = ActivationStore(work / f"store-{split}")
    if not store.complete:
        raise SystemExit(f"the {split} store in {work} is not complete yet: run --stages harvest first")
    return store


def input_scale_of(X: torch.Tensor) -> float:
    """The scale s with E||s x||^2 = d on ``X`` (every contender sees s x: the peers' own normalization is off)."""
    return float((X.shape[1] / X.float().pow(2).sum(1).mean()).sqrt())


def raw_units(fn, scale: float):
    """``fn`` (rows in the scaled units) as a map of raw activations: x -> fn(s x) / s."""
    return lambda x: fn(x * scale) / scale


def score_rows(X: torch.Tensor, encode, reconstruct, chunk: int = 8192) -> dict:
    """Explained variance, FVU, L0 and latents dead on the held-out rows ``X`` (raw units, float32)."""
    from aekit import metrics as M

    parts, fired, active = [], None, 0.0
    for i in range(0, len(X), chunk):
        x = X[i : i + chunk]
        codes = encode(x)
        nz = codes != 0
        active += float(nz.sum())
        fired = nz.any(0) if fired is None else fired | nz.any(0)
        parts.append(reconstruct(x))
    X_hat = torch.cat(parts).numpy()
    Xn = X.numpy()
    return {"rows": len(X), "explained_variance": M.explained_variance(Xn, X_hat),
            "fvu": M.fraction_of_variance_unexplained(Xn, X_hat), "cosine": M.reconstruction_cosine(Xn, X_hat),
            "l0": active / len(X), "dead_fraction": 1.0 - float(fired.float().mean())}


def splice_score(lm, windows, reconstruct) -> dict:
    """CE-loss recovered and KL with ``reconstruct`` (raw units) spliced into SmolLM2 at the layer."""
    from aekit.harvest import next_token_splice
    from aekit.metrics import ce_loss_recovered

    r = next_token_splice(lm, LAYER, windows, reconstruct, batch_size=8)
    return {"ce_clean": r.ce_clean, "ce_spliced": r.ce_spliced, "ce_zero": r.ce_zero, "kl": r.kl_spliced,
            "kl_zero": r.kl_zero, "splice_tokens": r.tokens,
            "ce_loss_recovered": ce_loss_recovered(r.ce_clean, r.ce_spliced, r.ce_zero)}


class Scorer:
    """Held-out rows and windows of ``--split``, and the language model for the splice, loaded once."""

    def __init__(self, args, work: Path):
        store = heldout_store(work, args.split)
        n = min(args.eval_rows, len(store))
        self.X = store.rows(0, n, dtype=torch.float32)
        self.split, self.n_windows = args.split, args.splice_windows
        self._lm = self._windows = None

    def lm(self):
        if self._lm is None:
            from aekit.harvest import load_smollm2

            _lm_quiet()
            self._lm = load_smollm2(dtype="float32")
            windows, _ = text_windows(self._lm, self.split)
            self._windows = windows.take(min(self.n_windows, len(windows)))
        return self._lm

    def score(self, encode, reconstruct, splice: bool = True) -> dict:
        out = score_rows(self.X, encode, reconstruct)
        if splice and self.n_windows:
            out.update(splice_score(self.lm(), self._windows, reconstruct))
        return out


def aekit_raw(sae, scale: float):
    """The aekit estimator fitted on scaled rows, turned into one acting on raw activations (saved, inspected).

    Its module computes ``dec(enc(s x - b_dec)) / s`` with its input scale s:
    setting s to the benchmark's scale (from 1) makes the map on raw rows
    equal to the map on scaled ones; the scale is then folded into the weights.
    """
    module = sae.module_
    module.input_scale.fill_(float(scale) * float(module.input_scale))
    module.rescale_inputs(1.0)
    sae.input_scale_ = float(sae.input_scale_) * float(scale)
    # trained with the benchmark's common schedule (a callable, which a saved model cannot hold); the
    # saved parameters name a plain one, which matters only to a later partial_fit
    sae.set_params(lr_schedule="linear")
    return sae


def _fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def _peers_list(args) -> list[str]:
    from sae_peers import available_peers

    found = available_peers()
    wanted = args.peers.split(",") if args.peers else list(found)
    missing = [p for p in wanted if p not in found and p != "aekit"]
    return [p for p in wanted if p in found], missing


# ---------------------------------------------------------------- throughput
def matmul_ceiling(X: torch.Tensor, steps: int, repeats: int) -> dict:
    """Seconds per step of the work a TopK step cannot avoid, timed alone: the dense encoder product in
    bfloat16, the decoder at its exact shape (k active atoms per row, embedding_bag in bfloat16) and one
    fused Adam update of every parameter; the median over ``repeats`` of ``steps`` steps."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    W_enc = torch.nn.Parameter(F.normalize(torch.randn(M, D, generator=g), dim=1))
    W_dec = torch.nn.Parameter(W_enc.detach().clone())
    b_enc, b_dec = torch.nn.Parameter(torch.zeros(M)), torch.nn.Parameter(torch.zeros(D))
    params = [W_enc, W_dec, b_enc, b_dec]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.Adam(params, lr=1e-4, fused=True)
    We, Wd = W_enc.detach().to(torch.bfloat16), W_dec.detach().to(torch.bfloat16)
    idx = torch.randint(0, M, (B, K), generator=g)
    weights = torch.rand(B, K, generator=g).to(torch.bfloat16)
    out = torch.empty(B, M, dtype=torch.bfloat16)
    batches = [X[(s * B) % (len(X) - B):][:B].to(torch.bfloat16) for s in range(steps)]
    parts = {"encoder": [], "decoder": [], "adam": []}

    def once():
        t = {}
        for name in parts:
            t[name] = 0.0
        for x in batches:
            t0 = time.perf_counter()
            torch.mm(x, We.t(), out=out)
            t1 = time.perf_counter()
            F.embedding_bag(idx, Wd, per_sample_weights=weights, mode="sum")
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            t["encoder"] += t1 - t0
            t["decoder"] += t2 - t1
            t["adam"] += t3 - t2
        return t

    once()  # warm-up
    for _ in range(repeats):
        t = once()
        for name in parts:
            parts[name].append(t[name] / steps)
    med = {name: float(np.median(v)) for name, v in parts.items()}
    step = sum(med.values())
    return {"seconds_per_step": med, "step_seconds": step, "tokens_per_s": B / step}


def stage_throughput(args, work: Path) -> dict:
    from sae_peers import peer_version, train_peer

    peers, missing = _peers_list(args)
    X = train_rows(work, args.throughput_rows)
    scale = input_scale_of(X[:65536])
    n_tokens = args.steps * B
    contenders = [("aekit", "bfloat16"), ("aekit", "float32")]
    contenders += [(p, prec) for p in peers for prec in ("float32", "bfloat16")]
    runs: dict[str, list] = {}
    for r in range(args.rounds):
        order = contenders[r % len(contenders):] + contenders[: r % len(contenders)]
        for peer, prec in order:
            res = train_peer(peer, X, n_latents=M, k=K, batch_size=B, n_tokens=n_tokens, lr=None, seed=args.seed,
                             threads=args.threads, precision=prec, skip_steps=args.warmup_steps, input_scale=scale)
            runs.setdefault(f"{peer}|{prec}", []).append(
                {"steady": res.steady_tokens_per_s, "best_step": res.best_step_tokens_per_s,
                 "whole": res.tokens_per_s})
            print(f"[throughput round {r}] {peer:20s} {prec:8s} steady {res.steady_tokens_per_s:8.0f} tok/s",
                  flush=True)
            del res
    ceiling = matmul_ceiling(X, min(args.steps, 8), args.rounds)
    versions = {p: peer_version(p) for p in ["aekit", *peers]}
    return {"rows_in_memory": len(X), "steps": args.steps, "warmup_steps": args.warmup_steps, "rounds": args.rounds,
            "threads": args.threads, "input_scale": scale, "runs": runs, "ceiling": ceiling, "versions": versions,
            "missing": missing, "load": os.getloadavg()[0]}


def throughput_lines(t: dict) -> list[str]:
    rows = []
    for key, runs in t["runs"].items():
        peer, prec = key.split("|")
        steady = [r["steady"] for r in runs]
        rows.append((peer, prec, float(np.median(steady)), min(steady), max(steady),
                     max(r["best_step"] for r in runs), float(np.median([r["whole"] for r in runs]))))
    aekit = max((r for r in rows if r[0] == "aekit"), key=lambda r: r[2])
    peer_rows = [r for r in rows if r[0] != "aekit"]
    fastest_peer = max((r for r in peer_rows if r[0] != "reference"), key=lambda r: r[2], default=None)
    reference = max((r for r in peer_rows if r[0] == "reference"), key=lambda r: r[2], default=None)
    ceil = t["ceiling"]["tokens_per_s"]
    out = [f"TopK, d {D}, {M} latents, k {K}, batch {B}; {t['rows_in_memory']:,} real train-store rows in memory "
           f"(bfloat16, scaled to E||x||^2 = d, s = {t['input_scale']:.4g}); every contender trains {t['steps']} steps "
           f"on the same batches (one seed), {t['rounds']} interleaved rounds with the order rotated each round; "
           f"steady tokens/s counts steps {t['warmup_steps']} .. last (the first {t['warmup_steps']} steps are the "
           f"stated warm-up: allocation, b_dec initialization); {t['threads']} threads. Versions: "
           + ", ".join(f"{k} {v}" for k, v in t["versions"].items()) + ".",
           *([f"Peers not importable here, left out: {', '.join(t['missing'])}."] if t["missing"] else []),
           "",
           "| contender | precision | steady tokens/s (median) | spread (min - max) | best step | whole call (median) "
           "| vs fastest peer | of the ceiling |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for peer, prec, med, lo, hi, best, whole in sorted(rows, key=lambda r: -r[2]):
        vs = f"{med / fastest_peer[2]:.2f}x" if fastest_peer else "-"
        out.append(f"| {peer} | {prec} | {med:,.0f} | {lo:,.0f} - {hi:,.0f} | {best:,.0f} | {whole:,.0f} | {vs} | "
                   f"{med / ceil:.0%} |")
    sec = t["ceiling"]["seconds_per_step"]
    out += ["", f"Matmul ceiling (timed alone, median of {t['rounds']}): encoder product bf16 {sec['encoder'] * 1e3:.1f} ms "
            f"+ decoder at k atoms bf16 {sec['decoder'] * 1e3:.1f} ms + fused Adam {sec['adam'] * 1e3:.1f} ms per step "
            f"= {ceil:,.0f} tokens/s."]
    ratio = aekit[2] / fastest_peer[2] if fastest_peer else None
    if fastest_peer:
        out.append(f"aekit ({aekit[1]}) / fastest peer ({fastest_peer[0]}, {fastest_peer[1]}): **{ratio:.2f}x**; "
                   f"aekit reaches {aekit[2] / ceil:.0%} of the matmul ceiling"
                   + (f"; plain-PyTorch reference ({reference[1]}): {aekit[2] / reference[2]:.2f}x" if reference else "")
                   + ".")
    t["_ratio"] = ratio
    return out


# ---------------------------------------------------------------- quality
def stage_quality(args, work: Path) -> dict:
    from aekit.io import save
    from sae_peers import peer_version, train_peer

    peers, missing = _peers_list(args)
    X = train_rows(work, args.budget)
    scale = input_scale_of(X[:65536])
    scorer = Scorer(args, work)
    seeds = [int(s) for s in args.seeds.split(",")]
    common = dict(n_latents=M, k=K, batch_size=B, n_tokens=args.budget, lr=None, threads=args.threads,
                  precision="bfloat16", input_scale=scale)
    rows = []

    def add(name, seed, encode, reconstruct, seconds=None, tokens_per_s=None):
        t0 = time.perf_counter()
        m = scorer.score(raw_units(encode, scale), raw_units(reconstruct, scale))
        rows.append({"contender": name, "seed": seed, "train_seconds": seconds, "tokens_per_s": tokens_per_s,
                     "score_seconds": time.perf_counter() - t0, **m})
        print(f"[quality] {name} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in m.items()
                                                         if isinstance(v, float)), flush=True)

    # the untrained control: aekit's initialization (b_dec, unit-norm atoms) without one training step
    from aekit.autoencoders import SparseDictionary
    from aekit.autoencoders._sae_init import geometric_median

    control = SparseDictionary(M, architecture="topk", k=K, random_state=seeds[0])
    sample = X[:control.init_rows].double() * scale
    module = control.build_module(D, generator=torch.Generator().manual_seed(seeds[0]), scale=1.0,
                                  b_dec=geometric_median(sample).float()).eval()
    with torch.no_grad():
        add("aekit, untrained (control)", seeds[0], lambda x: module.features(x), lambda x: module.decode(
            module.features(x)))
    for seed in seeds:
        res = train_peer("aekit", X, seed=seed, **common)
        add("aekit", seed, res.encode, res.reconstruct, res.seconds, res.tokens_per_s)
        if seed == seeds[0]:
            save(aekit_raw(res.estimator, scale), work / "aekit-quality-model")
        del res
    for peer in peers:
        res = train_peer(peer, X, seed=seeds[0], **common)
        add(peer, seeds[0], res.encode, res.reconstruct, res.seconds, res.tokens_per_s)
        del res
    return {"budget": args.budget, "split": args.split, "seeds": seeds, "input_scale": scale, "eval_rows": len(scorer.X),
            "splice_windows": args.splice_windows, "rows": rows, "missing": missing,
            "versions": {p: peer_version(p) for p in ["aekit", *peers]}}


def _mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None


def quality_lines(q: dict) -> tuple[list[str], dict]:
    groups: dict[str, list[dict]] = {}
    for r in q["rows"]:
        groups.setdefault(r["contender"], []).append(r)
    keys = ("explained_variance", "fvu", "l0", "dead_fraction", "ce_loss_recovered", "kl", "tokens_per_s")
    out = [f"Budget: every contender trains on the same {q['budget']:,} train-store rows (one epoch, the same "
           f"batches in the same order, batch {B}, bfloat16, Gao et al.'s learning rate with the common warm-up / "
           f"decay schedule, AuxK 1/32 where the peer has it), then is scored on the first {q['eval_rows']:,} rows of "
           f"the **{q['split']}** store (explained variance, FVU, L0, latents dead on those rows, % of {M}) and on "
           f"{q['splice_windows']} {q['split']} windows of {CONTEXT} tokens with its reconstruction spliced into "
           f"SmolLM2 at layer 15 (CE-loss recovered, KL to the clean next-token distribution). aekit over seeds "
           f"{', '.join(map(str, q['seeds']))} (mean ± sd); peers seed {q['seeds'][0]}.",
           *([f"Peers not importable here, left out: {', '.join(q['missing'])}."] if q["missing"] else []), "",
           "| contender | EV | FVU | L0 | dead % | CE-loss recovered | KL (nats) | train tokens/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    summary = {}
    for name, rs in groups.items():
        stats = {k: _mean_sd([r.get(k) for r in rs]) for k in keys}
        summary[name] = stats

        def cell(k, spec, mult=1.0):
            m, sd = stats[k]
            if m is None:
                return "-"
            return format(m * mult, spec) + ("" if sd is None else " ± " + format(sd * mult, spec))

        out.append(f"| {name}{'' if len(rs) == 1 else f' ({len(rs)} seeds)'} | {cell('explained_variance', '.4f')} | "
                   f"{cell('fvu', '.4f')} | {cell('l0', '.1f')} | {cell('dead_fraction', '.2f', 100)} | "
                   f"{cell('ce_loss_recovered', '.4f')} | {cell('kl', '.4f')} | {cell('tokens_per_s', ',.0f')} |")
    clean = q["rows"][0]
    if "ce_clean" in clean:
        out += ["", f"CE clean {clean['ce_clean']:.4f}, zero-ablated {clean['ce_zero']:.4f} nats per token over "
                f"{clean['splice_tokens']:,} predictions."]
    return out, summary


# ---------------------------------------------------------------- memory
class CappedBatches:
    """The first ``rows`` rows' worth of batches of a BatchSource's shuffled epoch (``--memory-rows``)."""

    def __new__(cls, source, rows: int):
        from aekit.training import BatchSource

        class Capped(BatchSource):
            def __len__(self):
                return min(rows, len(source))

            def shuffled(self, batch_size, generator, ctx, skip=0):
                n = len(self) // batch_size
                for i, batch in enumerate(source.shuffled(batch_size, generator, ctx, skip)):
                    if i + skip >= n:
                        return
                    yield batch

            def ordered(self, batch_size, ctx):
                return source.ordered(batch_size, ctx)

            def chunks(self, rows_, limit=None):
                return source.chunks(rows_, len(self) if limit is None else min(limit, len(self)))

        return Capped()


def memory_child(work: Path, rows: int | None, threads: int, seed: int, out: Path) -> None:
    """In its own process: aekit trained out of core from the train store; peak RSS, rows/s; the model saved."""
    from aekit.autoencoders import SparseDictionary
    from aekit.harvest import StoreBatches
    from aekit.io import atomic_write_json, save

    torch.set_num_threads(threads)
    source = StoreBatches(work / "store-train")
    if rows:
        source = CappedBatches(source, rows)
    n_steps = len(source) // B
    sae = SparseDictionary(M, architecture="topk", k=K, batch_size=B, learning_rate=2e-4 / math.sqrt(M / 2**14),
                           lr_schedule="linear", warmup_steps=max(1, min(1000, n_steps // 20)), max_epochs=1,
                           precision="auto", random_state=seed, verbose=False)
    t0 = time.perf_counter()
    sae.fit(source)
    seconds = time.perf_counter() - t0
    save(sae, work / "aekit-store-model")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    atomic_write_json(out, {"rows": n_steps * B, "store_rows": len(StoreBatches(work / "store-train")),
                            "seconds": seconds, "rows_per_s": n_steps * B / seconds, "peak_rss_bytes": rss,
                            "buffer_rows": StoreBatches(work / "store-train").buffer_rows})


def stage_memory(args, work: Path) -> dict:
    from aekit.io import load

    out = work / "memory-child.json"
    cmd = [sys.executable, __file__, "--memory-child", "--work", str(work), "--threads", str(args.threads),
           "--seed", str(args.seed)] + (["--memory-rows", str(args.memory_rows)] if args.memory_rows else [])
    subprocess.run(cmd, check=True)
    child = json.loads(out.read_text())
    sae = load(work / "aekit-store-model")
    m = sae.module_
    with torch.no_grad():
        child["score"] = Scorer(args, work).score(lambda x: m.features(x), lambda x: m.decode(m.features(x)))
    child["split"] = args.split
    return child


def memory_lines(mem: dict) -> list[str]:
    s = mem["score"]
    gb = mem["peak_rss_bytes"] / 1e9
    return [f"aekit alone in a fresh process, trained out of core from the on-disk train store ({mem['store_rows']:,} "
            f"rows; StoreBatches: shuffle buffer of {mem['buffer_rows']:,} rows, one epoch over "
            f"{mem['rows']:,} rows{' (capped by --memory-rows)' if mem['rows'] < mem['store_rows'] - B else ''}): "
            f"**peak RSS {gb:.2f} GB** (getrusage ru_maxrss of the training process, imports included), "
            f"{mem['rows_per_s']:,.0f} rows/s, {mem['seconds']:.0f} s. Its model on the {mem['split']} rows: EV "
            f"{s['explained_variance']:.4f}, FVU {s['fvu']:.4f}, L0 {s['l0']:.1f}, dead {100 * s['dead_fraction']:.2f} %"
            + (f", CE-loss recovered {s['ce_loss_recovered']:.4f}, KL {s['kl']:.4f}" if "kl" in s else "") + "."]


# ---------------------------------------------------------------- scale
def scale_child(work: Path, rows: int, threads: int, seed: int, out: Path) -> None:
    """One training of the scale comparison: under torchrun each rank runs this; rank 0 (or the one process) saves."""
    from aekit.autoencoders import SparseDictionary
    from aekit.io import save

    torch.set_num_threads(threads)
    X = train_rows(work, rows, dtype=torch.float32).numpy()
    # float32 and the generic (autograd) step: what DDP runs, so the two runs differ only by the order of the sums
    sae = SparseDictionary(M, architecture="topk", k=K, batch_size=B, learning_rate=2e-4 / math.sqrt(M / 2**14),
                           warmup_steps=2, max_epochs=1, precision="float32", fused_step=False, random_state=seed,
                           verbose=False)
    sae.fit(X)
    dist = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not dist or torch.distributed.get_rank() == 0:
        save(sae, out)
    if dist:
        torch.distributed.destroy_process_group()


def stage_scale(args, work: Path) -> dict:
    import socket

    from aekit.io import load

    base = [__file__, "--scale-child", "--work", str(work), "--scale-rows", str(args.scale_rows), "--seed",
            str(args.seed), "--threads", "1"]
    one, two = work / "scale-1proc", work / "scale-2proc"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *base, "--scale-out", str(one)], check=True)
    t1 = time.perf_counter()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
                    *base, "--scale-out", str(two)], check=True)
    t2 = time.perf_counter()
    a, b = load(one), load(two)
    diff = max(float((p - q).abs().max()) for p, q in zip(a.module_.state_dict().values(),
                                                         b.module_.state_dict().values()))
    X = heldout_store(work, args.split).rows(0, min(args.eval_rows, 50_000), dtype=torch.float32).numpy()
    from aekit.metrics import explained_variance

    ev = [explained_variance(X, m.inverse_transform(m.transform(X))) for m in (a, b)]
    return {"rows": args.scale_rows, "steps": args.scale_rows // B, "max_weight_diff": diff, "ev_one": ev[0],
            "ev_two": ev[1], "seconds_one": t1 - t0, "seconds_two": t2 - t1, "split": args.split,
            "eval_rows": len(X), "ev_tolerance": SCALE_EV_TOL}


# The two runs split each batch differently between processes, so their gradient sums differ in rounding (float32,
# relative ~ 4096 * 2^-24); over many steps such differences flip TopK selections and grow like a change of seed
# in the last bits, not like an error: held-out explained variance is the comparison, to within 0.005, well under
# the spread of aekit's seeds in the quality table, and the weights' largest difference is printed.
SCALE_EV_TOL = 0.005


def scale_lines(sc: dict) -> list[str]:
    d = abs(sc["ev_one"] - sc["ev_two"])
    return [f"aekit trained on the first {sc['rows']:,} train rows ({sc['steps']} steps of {B}, float32, the generic "
            f"autograd step that DDP runs) in one process and under `torchrun --nproc_per_node 2` (gloo, 1 thread "
            f"each): largest weight difference {sc['max_weight_diff']:.3g}; held-out EV on {sc['eval_rows']:,} "
            f"{sc['split']} rows {sc['ev_one']:.5f} (1 process) vs {sc['ev_two']:.5f} (2 processes), |difference| "
            f"{d:.2g}, tolerance {sc['ev_tolerance']} (the reason is in the script beside SCALE_EV_TOL): "
            f"**{'PASS' if d <= sc['ev_tolerance'] else 'MISS'}**. Wall time {sc['seconds_one']:.0f} s vs "
            f"{sc['seconds_two']:.0f} s."]


# ---------------------------------------------------------------- inspect
def stage_inspect(args, work: Path) -> dict:
    from aekit.inspection import inspect_store
    from aekit.io import load
    from aekit.viz import write_latent_report

    for name in ("aekit-store-model", "aekit-quality-model"):  # the most-trained first
        if (work / name).exists():
            break
    else:
        raise SystemExit("no trained aekit model in --work: run the quality or memory stage first")
    sae = load(work / name)
    store = heldout_store(work, args.split)
    report = inspect_store(sae, store, n_latents=20, n_top=args.inspect_top, max_rows=args.inspect_rows,
                           progress=False)
    page = Path(args.page)
    write_latent_report(report, page, title=f"SmolLM2 layer 15: 20 latents of aekit's TopK SAE ({args.split} text)")
    shot = screenshot(page, Path(args.screenshot)) if args.screenshot else None
    return {"model": name, "page": str(page), "bytes": page.stat().st_size, "latents": len(report.latents),
            "rows": report.n_rows, "screenshot": shot, "notes": list(report.notes), "split": args.split}


def screenshot(page: Path, png: Path) -> str | None:
    """A PNG of the page's top in headless Chromium, through the DevTools harness of the browser tests
    (tests/viz/_chromium.py, ``make browser``); None when Chromium is not installed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "viz"))
    from _chromium import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        browser = Chromium(binary, profile, width=1280, height=1100)
        try:
            browser.open(page.resolve().as_uri())
            png.parent.mkdir(parents=True, exist_ok=True)
            browser.screenshot(png)
        finally:
            browser.close()
    return str(png)


def inspect_lines(ins: dict) -> list[str]:
    return [f"aekit's latent report ({ins['model']}) for {ins['latents']} latents spread over firing frequency, "
            f"top-activating contexts on {ins['rows']:,} {ins['split']} rows: [{Path(ins['page']).name}]"
            f"({Path(ins['page']).name}) ({ins['bytes'] / 1e6:.1f} MB, self-contained)"
            + (f"; screenshot `{Path(ins['screenshot']).name}`" if ins["screenshot"] else "; no headless browser here, so no screenshot")
            + "." + "".join(f" Note: {n}." for n in ins["notes"])]


# ---------------------------------------------------------------- results
def harvest_lines(h: dict) -> list[str]:
    out = [f"SmolLM2-135M-Instruct, `{LAYER}` output (residual stream), d {D}, context {CONTEXT}, position 0 left out; "
           f"text: {', '.join(SOURCES)} (split by document). Model loaded in {h['load_s']:.0f} s, blocks "
           f"{'compiled' if h['compiled'] else 'not compiled'}.", "",
           "| store | rows | text tokens | windows | stride | size (GB) | harvest tokens/s | built in this run |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for split in ("train", "validation", "test"):
        s = h["stores"][split]
        rate = s["harvest"]["tokens_per_s"] if s.get("harvest") else None
        out.append(f"| {split} | {s['rows']:,} | {s['text_tokens']:,} | {s['windows']:,} | {s['stride']} | "
                   f"{s['bytes'] / 1e9:.2f} | {_fmt(rate, ',.0f')} | {'yes' if s['built_now'] else 'no (reused)'} |")
    if "timed" in h:
        t = h["timed"]
        out += ["", f"Fresh timed harvest (the whole call: set-up, forward passes to layer 15, writes and checksums): "
                f"{t['tokens']:,} tokens in {t['seconds']:.1f} s = **{t['tokens_per_s']:,.0f} tokens/s**; position-0 "
                f"norm / median norm {t['excluded_norm_ratio']:.0f}x, extreme rows {t['extreme_rows']}."]
    return out


def write_results(args, pieces: dict) -> Path:
    from aekit.bench._provenance import command_line, write_results as write

    body, targets = [], []
    titles = {"harvest": "Harvest", "throughput": "Training throughput", "quality": "Quality at equal budget",
              "memory": "Out-of-core training and memory", "scale": "Scale: torchrun, 2 processes",
              "inspect": "Latent inspection"}
    for stage in STAGES:
        piece = pieces.get(stage)
        if piece is None:
            continue
        data = piece["data"]
        body += [f"## {titles[stage]}", "", f"_Measured {piece['date']}, commit {piece['commit']}, "
                 f"`{piece['command']}`._", ""]
        if stage == "harvest":
            body += harvest_lines(data)
            if "timed" in data:
                rate = data["timed"]["tokens_per_s"]
                targets.append(f"- Harvest >= 8k tokens/s (SmolLM2 layer 15, context 128): {rate:,.0f}: "
                               f"**{'PASS' if rate >= 8000 else 'MISS'}**")
            rows = data["stores"]["train"]["rows"]
            targets.append(f"- Train store >= 10 M tokens: {rows:,} rows: **{'PASS' if rows >= 10_000_000 else 'MISS'}**")
        elif stage == "throughput":
            body += throughput_lines(data)
            r = data.get("_ratio")
            if r is not None:
                targets.append(f"- Throughput >= 2x the fastest peer (moonshot 4x): {r:.2f}x: "
                               f"**{'PASS' if r >= 2 else 'MISS'}**{' (moonshot met)' if r >= 4 else ''}")
        elif stage == "quality":
            lines, summary = quality_lines(data)
            body += lines
            ae = summary.get("aekit")
            peers = {k: v for k, v in summary.items() if not k.startswith("aekit") and k != "reference"}
            if ae:
                fvu = ae["fvu"][0]
                if peers:
                    best = min(peers, key=lambda k: peers[k]["fvu"][0])
                    bf = peers[best]["fvu"][0]
                    targets.append(f"- FVU <= the best peer's ({best} {bf:.4f}): aekit {fvu:.4f}: "
                                   f"**{'PASS' if fvu <= bf else 'MISS'}**")
                dead = ae["dead_fraction"][0]
                targets.append(f"- Dead latents <= 5 %: {100 * dead:.2f} %: **{'PASS' if dead <= 0.05 else 'MISS'}**")
                ev = ae["explained_variance"][0]
                targets.append(f"- Explained variance >= 0.85 (k 32, 8x width, held-out {data['split']}): {ev:.4f}: "
                               f"**{'PASS' if ev >= 0.85 else 'MISS'}**")
                ce = ae["ce_loss_recovered"][0]
                if ce is not None:
                    targets.append(f"- CE-loss recovered >= 0.90: {ce:.4f}: **{'PASS' if ce >= 0.90 else 'MISS'}**")
        elif stage == "memory":
            body += memory_lines(data)
            gb = data["peak_rss_bytes"] / 1e9
            targets.append(f"- Out-of-core training peak RSS < 4 GB: {gb:.2f} GB over {data['rows']:,} rows: "
                           f"**{'PASS' if gb < 4 else 'MISS'}**")
        elif stage == "scale":
            body += scale_lines(data)
            d = abs(data["ev_one"] - data["ev_two"])
            targets.append(f"- torchrun (2 processes) matches one process: |ΔEV| {d:.2g} <= {data['ev_tolerance']}: "
                           f"**{'PASS' if d <= data['ev_tolerance'] else 'MISS'}**")
        elif stage == "inspect":
            body += inspect_lines(data)
        body.append("")
    body = ["## Targets", "", *targets, "", *body]
    return write(args.out, "Sparse autoencoders on SmolLM2 layer 15: harvest, throughput, quality, memory, scale",
                 command_line("python benchmarks/bench_sae.py", _shown(sys.argv[1:])), body, notes="sae-notes.md")


def _shown(argv: list[str]) -> list[str]:
    """The arguments as the results file shows them: folders of this machine as DIR."""
    out, hide = [], False
    for a in argv:
        out.append("DIR" if hide else a)
        hide = a == "--work"
    return [f"--work=DIR" if a.startswith("--work=") else a for a in out]


def save_piece(args, stage: str, data: dict) -> None:
    from datetime import datetime, timezone

    from aekit.bench._provenance import command_line, git_commit
    from aekit.io import atomic_write_json

    atomic_write_json(args.work / f"result-{stage}.json", {
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", "commit": git_commit(),
        "command": command_line("python benchmarks/bench_sae.py", _shown(sys.argv[1:])), "data": data})


def load_pieces(work: Path) -> dict:
    pieces = {}
    for stage in STAGES:
        path = work / f"result-{stage}.json"
        if path.exists():
            pieces[stage] = json.loads(path.read_text())
    return pieces


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    from aekit.datasets._base import get_data_home

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    p.add_argument("--work", type=Path, default=get_data_home() / "bench-sae",
                   help="folder of the activation stores, trained models and each stage's result piece "
                        "(default: $AEKIT_DATA/bench-sae)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the throughput, memory and scale runs")
    p.add_argument("--split", choices=("validation", "test"), default="validation",
                   help="held-out rows and windows the models are scored on (test: once, at the end)")
    p.add_argument("--peers", default=None, help="comma-separated peers (default: every one that imports)")
    # harvest
    p.add_argument("--store-rows", type=int, default=10_000_000, help="rows of the train store")
    p.add_argument("--stride", type=int, default=None, help="train windows' stride (default: from --store-rows)")
    p.add_argument("--heldout-rows", type=int, default=None,
                   help="cap on the rows of the validation and test stores (default: all of their windows)")
    p.add_argument("--harvest-tokens", type=int, default=200_000, help="rows of the fresh timed harvest (0: skip)")
    # throughput
    p.add_argument("--throughput-rows", type=int, default=300_000, help="train rows held in memory for the timing")
    p.add_argument("--steps", type=int, default=20, help="steps of each timed training run")
    p.add_argument("--warmup-steps", type=int, default=3, help="first steps of each run left out of steady tokens/s")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (order rotated each round)")
    # quality
    p.add_argument("--budget", type=int, default=250 * B,
                   help="train rows every contender trains on (default 1,024,000: 250 steps; ~20 min on 2 threads)")
    p.add_argument("--seeds", default="0,1,2", help="aekit's seeds in the quality stage (peers: the first)")
    p.add_argument("--eval-rows", type=int, default=100_000, help="held-out rows scored")
    p.add_argument("--splice-windows", type=int, default=64, help="held-out windows of the CE / KL splice (0: skip)")
    # memory, scale, inspect
    p.add_argument("--memory-rows", type=int, default=None, help="cap on the rows of the out-of-core epoch")
    p.add_argument("--scale-rows", type=int, default=40 * B, help="train rows of the torchrun comparison")
    p.add_argument("--inspect-rows", type=int, default=None, help="held-out rows inspected (default: all)")
    p.add_argument("--inspect-top", type=int, default=10, help="top-activating contexts per latent")
    p.add_argument("--page", default="benchmarks/results/sae-latents.html")
    p.add_argument("--screenshot", default="docs/sae-latents.png", help="PNG of the page ('' for none)")
    p.add_argument("--out", default="benchmarks/results/sae.md")
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scale-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scale-out", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_child:
        return memory_child(args.work, args.memory_rows, args.threads, args.seed, args.work / "memory-child.json")
    if args.scale_child:
        return scale_child(args.work, args.scale_rows, args.threads, args.seed, args.scale_out)
    args.work.mkdir(parents=True, exist_ok=True)
    stages = args.stages.split(",")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)}")
    run = {"harvest": stage_harvest, "throughput": stage_throughput, "quality": stage_quality,
           "memory": stage_memory, "scale": stage_scale, "inspect": stage_inspect}
    for stage in STAGES:
        if stage in stages:
            t0 = time.perf_counter()
            data = run[stage](args, args.work)
            data["stage_seconds"] = time.perf_counter() - t0
            save_piece(args, stage, data)
            print(f"[{stage}] done in {data['stage_seconds']:.0f} s", flush=True)
    path = write_results(args, load_pieces(args.work))
    print(path.read_text())


if __name__ == "__main__":
    main()

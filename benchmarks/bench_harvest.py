"""Harvest throughput on SmolLM2-135M, layer 15 residual stream, context 128: side by side in one run.

Measured on the same token windows (Python documentation text, tokenized by
SmolLM2's tokenizer, windows of 128 tokens starting with <|endoftext|>), in
rounds that interleave the settings (the best round of each is reported, and
the median beside it), after one warm-up pass each:

(a) the full forward pass in float32, the layer captured by a hook (the plain way);
(b) stopped at the hooked layer (aekit.harvest.run_to), float32;
(c) the full pass with the weights in bfloat16;
(d) stopped at the layer, weights in bfloat16 -- what ``aekit harvest`` does where the CPU runs bfloat16 natively;
(e) stopped at the layer, float32 weights under bfloat16 autocast;
    with --compile also (f): (d) with the blocks' RMSNorms and MLPs compiled (aekit.harvest.compile_blocks).

Printed: tokens/s of each, the stop-at-layer speed-ups (b/a, d/c) and d/a; the
accuracy of the bfloat16 activations against float32 (relative error per row
at positions >= 1); then an end-to-end harvest (tokenized windows -> store on
disk, setting (d), or (f) with --compile) with its tokens/s, the median norm of position 0 over the
others and the extreme rows (> 10 x median norm) with the tokens they sit on.
``--clock cpu`` times with the process's CPU time instead of the wall clock
(robust to other processes when --threads 1; with more threads it counts
waiting threads' spinning too).

    python benchmarks/bench_harvest.py [--batches 4] [--repeats 3] [--threads 0] [--clock wall|cpu] [--compile]
        [--harvest-tokens 200000] [--harvest-repeats 3] [--out benchmarks/results/harvest.md]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

from aekit.bench._provenance import command_line, provenance_lines
from aekit.datasets import get_text
from aekit.harvest import compile_blocks, harvest, load_smollm2, run_to
from aekit.io import atomic_write_text

LAYER = "model.layers.15"
clock = time.perf_counter


def forward(module, ids, stop: bool, autocast: bool = False) -> torch.Tensor:
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return run_to(module, LAYER, lambda: module(ids, use_cache=False), stop=stop)


def tokens_per_second(fn, batches) -> float:
    start = clock()
    for ids in batches:
        fn(ids)
    return sum(b.numel() for b in batches) / (clock() - start)


def main(argv=None) -> None:
    global clock
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=4, help="batches of --batch-size windows per timing")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--compile", action="store_true", help="also time (f): compiled RMSNorms and MLPs")
    p.add_argument("--harvest-tokens", type=int, default=200_000, help="rows of the end-to-end harvest (0: skip)")
    p.add_argument("--harvest-repeats", type=int, default=3, help="end-to-end harvests (the best is reported)")
    p.add_argument("--out", default="benchmarks/results/harvest.md")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    t0 = time.perf_counter()
    lm32 = load_smollm2(dtype="float32")
    load_s = time.perf_counter() - t0
    bf16 = copy.deepcopy(lm32.module).to(torch.bfloat16)
    corpus = get_text("python-docs", "train")
    t0 = time.perf_counter()
    windows = lm32.windows(corpus, args.context)
    tokenize_s = time.perf_counter() - t0
    n = args.batches * args.batch_size
    batches = [torch.from_numpy(windows.tokens[i : i + args.batch_size]) for i in range(0, n, args.batch_size)]

    settings = {
        "(a) full pass, float32": lambda ids: forward(lm32.module, ids, stop=False),
        "(b) stop at layer, float32": lambda ids: forward(lm32.module, ids, stop=True),
        "(c) full pass, bfloat16 weights": lambda ids: forward(bf16, ids, stop=False),
        "(d) stop at layer, bfloat16 weights": lambda ids: forward(bf16, ids, stop=True),
        "(e) stop at layer, float32 + bf16 autocast": lambda ids: forward(lm32.module, ids, stop=True, autocast=True),
    }
    if args.compile:
        compiled = copy.deepcopy(bf16)
        compile_blocks(compiled)
        t0 = time.perf_counter()
        forward(compiled, batches[0], stop=True)
        compile_s = time.perf_counter() - t0
        settings["(f) = (d) + compiled norms and MLPs"] = lambda ids: forward(compiled, ids, stop=True)
    for fn in settings.values():
        fn(batches[0])  # warm-up
    rates: dict[str, list[float]] = {k: [] for k in settings}
    for r in range(args.repeats):
        for name, fn in settings.items():
            rates[name].append(tokens_per_second(fn, batches))
            print(f"round {r + 1}: {name}: {rates[name][-1]:.0f} tokens/s", flush=True)
    best = {k: max(v) for k, v in rates.items()}
    med = {k: statistics.median(v) for k, v in rates.items()}
    keys = list(settings)

    # accuracy of the bfloat16 activations (positions >= 1) against float32
    ids = batches[0]
    ref = forward(lm32.module, ids, True).float()[:, 1:]
    errors = {}
    candidates = [("(d) bfloat16 weights", forward(bf16, ids, True)),
                  ("(e) bf16 autocast", forward(lm32.module, ids, True, autocast=True))]
    if args.compile:
        candidates.append(("(f) compiled", forward(compiled, ids, True)))
    for name, act in candidates:
        rel = ((act.float()[:, 1:] - ref).norm(dim=-1) / ref.norm(dim=-1)).flatten()
        errors[name] = (float(rel.median()), float(rel.quantile(0.99)))
    store_rel = float(((ref.to(torch.bfloat16).float() - ref).norm(dim=-1) / ref.norm(dim=-1)).median())

    lines = ["# Harvest: SmolLM2-135M layer 15 residual stream, context 128", ""]
    lines += provenance_lines(command_line("python benchmarks/bench_harvest.py", sys.argv[1:] if argv is None else argv))
    lines += [
        f"- threads: {torch.get_num_threads()}; clock: {args.clock}; {args.repeats} rounds of {n} windows "
        f"({n * args.context} tokens) per setting, interleaved, after one warm-up batch each",
        f"- model load (GGUF dequantization): {load_s:.1f} s; tokenizing the python-docs train split "
        f"({len(corpus)} documents, {windows.n_tokens} tokens in {len(windows)} windows): {tokenize_s:.1f} s",
        "", "| setting | tokens/s (best) | tokens/s (median) | vs (a) |", "|---|---|---|---|",
    ]
    for k in keys:
        lines.append(f"| {k} | {best[k]:.0f} | {med[k]:.0f} | {best[k] / best[keys[0]]:.2f}x |")
    lines += [
        "",
        f"- stop-at-layer speed-up: float32 {best[keys[1]] / best[keys[0]]:.2f}x (b/a), "
        f"bfloat16 {best[keys[3]] / best[keys[2]]:.2f}x (d/c); bfloat16 + stop vs the float32 full pass: "
        f"{best[keys[3]] / best[keys[0]]:.2f}x (d/a)",
    ]
    if args.compile:
        lines.append(f"- (f) compile time: {compile_s:.1f} s (once per process)")
    lines.append("- relative error per row against float32 (positions >= 1), median / 99th percentile: "
                 + "; ".join(f"{k} {m:.4f} / {q:.4f}" for k, (m, q) in errors.items())
                 + f"; storing float32 rows as bfloat16 alone: {store_rel:.4f}")

    if args.harvest_tokens:
        need = -(-args.harvest_tokens // (args.context - 1))
        w = windows.take(min(need, len(windows)))
        model = compiled if args.compile else bf16
        times = []
        for r in range(args.harvest_repeats):
            with tempfile.TemporaryDirectory() as tmp:
                start = clock()
                report = harvest(model, LAYER, w, Path(tmp) / "store", model_name="smollm2",
                                 batch_size=args.batch_size, max_rows=args.harvest_tokens, progress=False)
                times.append(clock() - start)  # the whole call: set-up, calibration, forward passes, writes
                print(f"harvest {r + 1}: {report.tokens / times[-1]:.0f} tokens/s", flush=True)
                if r == 0:
                    index = report.store.index_rows()
                    norms = report.store.rows().norm(dim=-1)
                    size = sum(report.store.shard_path(k).stat().st_size for k in range(report.store.n_shards))
        extreme = (norms > report.norm_threshold).numpy()
        top = np.unique(index[extreme, 0], return_counts=True)
        shown = ", ".join(f"{lm32.tokenizer.convert_ids_to_tokens(int(t))!r} x{c}"
                          for t, c in sorted(zip(*top), key=lambda tc: -tc[1])[:5])
        best_s, med_s = min(times), statistics.median(times)
        lines += [
            "", f"## End-to-end harvest (setting {'(f)' if args.compile else '(d)'}, into a bfloat16 store)", "",
            f"- {report.rows} rows x d={report.store.d} from {report.tokens} tokens, {args.harvest_repeats} harvests "
            f"({args.clock} clock; the whole call, writes and checksums included): **{report.tokens / best_s:.0f} "
            f"tokens/s** best ({best_s:.1f} s), {report.tokens / med_s:.0f} median; {size / 2**20:.0f} MiB of shards",
            f"- position 0 (<|endoftext|>, excluded): median norm {report.excluded_norm_ratio:.0f}x that of the "
            f"harvested positions (median {report.median_norm:.1f})",
            f"- extreme rows (norm > {report.norm_threshold:.0f} = 10 x median): {report.extreme_rows} "
            f"({report.extreme_rows / report.rows:.2%}); their tokens: {shown}",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = atomic_write_text(args.out, text)
    print(f"written: {out}")


if __name__ == "__main__":
    main()

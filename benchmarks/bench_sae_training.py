"""Sparse-autoencoder training throughput: aekit's kernels against plain PyTorch loops, side by side in one run.

The problem of issue 14's target: TopK, d 576 (SmolLM2's residual stream),
4608 latents, k 32, batch 4096, on synthetic activations with a known sparse
dictionary (``aekit.datasets.make_sparse_dictionary_data``: 4 x 4608 random atoms, 32 active
per row, Zipf frequencies, an offset, 5 % noise). Measured, interleaved in
each repeat (the best repeat of each is reported), each over ``--steps``
optimizer steps after two warm-up steps:

(a) plain PyTorch, float32: ``F.linear`` -> ``torch.topk`` -> scatter -> ReLU -> ``F.linear``, fused Adam;
(b) the same loop under bfloat16 autocast (the strongest plain loop);
(c) aekit ``SparseDictionaryModule`` through the Trainer, dense kernels (``sparse_kernels=False``), bfloat16;
(d) aekit, sparse kernels, autograd (``fused_step=False``), bfloat16;
(e) aekit, sparse kernels and the fused step (the default), bfloat16;
(f) (e) with BatchTopK codes;
(g) the peer libraries that import in this environment (the ``bench-peers`` extra, ``make peers``; or
    ``--peers``), each through its own trainer by the drivers of ``benchmarks/sae_peers.py`` (the ones
    ``bench_sae.py`` uses), float32 and under CPU bfloat16 autocast; a peer's number is its steady
    tokens/s (start-up steps left out, which favours the peers: aekit's rows time whole ``fit`` calls);
    the fastest peer row is the one the last column divides by.

A second table times the building blocks that the sparse path chose, each
against the plain alternative, on one batch's pre-activations: the exact
two-level top-k against ``torch.topk``, BatchTopK's selection against
``torch.topk`` over the flattened batch, and the encoder product with the
bias carried in the product into a reused buffer against ``addmm`` into a
fresh tensor.

The Trainer rows time whole ``fit`` calls over the same rows (one epoch; the
module's epoch diagnostics are switched off, the plain loops have none) and
include aekit's unit-norm projection, renormalization and dead-latent
tracking, which the plain loops do not do. Printed: tokens/s, the ratio to
(b), and the fraction of the matmul ceiling: the tokens/s of the bfloat16
encoder product alone (one (B x d) x (d x m) product per step, written into a
reused buffer), i.e. what a step costing only its encoder would reach.

    python benchmarks/bench_sae_training.py [--steps 12] [--repeats 3] [--threads 2]
        [--clock wall|cpu] [--peers sparsify,saelens,...] [--out benchmarks/results/sae_training.md]

``--clock cpu`` times with the process's CPU time (robust to other processes
on a shared machine when ``--threads 1``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


import torch
import torch.nn.functional as F
from torch import nn

from aekit.autoencoders import SparseDictionaryModule
from aekit.bench._provenance import command_line, provenance_lines
from aekit.datasets import make_sparse_dictionary_data
from aekit.training import Trainer, bf16_supported

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sae_peers, beside this file

D, M, K, B = 576, 4608, 32, 4096


class PlainTopK(nn.Module):
    """A minimal TopK sparse autoencoder (Gao et al.), as a competent PyTorch user writes it."""

    def __init__(self, generator):
        super().__init__()
        atoms = F.normalize(torch.randn(M, D, generator=generator), dim=1)
        self.W_enc = nn.Parameter(atoms.clone())
        self.b_enc = nn.Parameter(torch.zeros(M))
        self.W_dec = nn.Parameter(atoms.clone())
        self.b_dec = nn.Parameter(torch.zeros(D))

    def forward(self, x):
        z = F.linear(x - self.b_dec, self.W_enc, self.b_enc)
        values, indices = torch.topk(z, K, dim=-1, sorted=False)
        h = torch.zeros_like(z).scatter(-1, indices, F.relu(values))
        return F.linear(h, self.W_dec.t(), self.b_dec)


def plain_run(X: torch.Tensor, bf16: bool):
    model = PlainTopK(torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=4e-4, fused=True)

    def step(x):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = model(x)
        loss = ((y.float() - x) ** 2).sum(dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run():
        for s in range(0, X.shape[0], B):
            step(X[s : s + B])

    step(X[:B])
    step(X[B : 2 * B])
    return run


class QuietModule(SparseDictionaryModule):
    """The module without its per-epoch diagnostics (the plain loops compute none)."""

    def epoch_metrics(self, data):
        return {}


def aekit_run(X: torch.Tensor, architecture="topk", sparse_kernels=True, fused=True, precision="bfloat16"):
    def make():
        return QuietModule(D, M, architecture=architecture, k=K, sparse_kernels=sparse_kernels,
                           generator=torch.Generator().manual_seed(0))

    def trainer():
        return Trainer(batch_size=B, max_epochs=1, learning_rate=4e-4, precision=precision, fused_step=fused,
                       verbose=False, random_state=0)

    trainer().fit(make(), X[: 2 * B])  # warm-up: two steps

    def run():
        trainer().fit(make(), X)

    return run


def matmul_run(X: torch.Tensor, dtype):
    W = F.normalize(torch.randn(M, D, generator=torch.Generator().manual_seed(0)), dim=1).to(dtype)
    out = torch.empty(B, M, dtype=dtype)

    def run():
        for s in range(0, X.shape[0], B):
            torch.mm(X[s : s + B].to(dtype), W.t(), out=out)

    run()
    return run


def block_rows(X: torch.Tensor, dtype, repeats: int, clock) -> list[str]:
    """Milliseconds per call of each building block and its plain alternative (best of ``repeats``)."""
    from aekit.autoencoders._sae_kernels import Workspace, preactivations
    from aekit.autoencoders._select import top_k_batch, top_k_rows

    g = torch.Generator().manual_seed(0)
    W = F.normalize(torch.randn(M, D, generator=g), dim=1)
    b = torch.zeros(M)
    x = X[:B] * (D / float((X[:B] ** 2).sum(dim=1).mean())) ** 0.5
    z = preactivations(x, W, b, dtype)
    ws = Workspace()
    pairs = [
        ("top-k per row", lambda: torch.topk(z, K, dim=1, sorted=False), lambda: top_k_rows(z, K)),
        ("BatchTopK selection", lambda: torch.topk(z.reshape(-1), K * B, sorted=False), lambda: top_k_batch(z, K * B)),
        ("encoder product", lambda: torch.addmm(b.to(dtype), x.to(dtype), W.to(dtype).t()),
         lambda: preactivations(x, W, b, dtype, ws)),
    ]
    rows = ["| block | plain (ms) | aekit (ms) | speed-up |", "| --- | ---: | ---: | ---: |"]
    for name, plain, ours in pairs:
        times = []
        for fn in (plain, ours):
            fn()
            best = float("inf")
            for _ in range(repeats):
                t0 = clock()
                fn()
                best = min(best, clock() - t0)
            times.append(best * 1e3)
        rows.append(f"| {name} | {times[0]:.1f} | {times[1]:.1f} | {times[0] / times[1]:.2f}x |")
    return rows


def peer_run(X: torch.Tensor, peer: str, precision: str, threads: int):
    """A peer's own trainer over the same rows (``sae_peers`` driver); its steady tokens/s."""
    from sae_peers import train_peer

    def run():
        res = train_peer(peer, X, n_latents=M, k=K, batch_size=B, n_tokens=X.shape[0], lr=4e-4, seed=0,
                         threads=threads, precision=precision, skip_steps=2)
        return res.steady_tokens_per_s

    return run


def _peers(names: str | None) -> list[str]:
    from sae_peers import available_peers

    found = [p for p in available_peers() if p != "reference"]  # the plain loops (a), (b) are the reference
    return found if names is None else [p for p in names.split(",") if p in found]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--peers", default=None, help="comma-separated peers (default: every one that imports here)")
    parser.add_argument("--out", default="benchmarks/results/sae_training.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    fast = torch.bfloat16 if bf16_supported(torch.device("cpu")) else torch.float32
    precision = "bfloat16" if fast == torch.bfloat16 else "float32"

    load_before = os.getloadavg()[0]
    X, _, _ = make_sparse_dictionary_data(args.steps * B, D, 4 * M, K, random_state=0)
    X = torch.from_numpy(X)
    runs = {
        "encoder product alone (ceiling)": matmul_run(X, fast),
        "(a) plain PyTorch, float32": plain_run(X, bf16=False),
        "(b) plain PyTorch, bf16 autocast": plain_run(X, bf16=fast == torch.bfloat16),
        "(c) aekit, dense kernels": aekit_run(X, sparse_kernels=False, fused=False, precision=precision),
        "(d) aekit, sparse kernels, autograd": aekit_run(X, fused=False, precision=precision),
        "(e) aekit, sparse kernels + fused step": aekit_run(X, precision=precision),
        "(f) aekit BatchTopK, sparse + fused": aekit_run(X, architecture="batchtopk", precision=precision),
    }
    peers = {}
    for name in _peers(args.peers):
        for prec in ("float32", precision):
            peers[f"(g) {name}, {prec}"] = peer_run(X, name, prec, args.threads)
    best = {name: 0.0 for name in [*runs, *peers]}
    for _ in range(args.repeats):
        for name, run in runs.items():
            t0 = clock()
            run()
            best[name] = max(best[name], X.shape[0] / (clock() - t0))
        for name, run in peers.items():
            best[name] = max(best[name], run())
    ceiling = best["encoder product alone (ceiling)"]
    baseline = best["(b) plain PyTorch, bf16 autocast"]
    peer = max((best[name] for name in peers), default=None)
    columns = "| run | tokens/s | vs (b) | of the ceiling |" + (" vs fastest peer |" if peer else "")
    rows = [columns, "| --- | ---: | ---: | ---: |" + (" ---: |" if peer else "")]
    for name, rate in best.items():
        rows.append(f"| {name} | {rate:,.0f} | {rate / baseline:.2f}x | {rate / ceiling:.0%} |"
                    + (f" {rate / peer:.2f}x |" if peer else ""))
    header = [
        "# Sparse-autoencoder training throughput",
        "",
        *provenance_lines(command_line("python benchmarks/bench_sae_training.py", sys.argv[1:] if argv is None else argv)),
        f"- problem: TopK, d {D}, {M} latents, k {K}, batch {B}, {args.steps} steps per timing, best of "
        f"{args.repeats} interleaved repeats, {args.threads} threads, {args.clock} clock, compute dtype {precision}",
        *(["- peers: their own trainers in this process (benchmarks/sae_peers.py), steady tokens/s; 'vs fastest "
           "peer' divides by the fastest peer row"] if peer else []),
        f"- machine load (1-minute average) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}",
        "",
    ]
    blocks = block_rows(X, fast, max(3, args.repeats), clock)
    text = "\n".join(header + rows + ["", "Building blocks (one batch):", ""] + blocks) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from aekit.io import atomic_write_text

    atomic_write_text(out, text)


if __name__ == "__main__":
    main()

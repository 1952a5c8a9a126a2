"""Training throughput of aekit's Trainer against a plain PyTorch loop, side by side in one run.

The model: a 784-1000-784 sigmoid autoencoder with cross-entropy on MNIST,
batch 128, Adam (lr 1e-3) on both sides. Measured, interleaved in each repeat
(the best repeat of each is reported):

(a)  plain PyTorch: DataLoader over a TensorDataset (shuffle), float32,
     nn.Sequential(Linear, Sigmoid, Linear), torch.optim.Adam (default kernel);
(a') the same loop with the fused Adam kernel (to show what the optimizer kernel alone buys);
(b)  aekit Trainer + AutoencoderModule, precision="float32";
(c)  aekit Trainer, precision="bfloat16" (autocast) -- the fast path;
     with --compile also (c) + torch.compile; with --no-flush also (b), (c) without flushing denormals.

Trainer timings are whole ``fit`` calls (index-slice batches, the per-epoch
metrics on 10 000 rows and the history included). Printed: samples/s, the
ratios b/a and c/a, and the fraction of the machine's matmul peak (measured
in the same run with large float32 and bfloat16 matmuls) that each training
step reaches. A step does 5 matmuls of B x 784 x 1000 (2 forward; backward:
the decoder's weight and input gradients, the encoder's weight gradient --
the data needs no gradient), i.e. 5 * 2 * B * 784 * 1000 FLOPs.

Then the contractive autoencoder's step (closed form, Rifai et al. 2011)
against the plain step, and the generic Jacobian path beside it.

    python benchmarks/bench_training.py [--data-home DIR] [--samples 60000]
        [--repeats 3] [--threads 0] [--compile] [--out benchmarks/results/training.md]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aekit.bench._provenance import git_commit, machine_description
from aekit.training import Trainer

D, H, B = 784, 1000, 128
STEP_FLOPS = 5 * 2 * B * D * H
# time.perf_counter (wall clock), or time.process_time with --clock cpu: the CPU time of this
# process, which with --threads 1 is robust to other processes sharing the machine.
clock = time.perf_counter


# ---------------------------------------------------------------- data
def load_images(data_home: str, n: int) -> torch.Tensor:
    """MNIST training images (n, 784) float32 in [0, 1]."""
    from aekit.datasets import load_mnist

    X = load_mnist("train", data_home=data_home, download=False).X[:n]
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


# ---------------------------------------------------------------- peak
def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """Best FLOP/s of an n x n x n matmul in ``dtype`` over about ``seconds``."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b
    best, start = 0.0, clock()
    while clock() - start < seconds:
        t = clock()
        a @ b
        best = max(best, 2 * n**3 / (clock() - t))
    return best


def step_matmul_floor(dtype: torch.dtype, repeats: int = 30) -> float:
    """Seconds for the step's 5 matmuls alone, at their exact shapes, in ``dtype``: a bound on any step."""
    x, h, g = torch.rand(B, D).to(dtype), torch.rand(B, H).to(dtype), torch.rand(B, D).to(dtype)
    W1, W2 = torch.rand(H, D).to(dtype), torch.rand(D, H).to(dtype)

    def five():
        x @ W1.t()  # forward, encoder
        h @ W2.t()  # forward, decoder
        g.t() @ h  # decoder weight gradient
        g @ W2  # gradient reaching the code
        h.t() @ x  # encoder weight gradient

    five()
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        five()
        best = min(best, clock() - t)
    return best


def adam_step_time(repeats: int = 30) -> float:
    """Seconds of one fused Adam step over the model's 1.57 M float32 parameters (memory-bound)."""
    params = [torch.rand(H, D), torch.rand(H), torch.rand(D, H), torch.rand(D)]
    for p in params:
        p.grad = torch.rand_like(p)
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    opt.step()
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        opt.step()
        best = min(best, clock() - t)
    return best


# ---------------------------------------------------------------- (a) plain loop
def plain_loop(X: torch.Tensor, epochs: int, fused: bool) -> float:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(D, H), nn.Sigmoid(), nn.Linear(H, D))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused or None)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=B, shuffle=True)
    start = clock()
    for _ in range(epochs):
        for (xb,) in loader:
            loss = F.binary_cross_entropy_with_logits(net(xb), xb, reduction="sum") / xb.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return epochs * len(X) / (clock() - start)


# ---------------------------------------------------------------- (b), (c) the trainer
def make_module(**options):
    from aekit.autoencoders import AutoencoderModule

    return AutoencoderModule(D, H, loss="cross_entropy", generator=torch.Generator().manual_seed(0), **options)


def trainer_run(X: torch.Tensor, epochs: int, **options) -> tuple[float, float]:
    module = make_module()
    trainer = Trainer(optimizer="adam", learning_rate=1e-3, batch_size=B, max_epochs=epochs, random_state=0,
                      verbose=False, **options)
    start = clock()
    history = trainer.fit(module, (X,))
    return epochs * len(X) / (clock() - start), history[-1]["loss"]


# ---------------------------------------------------------------- contractive step
def step_time(module, X: torch.Tensor, steps: int) -> float:
    """Seconds per training step (loss_terms + backward + fused Adam) on fixed batches."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
    module.train()
    batches = [X[i * B : (i + 1) * B] for i in range(steps)]

    def run(bs):
        for xb in bs:
            loss = sum(module.loss_terms(xb).values())
            opt.zero_grad()
            loss.backward()
            opt.step()

    run(batches[: min(2, steps)])
    start = clock()
    run(batches)
    return (clock() - start) / steps


# ---------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder holding mnist/ (default: $AEKIT_DATA or the download cache)")
    parser.add_argument("--samples", type=int, default=60000, help="MNIST training rows per epoch")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each is kept")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall clock, or this process's CPU time (use with --threads 1 on a busy machine)")
    parser.add_argument("--compile", action="store_true", help="also time the fast path under torch.compile")
    parser.add_argument("--no-flush", action="store_true", help="also time (b) and (c) without flushing denormals")
    parser.add_argument("--contractive-steps", type=int, default=20)
    parser.add_argument("--jacobian-steps", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/training.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    X = load_images(args.data_home, args.samples)
    print(f"# {machine_description()}; {len(X)} MNIST rows, batch {B}, {args.epochs} epoch(s) per run, best of {args.repeats}, "
          f"{args.clock} clock")
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16)
    print(f"matmul peak: float32 {peak32 / 1e9:.1f} GFLOP/s, bfloat16 {peak16 / 1e9:.1f} GFLOP/s")
    floor32, floor16 = step_matmul_floor(torch.float32), step_matmul_floor(torch.bfloat16)
    print(f"the step's 5 matmuls alone: float32 {floor32 * 1e3:.2f} ms, bfloat16 {floor16 * 1e3:.2f} ms")
    t_adam = adam_step_time()
    print(f"one fused Adam step over the 1.57 M parameters: {t_adam * 1e3:.2f} ms")

    configs = {
        "(a)  plain loop, float32": lambda: (plain_loop(X, args.epochs, fused=False), None),
        "(a') plain loop, fused Adam": lambda: (plain_loop(X, args.epochs, fused=True), None),
        "(b)  aekit float32": lambda: trainer_run(X, args.epochs, precision="float32"),
        "(c)  aekit bfloat16": lambda: trainer_run(X, args.epochs, precision="bfloat16"),
    }
    if args.no_flush:
        configs["(b)  aekit float32, denormals kept"] = lambda: trainer_run(X, args.epochs, precision="float32", flush_denormal=False)
        configs["(c)  aekit bfloat16, denormals kept"] = lambda: trainer_run(X, args.epochs, precision="bfloat16", flush_denormal=False)
    if args.compile:
        trainer_run(X[: 4 * B], 1, precision="bfloat16", compile=True)  # compile once, outside the timing
        configs["(c') aekit bfloat16 + compile"] = lambda: trainer_run(X, args.epochs, precision="bfloat16", compile=True)

    best: dict[str, float] = {}
    losses: dict[str, float] = {}
    for r in range(args.repeats):
        for name, run in configs.items():
            rate, loss = run()
            best[name] = max(best.get(name, 0.0), rate)
            if loss is not None:
                losses[name] = loss
            print(f"  repeat {r + 1}: {name:<38s} {rate:9.0f} samples/s", flush=True)

    a = best["(a)  plain loop, float32"]
    lines = ["| run | samples/s | vs (a) | matmul-peak fraction | final loss |", "|---|---:|---:|---:|---:|"]
    for name, rate in best.items():
        peak = peak16 if "bfloat16" in name else peak32
        frac = rate / B * STEP_FLOPS / peak
        loss = f"{losses[name]:.3f}" if name in losses else ""
        lines.append(f"| {name.strip()} | {rate:.0f} | {rate / a:.2f}x | {frac:.1%} | {loss} |")
    b, c = best["(b)  aekit float32"], best["(c)  aekit bfloat16"]
    summary = [
        f"b/a (float32 only) = {b / a:.2f}",
        f"c/a (fast path, bfloat16 autocast) = {c / a:.2f}   (target >= 3)",
        f"ceiling for any bfloat16 step (its matmuls alone, no optimizer, no elementwise work): "
        f"{B / floor16:.0f} samples/s = {B / floor16 / a:.2f}x (a); with the fused Adam step added: "
        f"{B / (floor16 + t_adam):.0f} samples/s = {B / (floor16 + t_adam) / a:.2f}x (a)",
        f"bfloat16 vs float32 final loss after {args.epochs} epoch(s): "
        f"{abs(losses['(c)  aekit bfloat16'] - losses['(b)  aekit float32']) / losses['(b)  aekit float32']:.3%} apart",
    ]

    # contractive step: closed form vs plain, and the generic Jacobian path
    plain_mod = make_module()
    cae = make_module(contraction=0.1, contractive_method="closed_form")
    jac = make_module(contraction=0.1, contractive_method="jacobian")
    t_plain = step_time(plain_mod, X, args.contractive_steps)
    t_cae = step_time(cae, X, args.contractive_steps)
    t_jac = step_time(jac, X, args.jacobian_steps)
    contractive = [
        f"plain step {t_plain * 1e3:.2f} ms; contractive closed form {t_cae * 1e3:.2f} ms "
        f"= {t_cae / t_plain:.2f}x plain (target <= 1.5x); generic Jacobian path {t_jac * 1e3:.1f} ms "
        f"= {t_jac / t_plain:.1f}x plain (float32, batch {B})",
    ]

    report = "\n".join(lines + [""] + summary + [""] + contractive)
    print()
    print(report)
    header = (
        f"# Training throughput\n\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, commit {git_commit()}\n\n"
        f"Machine: {machine_description()}\n\nCommand: `python benchmarks/bench_training.py "
        f"--samples {args.samples} --epochs {args.epochs} --repeats {args.repeats}"
        f"{' --compile' if args.compile else ''}{' --no-flush' if args.no_flush else ''}"
        f"{f' --threads {args.threads}' if args.threads else ''} --clock {args.clock}`\n\n"
        f"Matmul peak: float32 {peak32 / 1e9:.1f} GFLOP/s, bfloat16 {peak16 / 1e9:.1f} GFLOP/s "
        f"(2048^3 matmuls, best of ~2 s). Step FLOPs: 5 x 2 x {B} x {D} x {H} = {STEP_FLOPS / 1e9:.2f} GFLOP; "
        f"its 5 matmuls alone take {floor32 * 1e3:.2f} ms in float32, {floor16 * 1e3:.2f} ms in bfloat16; "
        f"a fused Adam step {t_adam * 1e3:.2f} ms.\n\n"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from aekit.io import atomic_write_text

    atomic_write_text(out, header + report + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()

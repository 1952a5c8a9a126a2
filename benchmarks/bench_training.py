"""Training throughput of aekit's default path against the strongest plain PyTorch loop, side by side in one run.

Every model is trained on the same MNIST rows by (interleaved in each repeat,
the best repeat of each reported; every loop is warmed up by one untimed run):

- **the strongest plain loop** of that model, the headline baseline: what a
  competent PyTorch user writes in about 15 lines -- ``nn.Linear`` layers,
  batches as index slices of the in-memory tensor (no DataLoader), bfloat16
  autocast where the CPU computes it natively, ``torch.optim.Adam(fused=True)``
  and denormals flushed to zero (the same CPU setting aekit's trainer uses);
- **aekit**, ``Autoencoder(...).fit`` with default speed settings (the model's
  options set to compute the same thing; ``precision="auto"``; the
  estimator's input checks and its per-epoch metrics on up to 10 000 rows are
  included in its time);
- for the headline model also: the plain loop with a ``DataLoader`` in float32
  (default and fused Adam), and aekit in float32 and with the generic autocast
  path (``fused_step=False``), to show where the gains come from.

The **ceiling** of a step is what its matrix products alone take at their
exact shapes in the fast dtype, plus one fused Adam update of the parameters
(each timed on its own, best of 30): no elementwise work, no casts, no
framework. Each run's fraction of it is printed.

Then: the quality of the fast default (final training loss after 10 epochs
against float32), the contractive penalties' cost per step (closed form,
Hutchinson's estimate at 4 projections, the exact Jacobian) against a plain
step, and a per-operator profile of one step of the generic autocast path
(before) and of the fused step (after). The results file is written whole.

    python benchmarks/bench_training.py --data-home DIR [--samples 30000] [--repeats 3] [--threads 0]
        [--device cpu] [--out benchmarks/results/training.md]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aekit.autoencoders import Autoencoder
from aekit.bench._provenance import command_line, provenance_lines
from aekit.training import bf16_supported

LR = 1e-3


# ---------------------------------------------------------------- data
def load_images(data_home: str | None, n: int) -> torch.Tensor:
    """MNIST training images (n, 784) float32 in [0, 1]."""
    from aekit.datasets import load_mnist

    X = load_mnist("train", data_home=data_home, download=False).X[:n]
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))


@contextlib.contextmanager
def flushed_denormals(device: torch.device):
    if device.type != "cpu":
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- the models, plain and aekit
class PlainAE(nn.Module):
    """The plain PyTorch autoencoder: encoder and decoder ``nn.Sequential``s of ``nn.Linear`` layers."""

    def __init__(self, sizes, hidden, code, out, tied=False):
        super().__init__()
        pairs = list(zip(sizes[:-1], sizes[1:]))
        acts = [hidden] * (len(pairs) - 1) + [code]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.dec = None if tied else nn.ModuleList(nn.Linear(b, a) for a, b in reversed(pairs))
        self.dec_bias = nn.ParameterList(nn.Parameter(torch.zeros(a)) for a, _ in reversed(pairs)) if tied else None
        self.acts, self.out, self.hidden = acts, out, hidden

    def encode(self, x):
        for lin, act in zip(self.enc, self.acts):
            x = act(lin(x))
        return x

    def decode_logits(self, h):
        n = len(self.enc)
        for i in range(n):
            if self.dec is None:
                h = F.linear(h, self.enc[n - 1 - i].weight.t(), self.dec_bias[i])
            else:
                h = self.dec[i](h)
            if i < n - 1:
                h = self.hidden(h)
        return h


def topk_code(k):
    def act(z):
        v, i = z.topk(k, dim=1)
        return torch.zeros_like(z).scatter(1, i, v)
    return act


def kl(rho, rho0=0.05):
    rho = rho.clamp(1e-6, 1 - 1e-6)
    return (rho0 * torch.log(rho0 / rho) + (1 - rho0) * torch.log((1 - rho0) / (1 - rho))).sum()


def bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum") / x.shape[0]


def plain_loss(spec, model, x, g):
    """The model's loss on a batch, as a plain-PyTorch user writes it (under the caller's autocast)."""
    x_in = x
    if spec.masking:
        x_in = x * (torch.rand(x.shape, generator=g, device=x.device) >= spec.masking)
    h = model.encode(x_in)
    logits = model.decode_logits(h)
    loss = bce(logits, x) if spec.cross_entropy else 0.5 * (logits.float() - x).square().sum() / x.shape[0]
    if spec.kl:
        loss = loss + spec.kl * kl(h.float().mean(0))
    if spec.contraction:  # closed form for one sigmoid layer: sum_j (h_j (1 - h_j))^2 sum_i W_ji^2
        hf = h.float()
        loss = loss + spec.contraction * ((hf * (1 - hf)).square() @ model.enc[0].weight.square().sum(1)).sum() / x.shape[0]
    return loss


@dataclass
class Spec:
    """One benchmarked model: the plain PyTorch version and the aekit options that compute the same thing."""

    name: str
    sizes: tuple
    hidden: object = torch.sigmoid
    code: object = torch.sigmoid
    cross_entropy: bool = True
    tied: bool = False
    kl: float = 0.0
    masking: float = 0.0
    contraction: float = 0.0
    k: int | None = None
    aekit: dict = field(default_factory=dict)

    def plain(self, device):
        code = topk_code(self.k) if self.k else self.code
        out = torch.sigmoid if self.cross_entropy else (lambda t: t)
        return PlainAE(self.sizes, self.hidden, code, out, tied=self.tied).to(device)

    def estimator(self, batch, epochs, device, **extra):
        options = dict(n_components=self.sizes[-1], hidden_layer_sizes=tuple(self.sizes[1:-1]),
                       loss="cross_entropy" if self.cross_entropy else "squared_error", batch_size=batch,
                       max_epochs=epochs, learning_rate=LR, optimizer="adam", random_state=0, device=str(device))
        options.update(self.aekit)
        options.update(extra)
        return Autoencoder(**options)


HEADLINE = Spec("784-1000-784 sigmoid, cross-entropy", (784, 1000))
MODELS = [
    HEADLINE,
    Spec("784-1000-500-250-30 (Hinton & Salakhutdinov), linear code", (784, 1000, 500, 250, 30), code=lambda t: t,
         aekit=dict(hidden_activation="sigmoid", encoder_activation="linear")),
    Spec("KL-sparse 784-1000-784 (rho0 0.05, beta 3)", (784, 1000), kl=3.0,
         aekit=dict(sparsity_weight=3.0, sparsity_target=0.05, sparsity_estimate="batch")),
    Spec("denoising 784-1000-784 (masking 25 %)", (784, 1000), masking=0.25, aekit=dict(corruption="masking:0.25")),
    Spec("k-sparse 784-1000-784 (k 25, tied, squared error)", (784, 1000), k=25, tied=True, cross_entropy=False,
         aekit=dict(encoder_activation="topk", k=25, k_start=25, tied_weights=True)),
    Spec("contractive 784-1000-784 (lambda 0.1, closed form)", (784, 1000), contraction=0.1,
         aekit=dict(contraction=0.1)),
]


# ---------------------------------------------------------------- timed runs
def plain_strongest(spec: Spec, X, batch, epochs, device, fast: bool) -> tuple[float, float]:
    """Samples/s and final epoch loss of the model's strongest plain loop."""
    torch.manual_seed(0)
    model = spec.plain(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    g = torch.Generator(device=device).manual_seed(0)
    gperm = torch.Generator().manual_seed(0)
    n = X.shape[0]
    with flushed_denormals(device):
        sync(device)
        start = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gperm).to(device)
            total = torch.zeros((), device=device)
            for s in range(0, n, batch):
                xb = X[perm[s : s + batch]]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                    loss = plain_loss(spec, model, xb, g)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * xb.shape[0]
        sync(device)
        elapsed = time.perf_counter() - start
    return epochs * n / elapsed, float(total) / n


def plain_dataloader(X, batch, fused: bool) -> tuple[float, float]:
    """The headline model's textbook loop: DataLoader over a TensorDataset, float32, Adam."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 1000), nn.Sigmoid(), nn.Linear(1000, 784))
    opt = torch.optim.Adam(net.parameters(), lr=LR, fused=fused or None)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=batch, shuffle=True)
    start = time.perf_counter()
    total = 0.0
    for (xb,) in loader:
        loss = bce(net(xb), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss) * xb.shape[0]
    return X.shape[0] / (time.perf_counter() - start), total / X.shape[0]


def aekit_fit(spec: Spec, X, batch, epochs, device, **extra) -> tuple[float, float, str]:
    """Samples/s of ``Autoencoder(...).fit`` (whole call), its final epoch loss and the path it took."""
    est = spec.estimator(batch, epochs, device, **extra)
    Xn = X.cpu().numpy() if device.type == "cpu" else X
    sync(device)
    start = time.perf_counter()
    est.fit(Xn)
    sync(device)
    elapsed = time.perf_counter() - start
    path = f"{est.precision_}, {'fused step' if est.fused_step_ else 'autograd'}"
    return epochs * X.shape[0] / elapsed, est.history_[-1]["loss"], path


# ---------------------------------------------------------------- the ceiling
def step_products(spec: Spec, batch: int, dtype, device):
    """The matrix products of one training step of ``spec`` at their exact shapes (a closure)."""
    sizes = list(spec.sizes)
    dims = list(zip(sizes[:-1], sizes[1:])) + [(b, a) for a, b in reversed(list(zip(sizes[:-1], sizes[1:])))]
    ws = [torch.rand(o, i, device=device).to(dtype) for i, o in dims]
    acts = [torch.rand(batch, i, device=device).to(dtype) for i, _ in dims]
    grads = [torch.rand(batch, o, device=device).to(dtype) for _, o in dims]

    def run():
        for layer, (w, a, g) in enumerate(zip(ws, acts, grads)):
            a @ w.t()  # forward
            g.t() @ a  # weight gradient
            if layer > 0:
                g @ w  # gradient reaching the layer's input (none for the data)
    return run


def best_time(fn, device, repeats=30) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def adam_time(spec: Spec, device) -> float:
    params = [p.detach().requires_grad_() for p in spec.plain(device).parameters()]
    for p in params:
        p.grad = torch.rand_like(p)
    opt = torch.optim.Adam(params, lr=LR, fused=True)
    return best_time(opt.step, device)


def ceiling(spec: Spec, batch: int, dtype, device) -> tuple[float, float, float]:
    """(samples/s of the ceiling, seconds of the products, seconds of the Adam update)."""
    t_mm = best_time(step_products(spec, batch, dtype, device), device)
    t_adam = adam_time(spec, device)
    return batch / (t_mm + t_adam), t_mm, t_adam


# ---------------------------------------------------------------- contractive step costs
def contractive_costs(X, device, steps=20) -> list[str]:
    """Seconds per step of the default path with each contractive method, against the plain step."""
    rows = X[: 128 * steps]
    out = []
    rates = {}
    for label, extra, n_steps in [
        ("plain step", dict(), steps),
        ("closed form", dict(contraction=0.1, contractive_method="closed_form"), steps),
        ("Hutchinson, 4 projections", dict(contraction=0.1, contractive_method="hutchinson",
                                           contractive_projections=4), steps),
        ("exact Jacobian (vmap of JVPs, in chunks)", dict(contraction=0.1, contractive_method="jacobian"), 2),
    ]:
        best = 0.0
        for _ in range(2):
            rate, _, path = aekit_fit(HEADLINE, rows[: 128 * n_steps], 128, 1, device, **extra)
            best = max(best, rate)
        rates[label] = (128 / best, path)
    plain = rates["plain step"][0]
    for label, (t, path) in rates.items():
        out.append(f"| {label} | {t * 1e3:.2f} | {t / plain:.2f}x | {path} |")
    return out


# ---------------------------------------------------------------- profile
def profile_step(device, fused: bool, steps=20) -> list[str]:
    """Milliseconds per step by operator (top 12) of the headline model's default step."""
    from torch.profiler import ProfilerActivity, profile

    rows = X_GLOBAL[: 128 * steps]
    aekit_fit(HEADLINE, rows, 128, 1, device, fused_step=fused)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        aekit_fit(HEADLINE, rows, 128, 1, device, fused_step=fused)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    lines = [f"| {e.key} | {e.self_cpu_time_total / steps / 1e3:.3f} | {e.count / steps:.1f} |" for e in events]
    lines.append(f"| all operators | {total / steps / 1e3:.3f} | |")
    return lines


# ---------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder holding mnist/ (default: AEKIT_DATA or the cache)")
    parser.add_argument("--samples", type=int, default=30000, help="MNIST training rows per epoch")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each is kept")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quality-epochs", type=int, default=10)
    parser.add_argument("--quality-samples", type=int, default=10000)
    parser.add_argument("--out", default="benchmarks/results/training.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    fast = bf16_supported(device)
    fast_dtype = torch.bfloat16 if fast else torch.float32
    global X_GLOBAL
    X = X_GLOBAL = load_images(args.data_home, args.samples).to(device)
    command = command_line("python benchmarks/bench_training.py", sys.argv[1:])
    head = provenance_lines(command) + [
        f"- threads: {torch.get_num_threads()}; device: {device}; fast dtype: {fast_dtype} "
        f"({'native' if fast else 'no native bfloat16: float32'})",
        f"- data: {X.shape[0]} MNIST training rows, 1 epoch per timed run, best of {args.repeats} interleaved "
        "repeats after one untimed warm-up run of each loop",
    ]
    print("\n".join(head), flush=True)
    report: list[str] = ["# Training throughput", "", *head, ""]

    def measure(configs: dict) -> dict:
        for run in configs.values():  # warm-up (allocator, oneDNN kernels)
            run(X[: 4 * 1024])
        best: dict = {}
        for r in range(args.repeats):
            for name, run in configs.items():
                rate, loss, *path = run(X)
                if rate > best.get(name, (0.0,))[0]:
                    best[name] = (rate, loss, path[0] if path else "")
                print(f"  repeat {r + 1}: {name:<58s} {rate:9.0f} samples/s", flush=True)
        return best

    # ---- the headline model at batch 128
    spec, B = HEADLINE, 128
    ceil, t_mm, t_adam = ceiling(spec, B, fast_dtype, device)
    configs = {
        "plain: DataLoader, float32, Adam": lambda X: plain_dataloader(X, B, fused=False),
        "plain: DataLoader, float32, fused Adam": lambda X: plain_dataloader(X, B, fused=True),
        "**strongest plain loop** (index slices, bf16 autocast, fused Adam)":
            lambda X: plain_strongest(spec, X, B, 1, device, fast),
        "aekit float32": lambda X: aekit_fit(spec, X, B, 1, device, precision="float32"),
        "aekit generic autocast path (fused_step=False)": lambda X: aekit_fit(spec, X, B, 1, device, fused_step=False),
        "**aekit default** (`Autoencoder(...).fit`)": lambda X: aekit_fit(spec, X, B, 1, device),
    }
    best = measure(configs)
    strongest = best["**strongest plain loop** (index slices, bf16 autocast, fused Adam)"][0]
    default = best["**aekit default** (`Autoencoder(...).fit`)"][0]
    report += [
        f"## {spec.name}, batch {B}, Adam",
        "",
        f"Ceiling: the step's products alone in {fast_dtype} {t_mm * 1e3:.3f} ms + one fused Adam update "
        f"{t_adam * 1e3:.3f} ms = {ceil:.0f} samples/s.",
        "",
        "| loop | samples/s | vs strongest plain loop | fraction of ceiling | path | final loss |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, (rate, loss, path) in best.items():
        report.append(f"| {name} | {rate:.0f} | {rate / strongest:.2f}x | {rate / ceil:.0%} | {path} | {loss:.3f} |")
    report += ["", f"aekit default / strongest plain loop = **{default / strongest:.2f}x** (target >= 1.5x); "
               f"fraction of the ceiling = **{default / ceil:.0%}** (target >= 80 %).", ""]

    # ---- other batch sizes
    report += ["## The same model at other batch sizes", "",
               "| batch | strongest plain loop | aekit default | ratio | ceiling | aekit fraction of ceiling |",
               "|---:|---:|---:|---:|---:|---:|"]
    for batch in (32, 256, 1024):
        c, _, _ = ceiling(spec, batch, fast_dtype, device)
        best = measure({
            "strongest": lambda X, b=batch: plain_strongest(spec, X, b, 1, device, fast),
            "aekit": lambda X, b=batch: aekit_fit(spec, X, b, 1, device),
        })
        s, a = best["strongest"][0], best["aekit"][0]
        report.append(f"| {batch} | {s:.0f} | {a:.0f} | {a / s:.2f}x | {c:.0f} | {a / c:.0%} |")
    report.append("")

    # ---- the other models, each against its own strongest plain loop
    report += ["## Each model against its own strongest plain loop (batch 128)", "",
               "| model | strongest plain loop | aekit default | ratio | ceiling | aekit fraction of ceiling | path |",
               "|---|---:|---:|---:|---:|---:|---|"]
    for spec in MODELS[1:]:
        c, _, _ = ceiling(spec, B, fast_dtype, device)
        best = measure({
            "strongest": lambda X, s=spec: plain_strongest(s, X, B, 1, device, fast),
            "aekit": lambda X, s=spec: aekit_fit(s, X, B, 1, device),
        })
        s, a = best["strongest"][0], best["aekit"][0]
        report.append(f"| {spec.name} | {s:.0f} | {a:.0f} | {a / s:.2f}x | {c:.0f} | {a / c:.0%} | {best['aekit'][2]} |")
    report.append("")

    # ---- quality of the fast default
    Q = X[: args.quality_samples]
    report += [f"## Quality: final training loss after {args.quality_epochs} epochs on {Q.shape[0]} rows", "",
               "| model | float32 | default (fast path) | relative difference |", "|---|---:|---:|---:|"]
    for spec in MODELS:
        _, ref, _ = aekit_fit(spec, Q, B, args.quality_epochs, device, precision="float32")
        _, got, path = aekit_fit(spec, Q, B, args.quality_epochs, device)
        report.append(f"| {spec.name} ({path}) | {ref:.4f} | {got:.4f} | {(got - ref) / ref:+.2%} |")
        print(report[-1], flush=True)
    report.append("")

    # ---- contractive penalties
    report += ["## Contractive penalty: cost per step (784-1000-784, batch 128, default path)", "",
               "| step | ms | vs plain step | path |", "|---|---:|---:|---|", *contractive_costs(X, device), ""]

    # ---- profile before / after
    if device.type == "cpu":
        report += ["## Where a step's time goes (headline model, batch 128; profiler self time per step)", "",
                   "Before: the generic path (autocast + autograd + torch's Adam.step bookkeeping).", "",
                   "| operator | ms per step | calls per step |", "|---|---:|---:|", *profile_step(device, False), "",
                   "After: the fused step (hand-written dense layers, bfloat16 weight copies refreshed once per "
                   "step, the fused Adam kernel called directly).", "",
                   "| operator | ms per step | calls per step |", "|---|---:|---:|", *profile_step(device, True), ""]

    text = "\n".join(report) + "\n"
    print()
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from aekit.io import atomic_write_text

    atomic_write_text(out, text)
    print(f"written to {out}")


X_GLOBAL: torch.Tensor

if __name__ == "__main__":
    main()

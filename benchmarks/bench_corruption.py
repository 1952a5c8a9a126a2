"""Cost of the corruptions per training step, against alternatives and against the step itself.

Prints, for a batch of --batch-size x --features (default 128 x 784, an MNIST
minibatch), the time per call of:

* aekit ``masking`` (exact count per sample: top-k of uniform keys),
* the same selection with a full ``argsort`` of the keys (the obvious exact method),
* a Bernoulli mask ``rand < p`` (not a fixed count: the cheapest possible lower bound),
* aekit ``salt_and_pepper`` and ``gaussian``,
* one forward + backward + Adam step of a 784-1000-784 sigmoid autoencoder
  (what the corruption is added to),

and the ratios between them, measured side by side in one run.

    python benchmarks/bench_corruption.py [--device cpu] [--repeats 200]
"""

from __future__ import annotations

import argparse
import time

import torch

from aekit.autoencoders import gaussian, masking, salt_and_pepper


def timeit(fn, repeats: int, device: torch.device) -> float:
    for _ in range(5):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=1000)
    parser.add_argument("--fraction", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = torch.device(args.device)
    n, d, p = args.batch_size, args.features, args.fraction
    k = round(p * d)
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(n, d, generator=g, device=device)

    def argsort_exact():
        keys = torch.rand((n, d), generator=g, device=device)
        idx = keys.argsort(dim=1)[:, :k]
        return x.scatter(1, idx, 0.0), torch.zeros(n, d, dtype=torch.bool, device=device).scatter_(1, idx, True)

    def bernoulli():
        mask = torch.rand((n, d), generator=g, device=device) < p
        return x.masked_fill(mask, 0.0), mask

    model = torch.nn.Sequential(
        torch.nn.Linear(d, args.hidden), torch.nn.Sigmoid(), torch.nn.Linear(args.hidden, d)
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), x)
        loss.backward()
        opt.step()

    timings = {
        "masking (aekit, top-k, exact count)": timeit(lambda: masking(x, p, generator=g), args.repeats, device),
        "masking via argsort (exact count)": timeit(argsort_exact, args.repeats, device),
        "Bernoulli mask (count not fixed)": timeit(bernoulli, args.repeats, device),
        "salt_and_pepper (aekit)": timeit(lambda: salt_and_pepper(x, p, generator=g), args.repeats, device),
        "gaussian (aekit)": timeit(lambda: gaussian(x, 0.3, generator=g), args.repeats, device),
        f"AE training step {d}-{args.hidden}-{d}": timeit(train_step, max(20, args.repeats // 4), device),
    }
    step = timings[f"AE training step {d}-{args.hidden}-{d}"]
    ours = timings["masking (aekit, top-k, exact count)"]
    print(f"device={device} threads={torch.get_num_threads()} batch={n}x{d} fraction={p} torch={torch.__version__}")
    print(f"{'operation':42s} {'time/call':>11s} {'/ AE step':>9s} {'/ aekit masking':>15s}")
    for name, t in timings.items():
        print(f"{name:42s} {t * 1e6:9.0f} us {t / step:9.3f} {t / ours:15.2f}")


if __name__ == "__main__":
    main()

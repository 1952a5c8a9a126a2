"""SOM against MiniSom on MNIST, and the CCA / principal-curve acceptance numbers, measured side by side in one run.

Every map is 10 x 10, trained on the first N MNIST training images and scored
on the 10000 test images with the same functions
(``aekit.metrics.quantization_error``, ``topographic_error`` with 4-neighbour
adjacency; MiniSom's own 8-neighbour convention is printed beside it). Before
any timing, each implementation trains once on 2000 images (warm-up: torch's
threads and kernels, NumPy's BLAS); then every fit is timed once, the two
implementations taking turns, seed by seed.

1. Defaults against defaults (the target). ``SOM((10, 10), random_state=s).fit(X)``
   against ``MiniSom(10, 10, 784, sigma=1.5, learning_rate=0.5, random_seed=s)``
   with ``train_random(X, len(X))`` (MiniSom's documented defaults; random
   start), N = 20000 and 60000, seeds 0, 1, 2. Target, on the means over the
   seeds: quantization error and topographic error <= MiniSom's, wall time
   >= 20x shorter.
2. Time to equal quality (N = ``--ttq-samples``, seed 0): the time each
   implementation needs to reach the other's default-settings quantization
   AND topographic error. Budgets: aekit's defaults on the first N/8 .. N
   images; MiniSom's ``train_random`` for N/4 .. 4N iterations from its
   default start and N/2 .. 4N from its ``pca_weights_init`` (the start its
   documentation recommends), and its batch map ``train_batch_offline`` for
   1 .. 4 epochs from the PCA start. The cheapest budget that reaches both
   numbers is the time to equal quality.
3. The same rule, like for like (N = 60000, seed 0): aekit's online rule
   (``algorithm="online"``, one epoch, sigma 1.5 -> 0.5 and learning rate
   0.5 -> 0.5/3 by MiniSom's asymptotic decay) against MiniSom's
   ``train_random(X, N)``, both from the same codebook (``init=`` the array),
   once from MiniSom's ``random_weights_init`` (samples drawn from the data)
   and once from its ``pca_weights_init``. Both run on one core.
4. CCA on 2000-point swiss roll and S-curve: trustworthiness (k = 10) for
   Euclidean (CCA) and geodesic (CDA) input distances over several seeds, and
   the Procrustes disparity to the unrolled sheet.
5. Principal curve of a noisy half circle against its first principal component.

    python benchmarks/bench_som.py [--data-home DIR] [--threads 0] [--only som|cca|curve]

``--data-home`` defaults to the library's resolution (``AEKIT_DATA``, else
``~/.cache/aekit``, downloading MNIST if needed). Writes
``benchmarks/results/som.md`` whole (date, commit, machine with its AMX /
AVX-512-BF16 flags, threads, command); notes on the numbers live beside it in
``som-notes.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aekit.bench._provenance import command_line, provenance_lines
from aekit.datasets import load_mnist, make_s_curve, make_swiss_roll
from aekit.io import atomic_write_text
from aekit.manifold import SOM, CurvilinearComponentAnalysis, PrincipalCurve, grid_positions
from aekit.metrics import quantization_error, topographic_error, trustworthiness_continuity

ROOT = Path(__file__).resolve().parents[1]
GRID = (10, 10)
POSITIONS = grid_positions(GRID)
MINISOM = dict(sigma=1.5, learning_rate=0.5)  # MiniSom's documented defaults for a 10 x 10 map


def timed(fn):
    """``fn()``'s result, wall seconds and CPU seconds (all threads of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def score(test, W) -> dict:
    return {
        "qe": quantization_error(test, W),
        "te": topographic_error(test, W, POSITIONS),
        "te8": topographic_error(test, W, POSITIONS, radius=2**0.5),
    }


def minisom(seed: int):
    from minisom import MiniSom

    return MiniSom(*GRID, 784, random_seed=seed, **MINISOM)


def minisom_weights(ms) -> np.ndarray:
    return ms.get_weights().reshape(-1, ms.get_weights().shape[-1])


def run_minisom(X, seed: int, train: str = "train_random", budget: int | None = None, start: str | None = None):
    """MiniSom's map after ``train`` for ``budget`` iterations (epochs for its batch map), from its default random
    start (unit vectors) or from ``start`` (``"pca_weights_init"``, ``"random_weights_init"``)."""
    ms = minisom(seed)
    if start is not None:
        getattr(ms, start)(X)
    getattr(ms, train)(X, len(X) if budget is None else budget)
    return minisom_weights(ms)


def run_aekit(X, seed: int, **params):
    return SOM(GRID, random_state=seed, **params).fit(X)


def warm_up(train) -> None:
    run_minisom(train[:2000], 0)
    run_aekit(train[:2000], 0)


def mean_sd(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v[0]:.4f}"


def mean_sd_s(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


# ---------------------------------------------------------------------------- 1. defaults against defaults
def bench_defaults(args, train, test, lines: list[str]) -> tuple[bool, dict]:
    seeds = list(range(args.seeds))
    lines += [
        "## 1. Defaults against defaults (the target)",
        "",
        f"`SOM((10, 10), random_state=s).fit(X)` against `MiniSom(10, 10, 784, sigma=1.5, learning_rate=0.5, "
        f"random_seed=s).train_random(X, len(X))`, X the first N training images, seeds {seeds}; mean ± sd over the "
        "seeds; scored on the 10000 test images. aekit's defaults: "
        f"`{default_settings()}`. Extra aekit rows (not the target): one torch thread (MiniSom's loop runs on one core), "
        "and `precision='bfloat16'`.",
        "",
        "| N | implementation | wall s | speed-up (wall) | CPU s | quantization error | topographic error (4-nb) "
        "| topographic error (8-nb) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ok, refs, verdicts = True, {}, []
    threads = torch.get_num_threads()
    for n in args.sizes:
        X = train[:n]
        runs = {"MiniSom train_random": [], "aekit defaults": [], "aekit defaults, 1 torch thread": [],
                "aekit defaults, precision='bfloat16'": []}
        for seed in seeds:  # the implementations take turns, seed by seed
            W, wall, cpu = timed(lambda: run_minisom(X, seed))
            runs["MiniSom train_random"].append((wall, cpu, score(test, W)))
            som, wall, cpu = timed(lambda: run_aekit(X, seed))
            runs["aekit defaults"].append((wall, cpu, score(test, som.codebook_)))
            som, wall, cpu = timed(lambda: run_aekit(X, seed, precision="bfloat16"))
            runs["aekit defaults, precision='bfloat16'"].append((wall, cpu, score(test, som.codebook_)))
        torch.set_num_threads(1)
        for seed in seeds:
            som, wall, cpu = timed(lambda: run_aekit(X, seed))
            runs["aekit defaults, 1 torch thread"].append((wall, cpu, score(test, som.codebook_)))
        torch.set_num_threads(threads)
        base = np.mean([r[0] for r in runs["MiniSom train_random"]])
        for name, rs in runs.items():
            walls = [r[0] for r in rs]
            lines.append(
                f"| {n} | {name} | {mean_sd_s(walls)} | {base / np.mean(walls):.1f}x | {mean_sd_s([r[1] for r in rs])} "
                f"| {mean_sd([r[2]['qe'] for r in rs])} | {mean_sd([r[2]['te'] for r in rs])} "
                f"| {mean_sd([r[2]['te8'] for r in rs])} |"
            )
        ms = runs["MiniSom train_random"]
        qe_m, te_m = np.mean([r[2]["qe"] for r in ms]), np.mean([r[2]["te"] for r in ms])
        for name, label in (("aekit defaults", f"torch's {threads} threads"), ("aekit defaults, 1 torch thread", "1 thread")):
            ae = runs[name]
            qe_a, te_a = np.mean([r[2]["qe"] for r in ae]), np.mean([r[2]["te"] for r in ae])
            speedup = base / np.mean([r[0] for r in ae])
            per_seed = [m[0] / a[0] for m, a in zip(ms, ae)]
            good = qe_a <= qe_m and te_a <= te_m and speedup >= 20
            verdicts.append(
                f"- N = {n}, aekit on {label}: QE {qe_a:.4f} <= {qe_m:.4f}, TE {te_a:.4f} <= {te_m:.4f}, wall-time "
                f"speed-up {speedup:.1f}x >= 20x (per seed {min(per_seed):.1f}-{max(per_seed):.1f}x): "
                f"**{'PASS' if good else 'FAIL'}**"
            )
            if name == "aekit defaults":
                ok &= good
        refs[n] = {"minisom": ms[0][2], "aekit": runs["aekit defaults"][0][2]}
    lines += ["", "Target (means over the seeds; judged on torch's thread count, the one-thread line beside it):", "",
              *verdicts, ""]
    return ok, refs


def default_settings() -> str:
    som = SOM(GRID)
    shown = ("algorithm", "max_iter", "sigma", "sigma_final", "sigma_decay", "init", "precision")
    return ", ".join(f"{k}={getattr(som, k)!r}" for k in shown)


# ---------------------------------------------------------------------------- 2. time to equal quality
def bench_time_to_quality(args, train, test, refs: dict, lines: list[str]) -> None:
    n = args.ttq_samples
    X = train[:n]
    if n in refs:
        ref_m, ref_a = refs[n]["minisom"], refs[n]["aekit"]
    else:
        ref_m, ref_a = score(test, run_minisom(X, 0)), score(test, run_aekit(X, 0).codebook_)

    def reaches(s, ref):
        return s["qe"] <= ref["qe"] and s["te"] <= ref["te"]

    rows = []
    for frac in (8, 4, 2, 1):
        m = n // frac
        som, wall, _ = timed(lambda: run_aekit(X[:m], 0))
        rows.append(("aekit", f"defaults on the first {m} images", wall, score(test, som.codebook_), ref_m))
    budgets = [("train_random", int(m * n), None) for m in (0.25, 0.5, 1, 2, 4)]
    budgets += [("train_random", int(m * n), "pca_weights_init") for m in (0.5, 1, 2, 4)]
    budgets += [("train_batch_offline", epochs, "pca_weights_init") for epochs in (1, 2, 4)]
    for train, budget, start in budgets:
        W, wall, _ = timed(lambda: run_minisom(X, 0, train, budget, start))
        what = f"{budget} iterations" if train == "train_random" else f"{budget} epoch{'s' if budget > 1 else ''} (batch map)"
        rows.append(("MiniSom", f"{train}, {what}, {'PCA start' if start else 'default start'}", wall, score(test, W), ref_a))
    lines += [
        f"## 2. Time to equal quality ({n} training images, seed 0)",
        "",
        f"Targets: MiniSom's default-settings map (QE {ref_m['qe']:.4f}, TE {ref_m['te']:.4f}) for aekit, and aekit's "
        f"default-settings map (QE {ref_a['qe']:.4f}, TE {ref_a['te']:.4f}) for MiniSom. Each budget is its own fit "
        "(MiniSom's decays span the iterations it is given).",
        "",
        "| implementation | budget | wall s | quantization error | topographic error (4-nb) | reaches the other's QE | TE |",
        "|---|---|---|---|---|---|---|",
    ]
    for who, budget, wall, s, ref in rows:
        lines.append(f"| {who} | {budget} | {wall:.3f} | {s['qe']:.4f} | {s['te']:.4f} | "
                     f"{'yes' if s['qe'] <= ref['qe'] else 'no'} | {'yes' if s['te'] <= ref['te'] else 'no'} |")
    lines.append("")
    for who, ref in (("aekit", ref_m), ("MiniSom", ref_a)):
        hits = [r for r in rows if r[0] == who and reaches(r[3], ref)]
        spent = sum(r[2] for r in rows if r[0] == who)
        if hits:
            best = min(hits, key=lambda r: r[2])
            lines.append(f"- {who} reaches the other's QE and TE in **{best[2]:.3f} s** ({best[1]}).")
        else:
            lines.append(f"- {who} reaches the other's QE and TE in **none** of its budgets ({spent:.1f} s of fits in all).")
    lines.append("")


# ---------------------------------------------------------------------------- 3. the same rule, like for like
def bench_same_rule(args, train, test, lines: list[str]) -> None:
    n = args.rule_samples
    X = train[:n]
    lines += [
        f"## 3. The same online rule from the same start ({n} training images, seed 0, one core each)",
        "",
        f"MiniSom `train_random(X, {n})` against aekit `SOM((10, 10), algorithm='online', max_iter=1, sigma=1.5, "
        "sigma_final=0.5, learning_rate=0.5, learning_rate_final=0.5/3, init=W0)` (inverse decay with end = start / 3 "
        "is MiniSom's asymptotic_decay): the same update, the same schedules, the same initial codebook W0; only the "
        "random sample order differs. The online rule is a chain of single-sample updates, so aekit runs it on one "
        "thread, like MiniSom.",
        "",
        "| start W0 | implementation | wall s | speed-up | quantization error | topographic error (4-nb) |",
        "|---|---|---|---|---|---|",
    ]
    for start in ("random_weights_init", "pca_weights_init"):
        ms = minisom(0)
        getattr(ms, start)(X)
        W0 = minisom_weights(ms).astype(np.float32)
        _, ms_wall, _ = timed(lambda: ms.train_random(X, n))
        s_m = score(test, minisom_weights(ms))
        params = dict(algorithm="online", max_iter=1, sigma=1.5, sigma_final=0.5, learning_rate=0.5,
                      learning_rate_final=0.5 / 3, init=W0)
        som, wall, _ = timed(lambda: run_aekit(X, 0, **params))
        s_a = score(test, som.codebook_)
        what = {"random_weights_init": "samples drawn from the data", "pca_weights_init": "MiniSom's PCA plane"}[start]
        lines += [
            f"| {what} | MiniSom train_random | {ms_wall:.3f} | 1.0x | {s_m['qe']:.4f} | {s_m['te']:.4f} |",
            f"| {what} | aekit online | {wall:.3f} | {ms_wall / wall:.1f}x | {s_a['qe']:.4f} | {s_a['te']:.4f} |",
        ]
    lines.append("")


# ---------------------------------------------------------------------------- 4. CCA, 5. principal curve
def bench_cca(args, lines: list[str]) -> bool:
    from scipy.spatial import procrustes

    lines += [
        f"## 4. CCA, {args.cca_samples} points, default settings (30 epochs, exponential F, 4 pivots per step)",
        "",
        "| data | input distances | seed | seconds | trustworthiness k=10 | continuity k=10 | Procrustes to the unrolled sheet |",
        "|---|---|---|---|---|---|---|",
    ]
    ok = True
    disparity = {}
    for make in (make_swiss_roll, make_s_curve):
        for metric in ("euclidean", "geodesic"):
            for seed in range(args.cca_seeds):
                data = make(args.cca_samples, random_state=seed)
                t, h = data.extras["intrinsic"].T
                s = 0.5 * (t * np.sqrt(1 + t * t) + np.arcsinh(t)) if make is make_swiss_roll else t
                cca = CurvilinearComponentAnalysis(metric=metric, random_state=seed, device=args.device)
                Y, seconds, _ = timed(lambda: cca.fit_transform(data.X))
                tw, cont = trustworthiness_continuity(data.X, Y, 10)
                d = procrustes(np.c_[s, h], Y)[2]
                disparity.setdefault((data.name, metric), []).append(d)
                ok &= tw >= 0.95
                lines.append(f"| {data.name} | {metric} | {seed} | {seconds:.2f} | {tw:.4f} | {cont:.4f} | {d:.4f} |")
    roll_e, roll_g = disparity[("swiss-roll", "euclidean")], disparity[("swiss-roll", "geodesic")]
    lines += [
        "",
        f"Target (trustworthiness >= 0.95 in every run): **{'PASS' if ok else 'FAIL'}**. Trustworthiness alone does "
        "not say that the roll is unrolled: with Euclidean input distances CCA keeps neighbourhoods but does not unroll "
        f"the swiss roll (Procrustes disparity to the unrolled sheet {min(roll_e):.2f}-{max(roll_e):.2f}); only geodesic "
        f"input distances (CDA) unroll it ({min(roll_g):.4f}-{max(roll_g):.4f}).",
        "",
    ]
    return ok


def bench_curve(args, lines: list[str]) -> bool:
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, np.pi, 1000)
    X = (np.c_[np.cos(theta), np.sin(theta)] + 0.05 * rng.normal(size=(1000, 2))).astype(np.float32)
    pc, seconds, _ = timed(lambda: PrincipalCurve(device=args.device).fit(X))
    ratio = pc.mean_squared_distance_ / pc.pca_mean_squared_distance_
    ok = ratio < 0.1
    lines += [
        "## 5. Principal curve of a noisy half circle (1000 points, radius 1, noise sd 0.05)",
        "",
        f"- first principal component: mean squared distance {pc.pca_mean_squared_distance_:.5f}",
        f"- principal curve: {pc.mean_squared_distance_:.5f} (noise variance 0.0025) after {pc.n_iter_} rounds, "
        f"{seconds:.3f} s; length {pc.arc_length_[-1]:.3f} (half circle: {np.pi:.3f})",
        f"- ratio {ratio:.4f} < 0.1: **{'PASS' if ok else 'FAIL'}**",
        "",
    ]
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None,
                        help="folder holding mnist/ (default: AEKIT_DATA, else ~/.cache/aekit, downloading if needed)")
    parser.add_argument("--device", default="cpu", help="aekit's device for CCA and the principal curve")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the defaults-against-defaults runs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 60000], help="training images, section 1")
    parser.add_argument("--ttq-samples", type=int, default=20000, help="training images, section 2")
    parser.add_argument("--rule-samples", type=int, default=60000, help="training images, section 3")
    parser.add_argument("--cca-samples", type=int, default=2000)
    parser.add_argument("--cca-seeds", type=int, default=3)
    parser.add_argument("--only", choices=["som", "cca", "curve"], default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "som.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    lines = [
        "# SOM, CCA and principal curve benchmarks",
        "",
        *provenance_lines(command_line("python benchmarks/bench_som.py", sys.argv[1:])),
        f"- threads: torch {torch.get_num_threads()} (aekit's online rule runs on 1); MiniSom runs on one core",
        f"- load average at start (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}",
        "- notes on these numbers: [som-notes.md](som-notes.md)",
        "",
    ]
    ok = True
    if args.only in (None, "som"):
        train = load_mnist("train", data_home=args.data_home).X
        test = load_mnist("test", data_home=args.data_home).X
        warm_up(train)
        good, refs = bench_defaults(args, train, test, lines)
        ok &= good
        bench_time_to_quality(args, train, test, refs, lines)
        bench_same_rule(args, train, test, lines)
    if args.only in (None, "cca"):
        ok &= bench_cca(args, lines)
    if args.only in (None, "curve"):
        ok &= bench_curve(args, lines)
    text = "\n".join(lines) + "\n"
    print(text)
    out = atomic_write_text(args.out, text)
    print(f"written: {out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

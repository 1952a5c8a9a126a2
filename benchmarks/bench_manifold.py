"""aekit's Isomap, LLE and kernel PCA against scikit-learn, and landmark Isomap at 50,000 points.

Part 1, a 2000-point swiss roll (``aekit.datasets.make_swiss_roll(2000,
random_state=0)``, cast to float64 for both libraries), each method with the
same settings in both libraries, measured side by side in one run:

  * Procrustes disparity between aekit's and scikit-learn's embeddings
    (target <= 1e-3);
  * trustworthiness (k = 10) of both embeddings and their difference
    (target <= 0.005);
  * fit time of each (best of ``--repeats`` rounds, the two taking turns) and
    the ratio aekit / scikit-learn (< 1: aekit is faster).

  Rows: Isomap (k = 10), LLE (standard, k = 12), modified LLE (k = 12), kernel
  PCA (rbf, gamma = 1e-3), and for reference the Nyström kernel PCA (200
  landmarks) against scikit-learn's exact kernel PCA.

Part 2, landmark Isomap (k = 10, ``--n-landmarks`` maxmin landmarks) on a
50,000-point swiss roll, fitted in a fresh child process so that its peak
memory is its own: fit wall time (one cold run, target < 60 s), peak resident
set size of the whole child process (``ru_maxrss``: Python, numpy, torch and
the data included; target < 2 GB) and the peak above the child's resident
size just before the fit; then trustworthiness and continuity (k = 10) of
the embedding on all 50,000 points (target trustworthiness >= 0.95).
scikit-learn's Isomap is not run there: it keeps the dense n x n geodesic
matrix and a squared copy for its kernel PCA, at least 2 * 8 * n^2 bytes.

    python benchmarks/bench_manifold.py [--repeats 3] [--n-large 50000] [--n-landmarks 200]
        [--threads N] [--device cpu] [--out benchmarks/results/manifold.md]

``--threads N`` limits torch and the BLAS / OpenMP pools of both libraries to N
threads (on a CPU shared with other work, one thread per process is faster
and steadier than oversubscribed pools).

Prints a Markdown report and writes it whole to ``--out`` (date, machine, commit, command).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aekit.bench._provenance import command_line, write_results

ROOT = Path(__file__).resolve().parents[1]
DISPARITY_TARGET = 1e-3
TRUST_DIFF_TARGET = 0.005
LARGE_TIME_TARGET = 60.0
LARGE_MEMORY_TARGET = 2e9  # bytes
LARGE_TRUST_TARGET = 0.95


# ---------------------------------------------------------------- helpers
def best_times(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Best wall time of each callable over ``repeats`` rounds (taking turns), and its last result."""
    times = {name: [] for name in fns}
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}, results


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss_bytes()


# ---------------------------------------------------------------- part 1: 2000 points
def compare_small(n: int, repeats: int, device: str) -> list[dict]:
    from sklearn.decomposition import KernelPCA as SkKernelPCA
    from sklearn.manifold import Isomap as SkIsomap
    from sklearn.manifold import LocallyLinearEmbedding as SkLLE

    from aekit.datasets import make_swiss_roll
    from aekit.manifold import Isomap, KernelPCA, LocallyLinearEmbedding
    from aekit.metrics import procrustes_disparity, trustworthiness

    X = make_swiss_roll(n, random_state=0).X.astype(np.float64)
    cases = [
        ("Isomap (k=10)", lambda: Isomap(n_neighbors=10, device=device), lambda: SkIsomap(n_neighbors=10)),
        ("LLE standard (k=12)", lambda: LocallyLinearEmbedding(n_neighbors=12, random_state=0, device=device),
         lambda: SkLLE(n_neighbors=12, random_state=0)),
        ("LLE modified (k=12)",
         lambda: LocallyLinearEmbedding(n_neighbors=12, method="modified", random_state=0, device=device),
         lambda: SkLLE(n_neighbors=12, method="modified", random_state=0)),
        ("kernel PCA (rbf, gamma=1e-3)", lambda: KernelPCA(2, kernel="rbf", gamma=1e-3, device=device),
         lambda: SkKernelPCA(2, kernel="rbf", gamma=1e-3)),
        ("kernel PCA Nystrom 200 vs exact", lambda: KernelPCA(2, kernel="rbf", gamma=1e-3, n_landmarks=200,
                                                              random_state=0, device=device),
         lambda: SkKernelPCA(2, kernel="rbf", gamma=1e-3)),
    ]
    rows = []
    for name, ours, theirs in cases:
        times, Ys = best_times({"aekit": lambda: ours().fit_transform(X), "sklearn": lambda: theirs().fit_transform(X)},
                               repeats)
        t_ours = trustworthiness(X, Ys["aekit"], 10)
        t_sk = trustworthiness(X, Ys["sklearn"], 10)
        disparity = procrustes_disparity(Ys["aekit"], Ys["sklearn"])
        reference_only = "Nystrom" in name
        rows.append(dict(
            name=name, disparity=disparity, trust_aekit=t_ours, trust_sklearn=t_sk, trust_diff=abs(t_ours - t_sk),
            time_aekit=times["aekit"], time_sklearn=times["sklearn"], ratio=times["aekit"] / times["sklearn"],
            passed=None if reference_only else bool(disparity <= DISPARITY_TARGET and abs(t_ours - t_sk) <= TRUST_DIFF_TARGET),
        ))
        print(f"  {name}: disparity {disparity:.2e}, trust {t_ours:.5f} vs {t_sk:.5f}, "
              f"time {times['aekit']:.3f} s vs {times['sklearn']:.3f} s", flush=True)
    return rows


# ---------------------------------------------------------------- part 2: landmark Isomap at scale
def landmark_child(n: int, n_landmarks: int, landmark_method: str, device: str, out_dir: Path) -> None:
    """Runs in a fresh process: fit landmark Isomap, write timing, memory and the embedding."""
    from aekit.datasets import make_swiss_roll
    from aekit.manifold import Isomap

    X = make_swiss_roll(n, random_state=0).X
    before_rss = current_rss_bytes()
    before_peak = peak_rss_bytes()
    t0 = time.perf_counter()
    iso = Isomap(n_neighbors=10, n_landmarks=n_landmarks, landmark_method=landmark_method, random_state=0,
                 device=device).fit(X)
    seconds = time.perf_counter() - t0
    info = dict(seconds=seconds, peak_rss=peak_rss_bytes(), rss_before_fit=before_rss, peak_before_fit=before_peak,
                landmark_distances_bytes=int(iso.landmark_distances_.nbytes))
    np.save(out_dir / "embedding.npy", iso.embedding_)
    np.save(out_dir / "landmarks.npy", iso.landmarks_)
    np.save(out_dir / "landmark_distances.npy", iso.landmark_distances_)
    (out_dir / "info.json").write_text(json.dumps(info))


def landmark_large(n: int, n_landmarks: int, landmark_method: str, device: str, threads: int | None) -> dict:
    from aekit.datasets import make_swiss_roll
    from aekit.metrics import residual_variance, trustworthiness_continuity

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tmp, "--n-large", str(n),
               "--n-landmarks", str(n_landmarks), "--landmark-method", landmark_method, "--device", device]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        subprocess.run(cmd, check=True, cwd=ROOT)
        info = json.loads((Path(tmp) / "info.json").read_text())
        Y = np.load(Path(tmp) / "embedding.npy")
        landmarks = np.load(Path(tmp) / "landmarks.npy")
        D_L = np.load(Path(tmp) / "landmark_distances.npy")
    X = make_swiss_roll(n, random_state=0).X
    t0 = time.perf_counter()
    trust, cont = trustworthiness_continuity(X, Y, 10, device=device)
    info.update(trust=trust, continuity=cont, metric_seconds=time.perf_counter() - t0,
                residual_variance=residual_variance(D_L, Y, rows=landmarks, device=device))
    info["sklearn_bytes"] = 2 * 8 * n * n
    info["passed"] = bool(info["seconds"] < LARGE_TIME_TARGET and info["peak_rss"] < LARGE_MEMORY_TARGET
                          and trust >= LARGE_TRUST_TARGET)
    return info


# ---------------------------------------------------------------- report
def report(rows: list[dict], large: dict, args, n_small: int) -> list[str]:
    lines = [
        f"## {n_small}-point swiss roll (float64), same settings in both libraries",
        "",
        f"Targets: Procrustes disparity <= {DISPARITY_TARGET:g}, |trustworthiness difference| <= {TRUST_DIFF_TARGET}. "
        "Times are the best of the rounds; ratio = aekit / scikit-learn (< 1: aekit faster).",
        "",
        "| method | Procrustes disparity | trust. k=10 aekit | trust. k=10 sklearn | abs diff | aekit s | sklearn s | ratio | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = "reference" if r["passed"] is None else ("PASS" if r["passed"] else "FAIL")
        lines.append(
            f"| {r['name']} | {r['disparity']:.2e} | {r['trust_aekit']:.5f} | {r['trust_sklearn']:.5f} | "
            f"{r['trust_diff']:.1e} | {r['time_aekit']:.3f} | {r['time_sklearn']:.3f} | {r['ratio']:.2f} | {target} |"
        )
    mb = 1e6
    lines += [
        "",
        f"## Landmark Isomap, {args_value(args, '--n-large', 50000)}-point swiss roll",
        "",
        f"k = 10, {large['n_landmarks']} {large['landmark_method']} landmarks, fitted once in a fresh child process.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| fit wall time (cold, one run) | {large['seconds']:.2f} s | < {LARGE_TIME_TARGET:.0f} s |",
        f"| peak RSS of the whole child process (ru_maxrss) | {large['peak_rss'] / mb:.0f} MB | < {LARGE_MEMORY_TARGET / mb:.0f} MB |",
        f"| RSS just before the fit (Python, torch, data) | {large['rss_before_fit'] / mb:.0f} MB | |",
        f"| peak above that baseline | {(large['peak_rss'] - large['rss_before_fit']) / mb:.0f} MB | |",
        f"| landmark geodesic distances (L x n float64) | {large['landmark_distances_bytes'] / mb:.0f} MB | |",
        f"| trustworthiness k=10 (all points) | {large['trust']:.5f} | >= {LARGE_TRUST_TARGET} |",
        f"| continuity k=10 (all points) | {large['continuity']:.5f} | |",
        f"| residual variance (landmark-to-point geodesic vs embedding distances) | {large['residual_variance']:.2e} | |",
        f"| time to compute trustworthiness + continuity | {large['metric_seconds']:.1f} s | |",
        f"| result | {'PASS' if large['passed'] else 'FAIL'} | |",
        "",
        f"scikit-learn's Isomap is not run at this size: it stores the dense n x n geodesic distance matrix "
        f"(`dist_matrix_`, float64) and squares a copy of it for its kernel PCA, so it needs at least "
        f"2 x 8 x n^2 = {large['sklearn_bytes'] / 1e9:.0f} GB, against the O(n L) landmark distances here.",
    ]
    return lines


def args_value(args, flag, default):
    return args[args.index(flag) + 1] if flag in args else default


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds on 2000 points; the best is reported")
    parser.add_argument("--n-small", type=int, default=2000, help="swiss roll size of the comparison with scikit-learn")
    parser.add_argument("--n-large", type=int, default=50000, help="swiss roll size for landmark Isomap")
    parser.add_argument("--n-landmarks", type=int, default=200)
    parser.add_argument("--landmark-method", default="maxmin", choices=["maxmin", "random"])
    parser.add_argument("--device", default="cpu", help="aekit device: cpu, cuda, auto")
    parser.add_argument("--threads", type=int, default=None, help="limit torch and BLAS/OpenMP threads (both libraries)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "manifold.md"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raw = sys.argv[1:] if argv is None else list(argv)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    if args.child is not None:
        landmark_child(args.n_large, args.n_landmarks, args.landmark_method, args.device, Path(args.child))
        return 0
    print(f"part 1: {args.n_small}-point swiss roll, aekit vs scikit-learn", flush=True)
    rows = compare_small(args.n_small, args.repeats, args.device)
    print(f"part 2: landmark Isomap on {args.n_large} points", flush=True)
    large = landmark_large(args.n_large, args.n_landmarks, args.landmark_method, args.device, args.threads)
    large.update(n_landmarks=args.n_landmarks, landmark_method=args.landmark_method)
    out = write_results(args.out, "Manifold learning: aekit vs scikit-learn",
                        command_line("python benchmarks/bench_manifold.py", raw), report(rows, large, raw, args.n_small))
    print(out.read_text(encoding="utf-8"))
    ok = all(r["passed"] is not False for r in rows) and large["passed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

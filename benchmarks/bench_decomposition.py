"""aekit's PCA, FastICA and SFA against scikit-learn, measured side by side in one run.

PCA on the MNIST training images (60000 x 784, float32):
  * fit time of ``aekit.decomposition.PCA(50)`` against scikit-learn's
    ``PCA(50, svd_solver="covariance_eigh")`` (its fastest solver here) and
    ``svd_solver="full"``, as ratios (< 1: aekit is faster); each time is the
    best of ``--repeats`` runs, the three estimators taking turns, with each
    thread count of ``--timing-threads`` (both libraries limited alike);
  * ``explained_variance_ratio_`` of the 50 components against
    ``PCA(svd_solver="full")`` (target: max abs difference <= 1e-6), both also
    against an exact float64 reference;
  * mean squared reconstruction error at 50 components (target: relative
    difference <= 1e-5);
  * ``partial_fit`` over 10 batches against one ``fit`` (target: min |cosine|
    between matching components >= 0.9999), beside scikit-learn's
    IncrementalPCA.

FastICA on a mixture of 4 known sources (sine, square, sawtooth, Laplacian):
recovery of each source (|corr| after Hungarian matching; target >= 0.99),
agreement with scikit-learn's FastICA, fit time ratio; and fit time of 50
components on MNIST (same settings for both; scikit-learn's default SVD
whitening, as its 'eigh' whitening yields NaN on MNIST's rank-deficient
covariance).

SFA on the logistic-map series with a slow driving force (Wiskott 2003):
|corr| of the slowest quadratic-SFA output with the driving force (target
>= 0.9); linear SFA outputs white with increasing delta values.

    python benchmarks/bench_decomposition.py [--data-home DIR] [--repeats 3] [--timing-threads 1,2]
        [--device cpu] [--threads 0] [--skip-mnist-ica] [--out benchmarks/results/decomposition.md]

``--data-home`` defaults to where every MNIST loader looks ($AEKIT_DATA or the
download cache). On a busy machine, ``--threads 1`` runs both libraries on
one thread each for everything but the PCA timing rows, which keeps the
ratios fair (multi-threaded BLAS and OpenMP stall unevenly when other
processes hold the cores).

Prints a Markdown report and writes it whole to ``--out`` (date, machine,
commit, command); notes on the results are kept by hand in
``decomposition-notes.md`` beside it, which this script never writes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA as SkPCA
from sklearn.decomposition import FastICA as SkFastICA
from sklearn.decomposition import IncrementalPCA
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from aekit.bench._provenance import command_line, write_results
from aekit.datasets import load_mnist, make_ica_mixture, make_sfa_signal
from aekit.decomposition import PCA, SFA, FastICA, match_sources

ROOT = Path(__file__).resolve().parents[1]


def best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each callable over ``repeats`` rounds, the callables taking turns."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def mse(X, X_hat) -> float:
    d = X.astype(np.float64) - X_hat.astype(np.float64)
    return float(np.mean(d * d))


def exact_explained_variance_ratio(X: np.ndarray, k: int) -> np.ndarray:
    """Float64 reference: eigenvalues of the float64 covariance (centred in float64)."""
    X64 = X.astype(np.float64)
    X64 -= X64.mean(0)
    values = np.linalg.eigvalsh(X64.T @ X64 / (len(X64) - 1))[::-1]
    return values[:k] / values.sum()


def pca_times(X: np.ndarray, repeats: int, device: str, thread_counts: list[int]) -> dict[int, dict]:
    """Best fit times of aekit's PCA(50) and scikit-learn's two solvers, per thread count (both libraries)."""
    out = {}
    before = torch.get_num_threads()
    for n in thread_counts:
        torch.set_num_threads(n)
        with threadpool_limits(n):
            out[n] = best_times(
                {
                    "aekit": lambda: PCA(50, device=device).fit(X),
                    "covariance_eigh": lambda: SkPCA(50, svd_solver="covariance_eigh").fit(X),
                    "full": lambda: SkPCA(50, svd_solver="full").fit(X),
                },
                repeats,
            )
    torch.set_num_threads(before)
    return out


def bench_pca(X: np.ndarray, repeats: int, device: str, thread_counts: list[int], lines: list[str]) -> None:
    k = 50
    timings = pca_times(X, repeats, device, thread_counts)
    ours = PCA(k, device=device).fit(X)
    ref = SkPCA(k, svd_solver="full").fit(X)
    exact = exact_explained_variance_ratio(X, k)
    evr_diff = float(np.abs(ours.explained_variance_ratio_ - ref.explained_variance_ratio_).max())
    err_ours = mse(X, ours.inverse_transform(ours.transform(X)))
    err_ref = mse(X, ref.inverse_transform(ref.transform(X)))
    rel = abs(err_ours - err_ref) / err_ref

    batches = np.array_split(X, 10)
    inc = PCA(k, device=device)
    t0 = time.perf_counter()
    for batch in batches:
        inc.partial_fit(batch)
    t_inc = time.perf_counter() - t0
    cos_inc = float(np.abs(np.sum(inc.components_ * ours.components_, axis=1)).min())
    sk_inc = IncrementalPCA(k)
    t0 = time.perf_counter()
    for batch in batches:
        sk_inc.partial_fit(batch)
    t_sk_inc = time.perf_counter() - t0
    cos_sk_inc = float(np.abs(np.sum(sk_inc.components_ * ref.components_, axis=1)).min())
    cos_ref = float(np.abs(np.sum(ours.components_ * ref.components_, axis=1)).min())

    timing_rows = []
    for n, times in timings.items():
        threads = f"{n} thread{'' if n == 1 else 's'} each"
        timing_rows += [
            f"| fit time vs `covariance_eigh` ({threads}, best of {repeats}) | {times['aekit']:.3f} s "
            f"| {times['covariance_eigh']:.3f} s | **{times['aekit'] / times['covariance_eigh']:.2f}x** (target <= 1) |",
            f"| fit time vs `full` ({threads}, best of {repeats}) | {times['aekit']:.3f} s | {times['full']:.3f} s "
            f"| **{times['aekit'] / times['full']:.2f}x** |",
        ]
    lines += [
        f"## PCA, MNIST train {X.shape[0]} x {X.shape[1]} float32, 50 components (device {device})",
        "",
        "| quantity | aekit | scikit-learn | ratio / target |",
        "|---|---|---|---|",
        *timing_rows,
        f"| max abs diff of explained_variance_ratio_ vs `full` | {evr_diff:.2e} | | target <= 1e-6: "
        f"{'PASS' if evr_diff <= 1e-6 else 'FAIL'} |",
        f"| max abs error of explained_variance_ratio_ vs exact float64 | "
        f"{np.abs(ours.explained_variance_ratio_ - exact).max():.2e} | "
        f"{np.abs(ref.explained_variance_ratio_ - exact).max():.2e} (`full`) | |",
        f"| reconstruction MSE at 50 components | {err_ours:.8f} | {err_ref:.8f} | rel. diff {rel:.2e} "
        f"(target <= 1e-5: {'PASS' if rel <= 1e-5 else 'FAIL'}) |",
        f"| min abs cosine, fit components vs `full` | {cos_ref:.7f} | | |",
        f"| partial_fit, 10 batches: min abs cosine vs one fit | {cos_inc:.7f} | {cos_sk_inc:.7f} (IncrementalPCA vs `full`) "
        f"| target >= 0.9999: {'PASS' if cos_inc >= 0.9999 else 'FAIL'} |",
        f"| partial_fit, 10 batches: time | {t_inc:.3f} s | {t_sk_inc:.3f} s (IncrementalPCA) | **{t_inc / t_sk_inc:.2f}x** |",
        "",
    ]


def bench_ica(X_mnist: np.ndarray | None, repeats: int, device: str, lines: list[str]) -> None:
    data = make_ica_mixture(20000, n_sources=4, random_state=0)
    S = data.extras["sources"]
    rows = []
    for algorithm in ("parallel", "deflation"):
        for fun in ("logcosh", "exp", "cube"):
            ica = FastICA(4, algorithm=algorithm, fun=fun, random_state=0, device=device).fit(data.X)
            sk = SkFastICA(4, algorithm=algorithm, fun=fun, whiten="unit-variance", random_state=0).fit(data.X)
            Y, Y_sk = ica.transform(data.X), sk.transform(data.X)
            ours = np.abs(match_sources(S, Y)[1])
            theirs = np.abs(match_sources(S, Y_sk)[1])
            agree = np.abs(match_sources(Y_sk, Y)[1])
            times = best_times(
                {
                    "aekit": lambda: FastICA(4, algorithm=algorithm, fun=fun, random_state=0, device=device).fit(data.X),
                    "sklearn": lambda: SkFastICA(
                        4, algorithm=algorithm, fun=fun, whiten="unit-variance", random_state=0
                    ).fit(data.X),
                },
                repeats,
            )
            rows.append(
                f"| {algorithm} | {fun} | {ours.min():.4f} {'PASS' if ours.min() >= 0.99 else 'FAIL'} | "
                f"{theirs.min():.4f} | {agree.min():.5f} | {ica.n_iter_} / {sk.n_iter_} | "
                f"{times['aekit'] * 1e3:.1f} / {times['sklearn'] * 1e3:.1f} ms | **{times['aekit'] / times['sklearn']:.2f}x** |"
            )
    lines += [
        f"## FastICA, 4 known sources (sine, square, sawtooth, Laplacian), {data.X.shape[0]} samples",
        "",
        "| algorithm | contrast | aekit min abs corr with sources (target >= 0.99) | scikit-learn min abs corr "
        "| min abs corr aekit vs scikit-learn | iterations aekit / sklearn | fit time aekit / sklearn | ratio |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if X_mnist is not None:
        settings = dict(max_iter=100, tol=1e-4, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            times = best_times(
                {
                    "aekit": lambda: FastICA(50, device=device, **settings).fit(X_mnist),
                    "sklearn": lambda: SkFastICA(50, whiten="unit-variance", **settings).fit(X_mnist),
                },
                max(1, repeats - 1),
            )
            ica = FastICA(50, device=device, **settings).fit(X_mnist)
            sk = SkFastICA(50, whiten="unit-variance", **settings).fit(X_mnist)
        lines += [
            f"FastICA(50) on MNIST train ({X_mnist.shape[0]} x {X_mnist.shape[1]}), max_iter=100, tol=1e-4: "
            f"aekit {times['aekit']:.2f} s ({ica.n_iter_} iterations), scikit-learn "
            f"{times['sklearn']:.2f} s ({sk.n_iter_} iterations): **{times['aekit'] / times['sklearn']:.2f}x**.",
            "",
        ]


def bench_sfa(device: str, lines: list[str]) -> None:
    data = make_sfa_signal(10000, random_state=0)
    force = data.extras["driving_force"]
    rows = []
    for degree, m in ((1, 3), (2, 2), (2, 3), (2, 10)):
        t0 = time.perf_counter()
        sfa = SFA(1, degree=degree, embedding_dim=m, device=device).fit(data.X)
        seconds = time.perf_counter() - t0
        y = sfa.transform(data.X)[:, 0]
        corr = abs(np.corrcoef(y, force[m - 1 :])[0, 1])
        target = "" if degree == 1 else (" PASS" if corr >= 0.9 else " FAIL")
        rows.append(f"| {degree} | {m} | {corr:.4f}{target} | {sfa.delta_values_[0]:.3g} | {seconds * 1e3:.0f} ms |")
    # Linear SFA on five mixed sines: white outputs, increasing delta values.
    t = np.linspace(0, 2 * np.pi, 5000)
    S = np.column_stack([np.sin(f * t) for f in (1, 3, 7, 15, 40)])
    X = S @ np.random.default_rng(0).normal(size=(5, 5)).T
    lin = SFA(device=device).fit(X)
    Y = lin.transform(X)
    cov_err = float(np.abs(np.cov(Y, rowvar=False) - np.eye(5)).max())
    increasing = bool(np.all(np.diff(lin.delta_values_) > 0))
    lines += [
        f"## SFA, logistic map with slow driving force (Wiskott 2003), {data.X.shape[0]} steps",
        "",
        "| degree | embedding_dim | abs corr slowest output vs driving force (target >= 0.9) | delta | fit time |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Linear SFA on 5 mixed sines: max |cov(Y) - I| = {cov_err:.1e}, delta values increasing: {increasing} "
        f"({', '.join(f'{d:.2e}' for d in lin.delta_values_)}).",
        "",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None,
                        help="folder holding mnist/ (default: $AEKIT_DATA or the download cache, as every loader)")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds; the best is reported")
    parser.add_argument("--timing-threads", default="1,2",
                        help="thread counts of the PCA fit-time rows, comma-separated (both libraries alike)")
    parser.add_argument("--device", default="cpu", help="aekit device: cpu, cuda, auto")
    parser.add_argument("--skip-mnist-ica", action="store_true", help="skip the FastICA timing on MNIST")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch and BLAS threads for both libraries (0: defaults); 1 gives fair ratios on a busy machine")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "decomposition.md"))
    args = parser.parse_args(argv)
    command = command_line("python benchmarks/bench_decomposition.py", sys.argv[1:] if argv is None else list(argv))
    thread_counts = [int(n) for n in args.timing_threads.split(",") if n.strip()]
    torch.set_flush_denormal(True)
    limits = contextlib.nullcontext()
    if args.threads:
        torch.set_num_threads(args.threads)
        limits = threadpool_limits(args.threads)  # NumPy/SciPy BLAS, used by both libraries

    X = load_mnist("train", data_home=args.data_home, download=False).X
    lines: list[str] = []
    with limits:
        for name, run in (
            ("PCA", lambda: bench_pca(X, args.repeats, args.device, thread_counts, lines)),
            ("FastICA", lambda: bench_ica(None if args.skip_mnist_ica else X, args.repeats, args.device, lines)),
            ("SFA", lambda: bench_sfa(args.device, lines)),
        ):
            t0 = time.perf_counter()
            print(f"[{name}] ...", file=sys.stderr, flush=True)
            run()
            print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    out = write_results(args.out, "Decomposition benchmark: aekit vs scikit-learn", command, lines,
                        notes=Path(args.out).stem + "-notes.md")
    print(out.read_text(encoding="utf-8"))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

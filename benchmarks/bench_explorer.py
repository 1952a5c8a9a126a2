"""The explorer page's numbers: page sizes, load time in headless Chromium, agreement with PyTorch.

Two sets of runs:

1. the demo's runs (``aekit demo``: PCA and the 64-100-64 denoising sparse
   autoencoder on the 8x8 digits), trained here unless ``--demo DIR`` points
   at a demo folder;
2. a 784-1000-784 sigmoid autoencoder (untied, cross-entropy: 1.57 M weights,
   6.3 MB as float32), the size of the MNIST models of the benchmarks,
   trained for a few epochs on 10 000 images of 28 x 28: the digits upscaled
   (bilinear) and shifted by up to 2 pixels, so that the page also holds the
   10 000 images an MNIST-sized run shows on hover.

For each, the page is written with float32 and with float16 weights; the
script reports the file size, the time from navigation to the page being
ready in headless Chromium (median and maximum of ``--repeats`` loads), and
the max |page - PyTorch| over the code and the reconstruction of a stroke
drawn on the canvas with DevTools mouse events, beside the rounding bound
(aekit.viz.explorer._mlp.error_bound). With ``--screenshot PATH`` it also
saves a screenshot of the demo page's autoencoder panel after drawing.

    python benchmarks/bench_explorer.py [--demo DIR] [--repeats 5] [--screenshot docs/explorer.png]

Writes benchmarks/results/explorer.md (date, machine, commit). Needs Chromium
(``make browser``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit import io as aio
from aekit.bench._provenance import git_commit, machine_description
from aekit.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "viz"))  # the DevTools harness of the browser tests
from _chromium import Chromium, find_chromium  # noqa: E402
from test_explorer_browser import STROKE, _check_agreement, _draw, _open  # noqa: E402  (same checks as the test)


def demo_runs(folder: Path | None, work: Path) -> list[Path]:
    if folder is None:
        from typer.testing import CliRunner

        from aekit.cli import app

        folder = work / "demo"
        result = CliRunner().invoke(app, ["demo", "--out", str(folder), "-q"])
        if result.exit_code != 0:
            raise SystemExit(result.output)
    return [folder / "pca", folder / "autoencoder"]


def big_run(work: Path, epochs: int) -> Path:
    """A 784-1000-784 autoencoder on the digits upscaled to 28 x 28, as a run folder."""
    from scipy.ndimage import zoom

    from aekit.autoencoders import Autoencoder
    from aekit.cli._run import write_run
    from aekit.datasets import load_digits

    digits = load_digits()
    big = np.clip(zoom(digits.X.reshape(-1, 8, 8), (1, 3.5, 3.5), order=1), 0, 1).astype(np.float32)
    rng = np.random.default_rng(0)
    rows = np.arange(10_000) % len(big)
    images = np.zeros((len(rows), 32, 32), dtype=np.float32)
    for i, (r, (dy, dx)) in enumerate(zip(rows, rng.integers(0, 5, size=(len(rows), 2)))):
        images[i, dy:dy + 28, dx:dx + 28] = big[r]
    images = images[:, 2:30, 2:30]
    data = work / "digits28.npz"
    np.savez(data, X=images, y=digits.y[rows])
    X = images.reshape(len(images), -1)
    est = Autoencoder(1000, loss="cross_entropy", max_epochs=epochs, batch_size=64, learning_rate=1e-3,
                      random_state=0).fit(X)
    return write_run(work / "ae784", command="bench explorer", dataset=str(data), estimator=est,
                     metrics={"n_samples": len(X)}, history=est.history_, report=False)


def measure(browser, page: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        times.append(_open(browser, page))
        errors = browser.errors()
        if errors or browser.requests() != [page.resolve().as_uri()]:
            raise SystemExit(f"{page}: errors {errors}, requests {browser.requests()}")
    return times


SCATTER_TIMING = """(() => {
  const id = aekitExplorer.panelIds.find(i => i.endsWith("-codes")), s = aekitExplorer.panel(id).scatter;
  let t = performance.now(); for (let i = 0; i < 20; i++) s.draw(); const draw = (performance.now() - t) / 20;
  t = performance.now(); for (let i = 0; i < 200; i++) s.nearest(100 + i, 200, 8); const near = (performance.now() - t) / 200;
  return [s.n, draw, near];
})()"""


def agreement(browser, page: Path, panel: str, est, *, float16: bool) -> tuple[float, float, float]:
    _open(browser, page)
    s = _draw(browser, panel, STROKE)
    return _check_agreement(est, s["corrupted"], s["code"], s["reconstruction"], float16=float16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=None, help="an `aekit demo` folder (default: run the demo)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the 784-1000-784 model")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explorer.md")
    args = parser.parse_args()
    from aekit.viz.explorer import write_explorer

    torch.set_num_threads(1)
    binary = find_chromium()
    if binary is None:
        raise SystemExit("Chromium is not installed: run `make browser` as root.")
    work = Path(tempfile.mkdtemp(prefix="aekit-explorer-bench-"))
    sets = {"demo (64-100-64 on 8x8 digits, PCA)": (demo_runs(args.demo, work), "autoencoder/autoencoder"),
            "784-1000-784 autoencoder (10 000 images 28x28)": ([big_run(work, args.epochs)], "ae784/autoencoder")}
    rows = []
    (work / "profile").mkdir()
    browser = Chromium(binary, str(work / "profile"))
    try:
        for name, (runs, panel) in sets.items():
            est = aio.load(runs[-1] / "model")
            for float16 in (False, True):
                page = work / f"{panel.split('/')[0]}{'16' if float16 else ''}.html"
                started = time.perf_counter()
                write_explorer(runs, page, float16=float16)
                write_seconds = time.perf_counter() - started
                times = measure(browser, page, args.repeats)
                d_code, d_recon, bound = agreement(browser, page, panel, est, float16=float16)
                n_points, draw_ms, hover_ms = browser.evaluate(SCATTER_TIMING)
                rows.append((name, "float16" if float16 else "float32", page.stat().st_size / 1e6, write_seconds,
                             statistics.median(times), max(times), d_code, d_recon, bound,
                             f"{int(n_points)}: {draw_ms:.1f} / {hover_ms:.2f}"))
                print(rows[-1], flush=True)
                if args.screenshot is not None and not float16 and panel.startswith("autoencoder"):
                    _open(browser, page)
                    _draw(browser, panel, [(0.3, 0.18), (0.68, 0.2), (0.62, 0.42), (0.42, 0.5), (0.66, 0.6),
                                           (0.64, 0.82), (0.3, 0.84)], centre=True)  # a "3"
                    r = browser.rect(f'section[data-panel="{panel}"] .chip')  # inspect the most active unit
                    browser.click(r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
                    browser.screenshot(args.screenshot, selector=f'section[data-panel="{panel}"]')
    finally:
        browser.close()
    lines = [
        "# Explorer page: size, load time, agreement",
        "",
        f"Date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}  ",
        f"Machine: {machine_description()}  ",
        f"Commit: {git_commit()}  ",
        f"Command: `python benchmarks/bench_explorer.py --repeats {args.repeats}`",
        "",
        "Load time: from the navigation command to the page reporting itself ready (every panel drawn),",
        f"headless Chromium, median and max of {args.repeats} loads. Agreement: max |page - PyTorch| over the code",
        "and the reconstruction of a stroke drawn with mouse events; bound: the largest per-entry rounding",
        "bound of the reconstruction (float32: PyTorch's float32 arithmetic; float16: plus the weights' rounding).",
        "Scatter: the code embedding's points, and the ms to redraw them all / to find the point under the mouse.",
        "",
        "| runs | weights | page MB | write s | load s (median / max) | code diff | reconstruction diff | bound | scatter: points: draw / hover ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, precision, mb, ws, med, mx, dc, dr, b, sc in rows:
        lines.append(f"| {name} | {precision} | {mb:.2f} | {ws:.1f} | {med:.2f} / {mx:.2f} | {dc:.1e} | {dr:.1e} | {b:.1e} | {sc} |")
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()

"""The explorer page's numbers: page sizes, load time in headless Chromium, agreement with PyTorch, scatter speed.

Two sets of runs:

1. the demo's runs (``aekit demo``: PCA and the 64-100-64 denoising sparse
   autoencoder on the 8x8 digits), trained here unless ``--demo DIR`` points
   at a demo folder;
2. a 784-1000-784 sigmoid autoencoder (untied, cross-entropy: 1.57 M weights,
   6.3 MB as float32), the size of the MNIST models of the benchmarks,
   trained for ``--epochs`` epochs on 10 000 MNIST-shaped images made offline
   from the digits (``digits28`` of the browser tests: upscaled 3.5 times and
   shifted by up to 2 pixels), so that the page also holds the 10 000 images
   an MNIST-sized run shows on hover and a 10 000-point scatter of its codes.

For each, the page is written with float32 and with float16 weights; the
script reports the file size, the time to write it, the time from navigation
to the page being ready in headless Chromium (median and maximum of
``--repeats`` loads), and the max |page - PyTorch| over the code and the
reconstruction of a stroke drawn on the canvas with DevTools mouse events,
beside the rounding bound (aekit.viz.explorer._mlp.error_bound); and for the
scatter of the codes, the median time of a full redraw (rasterized: the
pixels are read back) and the page's own time for the hover of a point under
a real mouse move.

With ``--screenshots DIR`` it also saves the screenshots of the README:
``explorer.png`` (the demo's autoencoder panel after drawing a 3 and
clicking its most active unit), ``explorer-embedding.png`` (Isomap of the
swiss roll beside the 3-D points, a band brushed in the embedding and a point
hovered in 3-D), ``explorer-som.png`` (a 12 x 12 hexagonal SOM of the digits,
prototypes shown, a unit hovered) and ``explorer-curves.png`` (the demo
autoencoder's loss terms, one point hovered).

    python benchmarks/bench_explorer.py [--demo DIR] [--epochs 5] [--repeats 5] [--screenshots docs]

Writes benchmarks/results/explorer.md whole (date, commit, machine with its
AMX / AVX-512-BF16 flags and torch threads, command). Needs Chromium
(``make browser``). Torch runs on 1 thread (the browser tests' setting).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aekit import io as aio
from aekit.bench._provenance import command_line, provenance_lines
from aekit.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "viz"))  # the DevTools harness and the checks of the browser tests
from _chromium import Chromium, find_chromium  # noqa: E402
from test_explorer_browser import (  # noqa: E402  (the same checks and data as the tests)
    STROKE,
    _check_agreement,
    _choose,
    _draw,
    _hover_point,
    _in,
    _open,
    _state,
    digits28,
)


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
    """A 784-1000-784 autoencoder on 10 000 MNIST-shaped images (28 x 28), as a run folder."""
    from aekit.autoencoders import Autoencoder
    from aekit.cli._run import write_run

    images, y = digits28(10_000)
    data = work / "digits28.npz"
    np.savez(data, X=images, y=y)
    X = images.reshape(len(images), -1)
    est = Autoencoder(1000, loss="cross_entropy", max_epochs=epochs, batch_size=64, learning_rate=1e-3,
                      random_state=0).fit(X)
    return write_run(work / "ae784", command="bench explorer", dataset=str(data), estimator=est,
                     metrics={"n_samples": len(X)}, history=est.history_, report=False)


def gallery_runs(work: Path) -> list[Path]:
    """Isomap of the swiss roll and a SOM of the digits, for the screenshots."""
    from aekit.cli._run import write_run
    from aekit.datasets import load_digits, make_swiss_roll
    from aekit.manifold import SOM, Isomap

    roll = make_swiss_roll()  # the registry's "swiss-roll": 2000 points
    iso = Isomap(n_neighbors=10, n_components=2).fit(roll.X)
    X = load_digits().X
    som = SOM((12, 12), topology="hexagonal", max_iter=20, random_state=0).fit(X)
    return [write_run(work / "isomap", command="bench explorer", dataset="swiss-roll", estimator=iso,
                      metrics={"n_samples": len(roll.X)}, report=False),
            write_run(work / "som", command="bench explorer", dataset="digits", estimator=som,
                      metrics={"n_samples": len(X)}, history=som.history_, report=False)]


def measure(browser, page: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        times.append(_open(browser, page))
        errors = browser.errors()
        if errors or browser.requests() != [page.resolve().as_uri()]:
            raise SystemExit(f"{page}: errors {errors}, requests {browser.requests()}")
    return times


# the median of 15 full redraws of the codes' scatter, rasterized (getImageData waits for the pixels)
REDRAW = """(s => { const t = [];
  for (let i = 0; i < 15; i++) { const a = performance.now(); s.draw(); s.base.getContext("2d").getImageData(0, 0, 1, 1);
    t.push(performance.now() - a); }
  return [s.n, t.sort((a, b) => a - b)[7]]; })(aekitExplorer.panel(aekitExplorer.panelIds.find(i => i.endsWith("-codes"))).scatter)"""


def scatter_speed(browser) -> tuple[int, float, float]:
    """(points, redraw ms, median hover ms of 5 real mouse moves onto points)."""
    n, redraw = browser.evaluate(REDRAW)
    panel = browser.evaluate("aekitExplorer.panelIds.find(i => i.endsWith('-codes'))")
    hovers = []
    for i in np.linspace(0, n - 1, 5).astype(int):
        _hover_point(browser, panel, int(i))
        hovers.append(browser.evaluate(f"aekitExplorer.panel({panel!r}).scatter.hoverMs"))
    return int(n), float(redraw), float(statistics.median(hovers))


def agreement(browser, page: Path, panel: str, est, *, float16: bool) -> tuple[float, float, float]:
    _open(browser, page)
    s = _draw(browser, panel, STROKE)
    return _check_agreement(est, s["corrupted"], s["code"], s["reconstruction"], float16=float16)


def screenshots(browser, demo_page: Path, gallery_page: Path, folder: Path) -> list[Path]:
    """The README's screenshots: draw, embedding with brushing, SOM, curves."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    _open(browser, demo_page)
    panel = "autoencoder/autoencoder"
    _draw(browser, panel, [(0.3, 0.18), (0.68, 0.2), (0.62, 0.42), (0.42, 0.5), (0.66, 0.6),
                           (0.64, 0.82), (0.3, 0.84)], centre=True)  # a "3"
    r = browser.rect(_in(panel, ".chip"))  # inspect the most active unit
    browser.click(r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
    browser.screenshot(folder / "explorer.png", selector=f'section[data-panel="{panel}"]')
    shots.append(folder / "explorer.png")
    # curves: hover the middle epoch
    panel = "autoencoder/curves"
    r = browser.rect(_in(panel, "canvas.plot"), content=True)
    browser.mouse("move", r["x"] + 64 + (r["width"] - 80) * 0.5, r["y"] + r["height"] * 0.5)
    browser.screenshot(folder / "explorer-curves.png", selector=f'section[data-panel="{panel}"]')
    shots.append(folder / "explorer-curves.png")
    _open(browser, gallery_page)
    # embedding: brush a band of the unrolled sheet, then hover a point of the band in 3-D
    panel = "isomap/embedding"
    r = browser.rect(_in(panel, ".stack canvas:nth-child(2)"), content=True)
    browser.drag([(r["x"] + 200, r["y"] + 10), (r["x"] + 290, r["y"] + 450)])
    selected = _state(browser, panel)["selected"]
    _hover_point(browser, panel, selected[len(selected) // 3], canvas_index=1)
    s = _state(browser, panel)
    r3 = browser.rect(_in(panel, ".box:nth-child(2) .stack canvas:nth-child(2)"), content=True)
    i = s["selected"][len(s["selected"]) // 3]
    browser.mouse("move", r3["x"] + s["xy3"][2 * i], r3["y"] + s["xy3"][2 * i + 1])
    browser.screenshot(folder / "explorer-embedding.png", selector=f'section[data-panel="{panel}"]')
    shots.append(folder / "explorer-embedding.png")
    # SOM: the prototypes on the grid, one unit hovered (its prototype, hits and the samples it wins)
    panel = "som/som"
    _choose(browser, _in(panel, "select"), "prototypes")
    centres = _state(browser, panel)["centres"]
    r = browser.rect(_in(panel, "canvas.plot"), content=True)
    u = 12 * 5 + 6
    browser.mouse("move", r["x"] + centres[u][0], r["y"] + centres[u][1])
    browser.screenshot(folder / "explorer-som.png", selector=f'section[data-panel="{panel}"]')
    shots.append(folder / "explorer-som.png")
    return shots


def chromium_version(binary: str) -> str:
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=None, help="an `aekit demo` folder (default: run the demo)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the 784-1000-784 model")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for the README's screenshots")
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
                n_points, redraw_ms, hover_ms = scatter_speed(browser)
                rows.append((name, "float16" if float16 else "float32", page.stat().st_size / 1e6, write_seconds,
                             statistics.median(times), max(times), d_code, d_recon, bound,
                             f"{n_points}: {redraw_ms:.1f} / {hover_ms:.2f}"))
                print(rows[-1], flush=True)
        if args.screenshots is not None:
            gallery = write_explorer(gallery_runs(work), work / "gallery.html")
            for path in screenshots(browser, work / "autoencoder.html", gallery, args.screenshots):
                print("screenshot", path, flush=True)
    finally:
        browser.close()
    command = command_line("python benchmarks/bench_explorer.py", sys.argv[1:])
    lines = [
        "# Explorer page: size, load time, agreement, scatter speed",
        "",
        *provenance_lines(command),
        f"- browser: {chromium_version(binary)}, headless, software rendering (--disable-gpu)",
        "",
        "Load time: from the navigation command to the page reporting itself ready (every panel drawn),",
        f"median and max of {args.repeats} loads. Agreement: max |page - PyTorch| over the code and the",
        "reconstruction of a stroke drawn with mouse events; bound: the largest per-entry rounding bound of the",
        "reconstruction (float32: PyTorch's float32 arithmetic; float16: plus the weights' rounding).",
        "Scatter: the points of the codes' embedding; the median ms of 15 full redraws (rasterized) / the page's",
        "own time for the hover of a point under a real mouse move (lookup, highlight, tooltip; median of 5).",
        "The machine is shared: timings are of one run, with other work running beside it.",
        "",
        "| runs | weights | page MB | write s | load s (median / max) | code diff | reconstruction diff | bound "
        "| scatter: points: redraw / hover ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, precision, mb, ws, med, mx, dc, dr, b, sc in rows:
        lines.append(f"| {name} | {precision} | {mb:.2f} | {ws:.1f} | {med:.2f} / {mx:.2f} | {dc:.1e} | {dr:.1e} "
                     f"| {b:.1e} | {sc} |")
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()

"""The report opened from disk in headless Chromium at a laptop's width: every image loads, no console error,
tables present, nothing wider than the window, each run's figures above its metrics.

The browser and its DevTools harness are shared with the explorer tests
(``_chromium.py``, the ``browser`` fixture of ``conftest.py``). A control page
with a broken image, a missing file and a ``console.error`` checks that the
harness does see such failures.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from aekit.cli._run import write_run  # noqa: E402
from aekit.inspection import activation_maximization  # noqa: E402
from aekit.viz import (  # noqa: E402
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
    write_report,
)

# What the page reports about itself once loaded (read back by value, not trusted for errors).
PROBE = """JSON.stringify({
  viewport: innerWidth, pageWidth: document.documentElement.scrollWidth,
  widest: Math.max(...Array.from(document.querySelectorAll('img, table, figure')).map(e => e.getBoundingClientRect().right)),
  sections: Array.from(document.querySelectorAll('section.run')).map(s => ({
    figuresTop: (s.querySelector('figure') || {getBoundingClientRect: () => ({top: -1})}).getBoundingClientRect().top,
    metricsTop: s.querySelector('table.metrics').getBoundingClientRect().top})),
  comparisons: Array.from(document.querySelectorAll('section.comparison table.metrics')).map(t =>
    Array.from(t.querySelectorAll('thead th')).map(th => th.textContent)),
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
                                                 width: i.naturalWidth, height: i.naturalHeight})),
  tables: Array.from(document.querySelectorAll('table')).map(t => t.id),
  metricRows: Array.from(document.querySelectorAll('table.metrics tbody tr')).length,
  styled: getComputedStyle(document.querySelector('table') || document.body).borderCollapse,
})"""


LAPTOP = (1366, 768)


@pytest.fixture
def laptop(browser):
    """The shared browser at a laptop's viewport for one test, then back to its default size."""
    browser.set_viewport(*LAPTOP)
    yield browser
    browser.set_viewport(1400, 1000)


def _open(browser, url):
    """(what the page reports, the errors the browser logged)."""
    browser.open(url)
    page = json.loads(browser.evaluate(PROBE))
    return page, browser.errors()


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    """Two real run folders: PCA on digits, and a small torch encoder's activation maximization."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    X = load_digits().data[:500] / 16.0
    pca = PCA(n_components=16, random_state=0).fit(X)
    recon = pca.inverse_transform(pca.transform(X[:8]))
    write_run(
        root / "pca", command="fit pca", dataset="digits", report=False,
        metrics={"reconstruction_mse": float(np.mean((recon - X[:8]) ** 2)),
                 "explained_variance": float(pca.explained_variance_ratio_.sum())},
        figures={"filters": plot_filters(pca.components_, (8, 8)),
                 "reconstructions": plot_reconstructions(X[:8], recon, (8, 8))},
        extra={"estimator": "PCA", "params": pca.get_params()},
    )
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Sigmoid())
    am = activation_maximization(encoder, 64, n_starts=3, norm=3.0, random_state=0)
    with torch.no_grad():
        codes = encoder(torch.tensor(X, dtype=torch.float32)).numpy()
    history = [{"epoch": e, "reconstruction": 20.0 / e, "kl_sparsity": 0.5 / e, "loss": 20.5 / e} for e in (1, 2, 3)]
    write_run(
        root / "encoder", command="train autoencoder", dataset="digits", history=history, report=False,
        metrics={"median_cosine_across_starts": float(np.median(am.mean_cosine))},
        figures={"filters": plot_filters(encoder[0].weight, (8, 8)),
                 "activation_maximization": plot_activation_maximization(am, (8, 8)),
                 "activation_histogram": plot_activation_histogram(codes, rho0=0.05),
                 "training_curves": plot_history(history)},
        extra={"estimator": "SparseAutoencoder", "params": {"n_components": 16, "sparsity": "kl:0.05:3"}},
    )
    pca8 = PCA(n_components=8, random_state=0).fit(X)
    write_run(
        root / "pca8", command="fit pca", dataset="digits", report=False,
        metrics={"explained_variance": float(pca8.explained_variance_ratio_.sum())},
        figures={"filters": plot_filters(pca8.components_, (8, 8))},
        extra={"estimator": "PCA", "params": pca8.get_params()},
    )
    torch.set_num_threads(torch_threads)
    return root / "pca", root / "encoder", root / "pca8"


@pytest.mark.parametrize("which", ["single", "unlike", "like"])
def test_report_renders_in_chromium_at_laptop_width(laptop, run_dirs, tmp_path, which):
    pca, encoder, pca8 = run_dirs
    dirs = {"single": [encoder], "unlike": [pca, encoder], "like": [pca, encoder, pca8]}[which]
    n_figures = sum(len(list((d / "figures").glob("*.png"))) for d in dirs)
    out = write_report(dirs, tmp_path / "report.html")
    page, errors = _open(laptop, out.resolve().as_uri())
    assert errors == []
    assert len(page["images"]) == n_figures  # every figure once, in its run's section
    for img in page["images"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert "metrics-0" in page["tables"] and page["metricRows"] > 0
    assert page["styled"] == "collapse"  # the inline style sheet was applied (not refused by the CSP)
    # laid out for the window: no horizontal scrolling, nothing past its right edge
    assert page["viewport"] == LAPTOP[0] and page["pageWidth"] <= LAPTOP[0] and page["widest"] <= LAPTOP[0]
    # each run's figures come first, its metrics below them
    assert len(page["sections"]) == len(dirs)
    assert all(0 <= s["figuresTop"] < s["metricsTop"] for s in page["sections"])
    # a comparison only of the runs of one kind, PCA here, and none between unlike runs
    assert page["comparisons"] == ([["name", "pca", "pca8"]] if which == "like" else [])
    laptop.screenshot(tmp_path / f"report-{which}.png")


def test_the_harness_sees_broken_images_and_console_errors(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>control</title></head><body>"
        "<table class='metrics' id='metrics-0'><tbody><tr><td>1</td></tr></tbody></table>"
        "<img alt='corrupt' src='data:image/png;base64,AAAA'>"
        "<img alt='missing' src='no-such-figure.png'>"
        "<script>console.error('boom')</script></body></html>"
    )
    page, errors = _open(browser, control.resolve().as_uri())
    assert [img["width"] for img in page["images"]] == [0, 0]
    assert any("boom" in e for e in errors), errors
    assert any("no-such-figure.png" in e or "ERR_FILE_NOT_FOUND" in e for e in errors), errors

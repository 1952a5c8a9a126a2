"""The explorer document as one HTML file: template, style and script inlined, data as JSON."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from aekit.viz.explorer._encode import encode_arrays
from aekit.viz.explorer._panels import DatasetTable, Run, read_run, run_panels

__all__ = ["build_document", "render_explorer", "write_explorer", "PageTooLarge", "DEFAULT_MAX_MB", "FORMAT"]

FORMAT, VERSION = "aekit-explorer", 1
DEFAULT_MAX_MB = 32.0  # MB = 10^6 bytes; a 784-1000-784 autoencoder's page is well below it
DEFAULT_MAX_POINTS = 10_000
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


class PageTooLarge(ValueError):
    """The page would be larger than the stated limit; the message says how to make it fit."""


def build_document(run_dirs, *, title: str | None = None, max_points: int = DEFAULT_MAX_POINTS, data_home=None) -> dict:
    """The explorer document of ``run_dirs``, with NumPy arrays still in place (see :mod:`aekit.viz.explorer`).

    Each item is a run folder, or a :class:`~aekit.viz.explorer.Run` already
    read (by :func:`~aekit.viz.explorer.read_run`, or assembled by code whose
    runs do not live in folders).
    """
    from aekit import __version__

    run_dirs = [run_dirs] if isinstance(run_dirs, (str, Path, Run)) else list(run_dirs)
    if not run_dirs:
        raise ValueError("no run folder given: pass at least one run folder written by `aekit fit` / `aekit train`.")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}.")
    table = DatasetTable()
    runs, panels = [], []
    for run_dir in run_dirs:
        run = run_dir if isinstance(run_dir, Run) else read_run(run_dir, data_home=data_home)
        panels += run_panels(run, table, max_points=max_points)
        runs.append({"name": run.name, "path": str(run.path), "estimator": type(run.estimator).__name__,
                     "dataset": run.info.get("dataset"), "notes": list(run.notes)})
    names = [r["name"] for r in runs]
    for i, panel in enumerate(panels):  # same folder name twice: keep panel ids unique
        if sum(p["id"] == panel["id"] for p in panels) > 1:
            panel["id"] = f"{panel['id']}#{i}"
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": title or "aekit explorer: " + ", ".join(names),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "aekit_version": __version__,
        "runs": runs,
        "datasets": table.to_document(),
        "panels": panels,
    }


def _asset(name: str) -> str:
    return resources.files("aekit.viz.explorer").joinpath(name).read_text(encoding="utf-8")


def render_explorer(document: dict, *, float16: bool = False, max_mb: float | None = DEFAULT_MAX_MB) -> str:
    """The page for ``document``: one HTML string with the script, style and data inlined.

    Raises
    ------
    PageTooLarge
        When the page is over ``max_mb`` megabytes (10^6 bytes); ``None`` means no limit.
    """
    doc = dict(document, precision="float16" if float16 else "float32")
    data = json.dumps(encode_arrays(doc, float16=float16), separators=(",", ":"), allow_nan=False)
    data = data.replace("</", "<\\/")  # the JSON sits in a <script> element
    title = html.escape(doc["title"], quote=True)
    page = (
        _asset("explorer.html")
        .replace("{{csp}}", _CSP)
        .replace("{{title}}", title)
        .replace("{{style}}", _asset("explorer.css"))
        .replace("{{script}}", _asset("explorer.js"))
    )
    page = page.replace("{{data}}", data)
    size_mb = len(page.encode("utf-8")) / 1e6
    if max_mb is not None and size_mb > max_mb:
        hint = " or write the weights as float16 (--float16, about half their size)" if not float16 else ""
        raise PageTooLarge(
            f"the explorer page would be {size_mb:.1f} MB, over the limit of {max_mb:g} MB. Raise the limit "
            f"(--max-mb {int(size_mb) + 1}){hint}, show fewer points (--max-points, now at most "
            f"{_max_points(document)} per scatter), or explore fewer runs per page."
        )
    return page


def _max_points(document: dict) -> int:
    sizes = [len(p["points"]) for p in document.get("panels", []) if p.get("kind") == "embedding"]
    return max(sizes, default=0)


def write_explorer(run_dirs, out_path, *, title: str | None = None, float16: bool = False,
                   max_mb: float | None = DEFAULT_MAX_MB, max_points: int = DEFAULT_MAX_POINTS, data_home=None) -> Path:
    """Write the interactive explorer page of one or more run folders; return its path.

    One HTML file that opens from disk in any browser, with no server and no
    network: for MLP autoencoders a canvas to draw on with the input, its
    corruption, the code and the reconstruction computed live in the page;
    sliders over the code; per code unit its filter, activation-maximizing
    input and top-activating images; 2-D scatters of embeddings (PCA, ICA,
    SFA, Isomap, LLE, kernel PCA, CCA, autoencoder codes) with linked
    brushing; the SOM's U-matrix, prototypes and hits; every training curve.
    The file is written atomically.

    Parameters
    ----------
    run_dirs : path or sequence of paths
        Run folders written by ``aekit fit`` / ``aekit train`` / ``aekit demo``.
    out_path : path
        The ``.html`` file to write.
    title : str, optional
    float16 : bool
        Store the large float arrays (weights, codebooks, points) as float16.
    max_mb : float or None
        Refuse to write a page larger than this many MB (10^6 bytes).
    max_points : int
        Most points per scatter (a seeded random subset above it).
    data_home : path, optional
        Where datasets are cached (to reload a run's training data).
    """
    from aekit import io as aio

    document = build_document(run_dirs, title=title, max_points=max_points, data_home=data_home)
    page = render_explorer(document, float16=float16, max_mb=max_mb)
    out_path = Path(out_path)
    aio.atomic_write_text(out_path, page)
    return out_path

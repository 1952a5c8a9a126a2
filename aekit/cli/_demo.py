"""``aekit demo [--out RUN_DIR]``: the main job, offline on the embedded digits.

The demo is a list of steps, ``DEMO_STEPS``; each gets the shared
:class:`DemoContext` (the data, the demo folder, what earlier steps produced)
and writes its own run folder under the demo folder. Later steps (autoencoders,
the HTML report over every run) are added by appending to the list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import default_run_dir, write_run

__all__ = ["DemoContext", "DemoStep", "DEMO_STEPS", "pca_step", "demo"]


@dataclass
class DemoContext:
    """What every demo step sees: the dataset, the demo folder, and the run folders written so far."""

    data: object  # aekit.datasets.Dataset
    out: Path
    quiet: bool = False
    runs: dict[str, Path] = field(default_factory=dict)  # step name -> its run folder
    metrics: dict[str, dict] = field(default_factory=dict)  # step name -> its metrics


@dataclass(frozen=True)
class DemoStep:
    name: str
    description: str
    run: Callable[[DemoContext], None]


def pca_step(ctx: DemoContext) -> None:
    """PCA on the digits: scree plot, eigen-images and reconstructions at several component counts."""
    from aekit.cli._fit_decomposition import pca_summary
    from aekit.decomposition import PCA

    started = time.perf_counter()
    X = ctx.data.X
    pca = PCA().fit(X)  # every non-negligible component: the scree plot shows them all
    metrics, figures = pca_summary(pca, X, ctx.data.image_shape)
    cumulative = pca.explained_variance_ratio_.cumsum()
    metrics["components_for_90_percent"] = int((cumulative < 0.9).sum() + 1)
    metrics["components_for_95_percent"] = int((cumulative < 0.95).sum() + 1)
    metrics["fit_seconds"] = round(time.perf_counter() - started, 4)
    run_dir = ctx.out / "pca"
    write_run(run_dir, command="demo", dataset=ctx.data.name, estimator=pca, metrics=metrics, figures=figures,
              started=started)
    ctx.runs["pca"] = run_dir
    ctx.metrics["pca"] = metrics


DEMO_STEPS: list[DemoStep] = [
    DemoStep("pca", "PCA: scree plot, eigen-images, reconstructions", pca_step),
]


@app.command("demo")
def demo(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Demo folder (default runs/demo-<time>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run the offline demo on the embedded digits and print where its figures are."""
    from tqdm.auto import tqdm

    from aekit.datasets import load_digits

    out = out if out is not None else default_run_dir("demo")
    ctx = DemoContext(data=load_digits(), out=out, quiet=quiet)
    for step in tqdm(DEMO_STEPS, desc="demo", unit="step", disable=quiet, leave=False):
        step.run(ctx)
    for name, run_dir in ctx.runs.items():
        figures = ", ".join(sorted(p.name for p in (run_dir / "figures").glob("*.png")))
        typer.echo(f"{name}: {run_dir}  (figures: {figures})")
    typer.echo(f"demo folder: {out}")

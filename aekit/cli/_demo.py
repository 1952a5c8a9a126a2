"""``aekit demo [--out RUN_DIR]``: the main job, offline on the embedded digits.

The demo is a list of steps, ``DEMO_STEPS``; each gets the shared
:class:`DemoContext` (the data, the demo folder, what earlier steps produced)
and writes its own run folder under the demo folder:

1. ``pca``: PCA as eigenvectors of the covariance matrix (scree plot,
   eigen-images, reconstructions at several component counts);
2. ``autoencoder``: a denoising sparse autoencoder (sigmoid code with the KL
   average-activation constraint, as the lecture advises; masking noise;
   cross-entropy), with its filters, reconstructions of corrupted digits,
   training curves and the mean-activation histogram;
3. ``activation_maximization``: the inputs of fixed norm that maximize each
   code unit, by projected gradient ascent from 5 random starts, checked
   against the closed form w_i / ||w_i||.

Then one HTML report over every run, ``DEMO/report.html``, and the
interactive explorer page over the runs that hold a model,
``DEMO/explorer.html`` (draw a digit and see the autoencoder's code and
reconstruction live; the PCA and code embeddings; the training curves).
About half a minute on 2 cores.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import default_run_dir, write_run

__all__ = ["DemoContext", "DemoStep", "DEMO_STEPS", "pca_step", "autoencoder_step", "activation_maximization_step", "demo"]


@dataclass
class DemoContext:
    """What every demo step sees: the dataset, the demo folder, and the run folders written so far."""

    data: object  # aekit.datasets.Dataset
    out: Path
    quiet: bool = False
    runs: dict[str, Path] = field(default_factory=dict)  # step name -> its run folder
    metrics: dict[str, dict] = field(default_factory=dict)  # step name -> its metrics
    models: dict[str, object] = field(default_factory=dict)  # step name -> its fitted estimator


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
              started=started, report=False)
    _record(ctx, "pca", run_dir, metrics, pca)


# The demo's autoencoder: 100 sigmoid code units (overcomplete for 64 pixels) kept sparse by the
# KL constraint with rho_0 = 0.05 estimated over the whole training set once per epoch, masking
# noise 25 %, cross-entropy on [0, 1] pixels. Chosen for a clear picture in seconds (about 10 s on one core).
DEMO_AUTOENCODER = dict(
    n_components=100, loss="cross_entropy", corruption="masking:0.25", sparsity_weight=3.0,
    sparsity_target=0.05, sparsity_estimate="full", weight_decay=1e-3, learning_rate=3e-3,
    batch_size=64, max_epochs=200,
)


def autoencoder_step(ctx: DemoContext) -> None:
    """A denoising sparse autoencoder on the digits, with its figures and a linear probe of its codes."""
    from sklearn.linear_model import LogisticRegression

    from aekit.autoencoders import Autoencoder
    from aekit.cli._train import summarize_autoencoder, untrained_control

    started = time.perf_counter()
    X, y = ctx.data.X, ctx.data.y
    estimator = Autoencoder(**DEMO_AUTOENCODER, random_state=0, verbose=not ctx.quiet).fit(X)
    train_seconds = time.perf_counter() - started
    metrics, figures = summarize_autoencoder(estimator, X, ctx.data.image_shape, seed=0)
    # linear probe: logistic regression on the first 2/3 of the digits, scored on the rest; on the codes,
    # on the codes of the untrained control, and on the raw pixels (on the digits the three are close:
    # what training buys here is the reconstruction and the sparsity, not linear separability)
    n_fit = 2 * len(X) // 3

    def probe(Z) -> float:
        return float(LogisticRegression(max_iter=2000).fit(Z[:n_fit], y[:n_fit]).score(Z[n_fit:], y[n_fit:]))

    metrics.update(train_seconds=round(train_seconds, 3), n_samples=int(len(X)),
                   sparsity_target=estimator.sparsity_target,
                   linear_probe_accuracy=probe(estimator.transform(X)),
                   untrained_linear_probe_accuracy=probe(untrained_control(estimator, X).transform(X)),
                   raw_pixels_linear_probe_accuracy=probe(X))
    run_dir = ctx.out / "autoencoder"
    write_run(run_dir, command="demo", dataset=ctx.data.name, estimator=estimator, metrics=metrics,
              figures=figures, history=estimator.history_, started=started, report=False)
    _record(ctx, "autoencoder", run_dir, metrics, estimator)


def activation_maximization_step(ctx: DemoContext) -> None:
    """Activation maximization of every code unit of the demo's autoencoder (5 random starts each)."""
    import numpy as np
    import torch

    from aekit import viz
    from aekit.inspection import activation_maximization, preferred_inputs

    started = time.perf_counter()
    model = ctx.models["autoencoder"]
    W, b = torch.from_numpy(model.filters_), torch.from_numpy(model.filter_biases_)
    # The code's pre-activation: the same maximizer as the sigmoid (increasing) without its saturation.
    rho = float(np.linalg.norm(ctx.data.X, axis=1).mean())  # the digits' mean norm
    result = activation_maximization(
        lambda x: torch.nn.functional.linear(x, W, b), W.shape[1], n_starts=5, norm=rho, random_state=0
    )
    closed = preferred_inputs(W.cpu().numpy(), norm=rho)  # x_j = rho * w_ij / ||w_i||
    best = result.best_inputs
    agreement = np.sum(best * closed, axis=1) / (np.linalg.norm(best, axis=1) * np.linalg.norm(closed, axis=1))
    cosine = result.mean_cosine
    metrics = {
        "units": int(len(result.units)),
        "starts": int(result.inputs.shape[1]),
        "norm": rho,
        "mean_pairwise_cosine_min": float(cosine.min()),
        "mean_pairwise_cosine_median": float(np.median(cosine)),
        "fraction_units_cosine_at_least_0.9": float(np.mean(cosine >= 0.9)),
        "cosine_to_closed_form_min": float(agreement.min()),
        "converged_fraction": float(result.converged.mean()),
        "seconds": round(time.perf_counter() - started, 3),
    }
    shape = ctx.data.image_shape
    figures = {
        "activation_maximization": viz.plot_activation_maximization(result, shape),
        "activation_maximization_starts": viz.plot_activation_maximization(
            result, shape, n=10, starts="all", title="five random starts per unit (first 10 units)"
        ),
        "preferred_inputs_closed_form": viz.plot_filters(closed, shape, title="closed form w_i / ||w_i||"),
    }
    run_dir = ctx.out / "activation_maximization"
    # the model is the sibling run folder, named relative to this one (no path of this machine)
    model = Path(os.path.relpath(ctx.runs["autoencoder"], run_dir)).as_posix()
    write_run(run_dir, command="demo", dataset=ctx.data.name, metrics=metrics, figures=figures,
              extra={"kind": "activation maximization", "model": model}, started=started, report=False)
    _record(ctx, "activation_maximization", run_dir, metrics, None)


def _record(ctx: DemoContext, name: str, run_dir: Path, metrics: dict, model) -> None:
    ctx.runs[name], ctx.metrics[name], ctx.models[name] = run_dir, metrics, model


DEMO_STEPS: list[DemoStep] = [
    DemoStep("pca", "PCA: scree plot, eigen-images, reconstructions", pca_step),
    DemoStep("autoencoder", "denoising sparse autoencoder: filters, reconstructions, curves", autoencoder_step),
    DemoStep("activation_maximization", "activation maximization of the code units", activation_maximization_step),
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
    from aekit.viz import write_report

    from aekit.viz.explorer import write_explorer

    report_path = write_report(list(ctx.runs.values()), out / "report.html", title="aekit demo on the digits")
    with_models = [ctx.runs[name] for name, model in ctx.models.items() if model is not None]
    explorer_path = write_explorer(with_models, out / "explorer.html", title="aekit demo on the digits: explorer")
    typer.echo(f"demo folder: {out}")
    typer.echo(f"report: {report_path}")
    typer.echo(f"explorer: {explorer_path}")

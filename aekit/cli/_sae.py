"""``aekit sae train DATA --out RUN_DIR``, ``aekit sae eval RUN_DIR DATA``, ``aekit sae inspect RUN_DIR STORE``:
sparse autoencoders of activations.

``DATA`` is an array file (``.npy``, rows of activations, memory-mapped) or
an activation store folder (written by ``aekit harvest``), streamed out of
core. ``train`` fits a :class:`~aekit.autoencoders.SparseDictionary` and
writes a run folder (model, metrics, history; ``--saelens`` also exports
SAELens's format to ``RUN_DIR/saelens``); checkpoints go to
``RUN_DIR/checkpoint`` and ``--resume`` continues from them. ``eval``
measures a run's model on the first rows of ``DATA``. ``inspect`` writes the
page of the model's latents (``RUN_DIR/latents.html``: top-activating
contexts or images, activation histograms, firing frequencies, promoted
tokens) and keeps its data in ``RUN_DIR/latents/`` for ``aekit explore``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from aekit.cli._app import app
from aekit.cli._run import default_run_dir, fail, write_run

__all__ = ["open_activations", "sae_metrics", "sae_app"]

sae_app = typer.Typer(help="Sparse autoencoders of network activations: train, evaluate, inspect.", no_args_is_help=True)
app.add_typer(sae_app, name="sae")


def open_activations(path: Path):
    """Activations at ``path``: a ``.npy`` array (memory-mapped) or an activation store folder.

    A folder opens through :class:`aekit.harvest.StoreBatches` (a
    :class:`~aekit.training.BatchSource` that streams the store). Raises
    ``ValueError`` with the fix for anything else.
    """
    path = Path(path)
    if path.is_dir():
        try:
            from aekit.harvest import StoreBatches
        except ImportError:
            raise ValueError(f"{path} is a folder, but this aekit has no activation stores (aekit.harvest).") from None
        return StoreBatches(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist; pass a .npy file of activations or an activation store folder.")
    if path.suffix != ".npy":
        raise ValueError(f"{path}: use a .npy file (rows of activations) or an activation store folder.")
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    if X.ndim != 2 or X.dtype.kind != "f":
        raise ValueError(f"{path} holds a {X.dtype} array of shape {X.shape}; activations are a 2-D float array.")
    return X


def _first_rows(data, rows: int | None) -> np.ndarray:
    """The first ``rows`` rows (all with None) of an array or a BatchSource, as float32."""
    if isinstance(data, np.ndarray):
        return np.asarray(data[:rows], dtype=np.float32)
    parts = [xb.detach().float().cpu().numpy() for (xb, *_rest) in data.chunks(8192, rows)]
    return np.concatenate(parts)


def sae_metrics(model, X: np.ndarray) -> dict:
    """The sparse-autoencoder metrics of a fitted :class:`SparseDictionary` on rows ``X``."""
    from aekit import metrics as M

    dense = model.sparse_output
    model.sparse_output = True  # CSR codes: (rows, m) dense codes would not fit for large m
    try:
        H = model.transform(X)
    finally:
        model.sparse_output = dense
    X_hat = model.inverse_transform(H)
    counts, edges, n_dead = M.feature_density_histogram(H)
    return {
        "rows": int(X.shape[0]),
        "explained_variance": M.explained_variance(X, X_hat),
        "fvu": M.fraction_of_variance_unexplained(X, X_hat),
        "mse": M.mse(X, X_hat),
        "cosine": M.reconstruction_cosine(X, X_hat),
        "l0": M.l0(H),
        "dead_fraction": n_dead / H.shape[1],
        "dense_fraction": float(M.dense_latents(H).mean()),
        "density_histogram": {"log10_frequency_edges": edges.tolist(), "counts": counts.tolist(), "dead": n_dead},
    }


@sae_app.command("train")
def train(
    data: Path = typer.Argument(..., metavar="DATA", help="A .npy array of activations or an activation store folder."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/sae-<time>)."),
    architecture: str = typer.Option("topk", "--architecture", "-a", help="topk | batchtopk | relu | jumprelu | matryoshka"),
    latents: Optional[int] = typer.Option(None, "--latents", "-m", help="Dictionary size (default 8 x d)."),
    k: int = typer.Option(32, "--k", help="Active latents per row (topk, batchtopk, matryoshka)."),
    sparsity: Optional[float] = typer.Option(None, "--sparsity", help="L1 (relu) or L0 (jumprelu) coefficient."),
    epochs: int = typer.Option(1, "--epochs"),
    batch_size: int = typer.Option(4096, "--batch-size"),
    lr: float = typer.Option(4e-4, "--lr", help="Learning rate."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", help="constant, linear, cosine, ... (per step)."),
    warmup: int = typer.Option(100, "--warmup", help="Learning-rate warm-up steps."),
    dead_tokens: int = typer.Option(10_000_000, "--dead-tokens", help="Rows without firing before a latent is dead."),
    precision: str = typer.Option("auto", "--precision", help="float32 | bfloat16 | auto"),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Also checkpoint every N steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint."),
    saelens: bool = typer.Option(False, "--saelens", help="Also export SAELens's format to RUN_DIR/saelens."),
    device: str = typer.Option("cpu", "--device"),
    seed: int = typer.Option(0, "--seed", help="random_state."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a sparse autoencoder on activations; write the model, its metrics and history."""
    from aekit.autoencoders import SparseDictionary, export_saelens

    started = time.perf_counter()
    out = out if out is not None else default_run_dir("sae")
    try:
        source = open_activations(data)
        est = SparseDictionary(
            latents, architecture=architecture, k=k, sparsity_coefficient=sparsity, max_epochs=epochs,
            batch_size=batch_size, learning_rate=lr, lr_schedule=lr_schedule, warmup_steps=warmup,
            dead_tokens=dead_tokens, precision=precision, checkpoint_dir=str(out / "checkpoint"),
            checkpoint_every=checkpoint_every, resume=resume, device=device, random_state=seed, verbose=not quiet,
        )
        t0 = time.perf_counter()
        est.fit(source)
        seconds = time.perf_counter() - t0
    except (ValueError, TypeError, FloatingPointError) as exc:
        fail(str(exc))
    rows = len(source)
    metrics = {"train_seconds": round(seconds, 3), "train_rows": rows * est.n_iter_,
               "tokens_per_second": round(rows * est.n_iter_ / seconds, 1), **est.history_[-1]}
    write_run(out, command=f"sae train {architecture}", dataset=str(data), estimator=est, metrics=metrics,
              history=est.history_, started=started, report=False)
    if saelens:
        typer.echo(f"saelens: {export_saelens(est, out / 'saelens')}")
    typer.echo(f"run: {out}")


@sae_app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="Run folder of `aekit sae train`."),
    data: Path = typer.Argument(..., metavar="DATA", help="A .npy array of activations or an activation store folder."),
    rows: int = typer.Option(100_000, "--rows", help="Evaluate on the first N rows."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSON file (default RUN_DIR/eval-sae.json)."),
) -> None:
    """Explained variance, FVU, MSE, cosine, L0, dead and dense latents of a run's model on DATA."""
    from aekit import io as aio
    from aekit.autoencoders import SparseDictionary

    if rows < 1:
        fail(f"--rows must be a positive integer, got {rows}.")
    try:
        model = aio.load(run_dir / "model")
        if not isinstance(model, SparseDictionary):
            fail(f"{run_dir} holds a {type(model).__name__}, not a SparseDictionary; use `aekit eval` for it.")
        X = _first_rows(open_activations(data), rows)
        if X.shape[1] != model.n_features_in_:
            fail(f"the model takes {model.n_features_in_} features but {data} has {X.shape[1]}; "
                 "evaluate it on activations of the layer it was trained on.")
        metrics = sae_metrics(model, X)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    path = aio.atomic_write_json(out if out is not None else run_dir / "eval-sae.json", metrics)
    for key, value in metrics.items():
        if not isinstance(value, dict):
            typer.echo(f"{key:<20}  {value:.6g}" if isinstance(value, float) else f"{key:<20}  {value}")
    typer.echo(f"written: {path}")


@sae_app.command("inspect")
def inspect(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="Run folder of `aekit sae train`."),
    data: Path = typer.Argument(..., metavar="STORE", help="The activation store (or .npy array) to inspect on."),
    latents: int = typer.Option(20, "--latents", "-n", help="Latents to show, spread over firing frequency."),
    latent: Optional[List[int]] = typer.Option(None, "--latent", help="Show this latent (repeatable) instead."),
    top: int = typer.Option(12, "--top", help="Top-activating contexts (or images) per latent."),
    before: int = typer.Option(16, "--before", help="Tokens of context before the activating one."),
    after: int = typer.Option(4, "--after", help="Tokens of context after it."),
    rows: Optional[int] = typer.Option(None, "--rows", help="Inspect only the first N rows (default: all)."),
    images: Optional[str] = typer.Option(None, "--images", help="For activations of images: the dataset they came "
                                         "from (digits, mnist, a file), to show the top-activating images."),
    data_home: Optional[Path] = typer.Option(None, "--data-home", help="Dataset cache root (MNIST)."),
    device: str = typer.Option("cpu", "--device", help="Where the sparse autoencoder and the language model run."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file (default RUN_DIR/latents.html)."),
    title: Optional[str] = typer.Option(None, "--title", help="Page title."),
    save: bool = typer.Option(True, "--save/--no-save", help="Keep the report in RUN_DIR/latents/ "
                              "(`aekit explore RUN_DIR` shows it)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar of the pass over the rows."),
) -> None:
    """Write a page of a sparse autoencoder's latents: top contexts or images, histograms, promoted tokens."""
    from aekit import io as aio
    from aekit.autoencoders import SparseDictionary
    from aekit.harvest import StoreError
    from aekit.inspection import inspect_latents, inspect_store
    from aekit.viz import write_latent_report
    from aekit.viz.explorer import save_latent_report

    if latents < 1 or top < 1 or before < 0 or after < 0 or (rows is not None and rows < 1):
        fail("--latents, --top and --rows must be positive, --before and --after >= 0.")
    try:
        model = aio.load(run_dir / "model", device=device)
        if not isinstance(model, SparseDictionary):
            fail(f"{run_dir} holds a {type(model).__name__}, not a SparseDictionary; `aekit sae inspect` shows the "
                 "latents of runs of `aekit sae train`.")
        pictures = _images(images, data_home)
        options = dict(n_latents=latents, latents=latent or None, n_top=top, before=before, after=after,
                       max_rows=rows, images=pictures, progress=progress)
        if data.is_dir():
            report = inspect_store(model, data, device=device, **options)
        else:
            report = inspect_latents(model, open_activations(data), **options)
    except (FileNotFoundError, ValueError, TypeError, StoreError, ModuleNotFoundError) as exc:
        fail(str(exc))
    if save:
        save_latent_report(report, run_dir)
    path = write_latent_report(report, out if out is not None else run_dir / "latents.html", title=title)
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"{path}  ({len(report.latents)} latents over {report.n_rows} rows)")


def _images(name: Optional[str], data_home: Optional[Path]):
    """The images of dataset ``name`` as (n, *image_shape), or None."""
    if name is None:
        return None
    from aekit.datasets import get_dataset

    data = get_dataset(name, **({} if data_home is None else {"data_home": data_home}))
    if data.image_shape is None:
        raise ValueError(f"dataset {name!r} is not images (it has no image shape); --images takes an image dataset.")
    return data.X.reshape((data.X.shape[0],) + tuple(data.image_shape))

"""``aekit eval RUN_DIR --dataset NAME [--out FILE]``: every applicable metric of a run's model, as JSON.

Loads ``RUN_DIR/model`` (:func:`aekit.io.load`), loads the dataset, computes
the metrics of :func:`aekit.metrics.evaluate` (which documents what applies
to which model and the probes' train/test split), writes them atomically as
JSON (default ``RUN_DIR/eval-<dataset>.json``) and prints them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail

__all__ = ["eval_run", "default_eval_path"]


def default_eval_path(run_dir: Path, dataset: str) -> Path:
    """``RUN_DIR/eval-<dataset>.json`` (the dataset name reduced to a safe file name)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(dataset).name or dataset).strip("._") or "dataset"
    return run_dir / f"eval-{stem}.json"


@app.command("eval")
def eval_run(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="Run folder with a saved model (RUN_DIR/model)."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset name (see `aekit datasets`) or a file path."),
    data_home: Optional[Path] = typer.Option(None, "--data-home", help="Dataset cache root (MNIST)."),
    n_samples: Optional[int] = typer.Option(None, "--n-samples", help="Evaluate on the first N samples only."),
    seed: int = typer.Option(0, "--seed", help="Seeds the probes' train/test split and the corruption."),
    device: Optional[str] = typer.Option(None, "--device", help="Load the model on this device (default: as saved)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSON file (default RUN_DIR/eval-DATASET.json)."),
) -> None:
    """Compute the metrics that apply to the run's model on a dataset; write them as JSON and print them."""
    from aekit import io as aio
    from aekit.datasets import get_dataset
    from aekit.metrics import evaluate

    started = time.perf_counter()
    model_dir = run_dir / "model"
    if not (model_dir / "config.json").exists():
        fail(f"{run_dir} has no saved model ({model_dir}/config.json is missing); pass a run folder of `aekit train`/`aekit fit`.")
    if n_samples is not None and n_samples < 1:
        fail(f"--n-samples must be a positive integer, got {n_samples}.")
    try:
        model = aio.load(model_dir, device=device)
        data = get_dataset(dataset, **({} if data_home is None else {"data_home": data_home}))
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        fail(str(exc))
    X, y = data.X, data.y
    if n_samples is not None:
        X, y = X[:n_samples], None if y is None else y[:n_samples]
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and X.shape[1] != expected:
        fail(f"the model takes {expected} features but dataset {dataset!r} has {X.shape[1]}; evaluate it on data like its training data.")
    try:
        metrics = evaluate(model, X, y, random_state=seed)
    except ValueError as exc:
        fail(str(exc))
    metrics.update(dataset=dataset, model=type(model).__name__, seconds=round(time.perf_counter() - started, 3))
    path = aio.atomic_write_json(out if out is not None else default_eval_path(run_dir, dataset), metrics)
    width = max(len(k) for k in metrics)
    for key in sorted(metrics):
        value = metrics[key]
        typer.echo(f"{key:<{width}}  {value:.6g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    typer.echo(f"written: {path}")

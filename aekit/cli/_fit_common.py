"""What every ``aekit fit METHOD`` command shares: options, progress, loading, fitting, the run folder.

:func:`run_fit` is a whole command after its options are parsed: load the
dataset, fit the estimator, summarise it (``summarize(estimator, X, data) ->
(metrics, figures)``), write the run folder (model, metrics, figures, report)
and print where it is. A :class:`StepError` (or a ValueError from the data,
the fit or the summary) ends the command with its message and no traceback.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Optional

import typer

from aekit.cli._run import default_run_dir, fail, write_run

__all__ = [
    "StepError", "steps", "run_fit",
    "DATASET", "MANIFOLD_DATASET", "DATA_HOME", "N_SAMPLES", "DEVICE", "QUIET", "OUT", "SEED",
]


class StepError(Exception):
    """A user-facing failure inside :func:`steps`: reported once the progress bar is gone."""


@contextlib.contextmanager
def steps(names: list[str], *, quiet: bool):
    """A progress bar over the named stages of a command; yields ``advance(name)``.

    A :class:`StepError` raised inside closes the bar, then exits with its
    message (no traceback).
    """
    from tqdm.auto import tqdm

    bar = None if quiet else tqdm(total=len(names), unit="step", leave=False)
    done = -1

    def advance(name: str) -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.update(done - bar.n)
            bar.set_description_str(name)

    try:
        yield advance
    except StepError as exc:
        if bar is not None:
            bar.close()
            bar = None
        fail(str(exc))
    finally:
        if bar is not None:
            bar.update(len(names) - bar.n)
            bar.close()


def _load(dataset: str, data_home: Optional[Path], n_samples: Optional[int]):
    from aekit.datasets import get_dataset

    try:
        data = get_dataset(dataset, **({} if data_home is None else {"data_home": data_home}))
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        raise StepError(str(exc)) from None
    if n_samples is not None and n_samples < 1:
        raise StepError(f"--n-samples must be >= 1, got {n_samples}.")
    X = data.X if n_samples is None else data.X[:n_samples]
    return data, X


def _fit(estimator, X):
    t0 = time.perf_counter()
    try:
        estimator.fit(X)
    except (ValueError, TypeError) as exc:
        raise StepError(str(exc)) from None
    return time.perf_counter() - t0


_DATASET_HELP = "Dataset name (see `aekit datasets`) or a file path."
DATASET = typer.Option("digits", "--dataset", help=_DATASET_HELP)
MANIFOLD_DATASET = typer.Option("swiss-roll", "--dataset", help=_DATASET_HELP)  # the manifold commands' default
DATA_HOME = typer.Option(None, "--data-home", help="Dataset cache root (MNIST).")
N_SAMPLES = typer.Option(None, "--n-samples", help="Fit on the first N samples only.")
DEVICE = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
OUT = typer.Option(None, "--out", "-o", help="Run folder (default runs/fit-METHOD-<time>).")
SEED = typer.Option(0, "--seed", help="random_state.")


def _finish(out, method, dataset, estimator, metrics, figures, fit_seconds, X, started) -> None:
    """Add the fit's size and time to ``metrics``, write the run folder, print where it is."""
    metrics.update(fit_seconds=round(fit_seconds, 4), n_samples=int(X.shape[0]), n_features=int(X.shape[1]))
    write_run(out, command=f"fit {method}", dataset=dataset, estimator=estimator, metrics=metrics,
              figures=figures, started=started)
    typer.echo(f"run folder: {out}")


def run_fit(method: str, estimator, summarize, *, dataset, data_home, n_samples, quiet, out) -> None:
    """Load, fit, summarise (``summarize(estimator, X, data) -> (metrics, figures)``), write the run folder."""
    started = time.perf_counter()
    out = out if out is not None else default_run_dir(f"fit-{method}")
    name = type(estimator).__name__
    with steps(["loading data", f"fitting {name}", "measuring and drawing", "writing run folder"], quiet=quiet) as step:
        step("loading data")
        data, X = _load(dataset, data_home, n_samples)
        step(f"fitting {name}")
        seconds = _fit(estimator, X)
        step("measuring and drawing")
        try:
            metrics, figures = summarize(estimator, X, data)
        except ValueError as exc:  # e.g. too few samples for a metric
            raise StepError(str(exc)) from None
        step("writing run folder")
        _finish(out, method, dataset, estimator, metrics, figures, seconds, X, started)

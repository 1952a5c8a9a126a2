"""What every command that fits an estimator shares (``aekit fit METHOD``, ``aekit train MODEL``).

:func:`run_fit` is a whole command after its options are parsed: load the
dataset, fit the estimator, summarise it (``summarize(estimator, X, data) ->
(metrics, figures)``), write the run folder (model, metrics, figures, report)
and print where it is. A :class:`StepError` (or a ValueError from the data,
the fit or the summary) ends the command with its message and no traceback.

:func:`fit_command` registers an ``aekit fit`` command from a function that
takes the method's own options and returns the estimator and its summary: the
options every fit command has (dataset, data home, sample count, quiet, run
folder) are added to it here, once.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from pathlib import Path
from typing import Optional

import typer

from aekit.cli._app import fit_app
from aekit.cli._run import default_run_dir, fail, write_run

__all__ = [
    "StepError", "steps", "run_fit", "fit_command",
    "DATASET", "DATA_HOME", "N_SAMPLES", "DEVICE", "QUIET", "OUT", "SEED",
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
    except (ValueError, TypeError, FloatingPointError) as exc:
        raise StepError(str(exc)) from None
    return time.perf_counter() - t0


DATASET = typer.Option("digits", "--dataset", help="Dataset name (see `aekit datasets`) or a file path.")
DATA_HOME = typer.Option(None, "--data-home", help="Dataset cache root (MNIST).")
N_SAMPLES = typer.Option(None, "--n-samples", help="Fit on the first N samples only.")
DEVICE = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
OUT = typer.Option(None, "--out", "-o", help="Run folder (default runs/COMMAND-NAME-<time>, e.g. runs/fit-pca-...).")
SEED = typer.Option(0, "--seed", help="random_state.")


def run_fit(command: str, estimator, summarize, *, dataset, data_home, n_samples, quiet, out,
            history: bool = False, step_bar: bool = True) -> None:
    """Load, fit, summarise (``summarize(estimator, X, data) -> (metrics, figures)``), write the run folder.

    ``command`` is the run's command line head (``"fit pca"``, ``"train sparse"``): it names the
    default run folder (``runs/fit-pca-<time>``) and the timing metric (``fit_seconds``,
    ``train_seconds``), which joins ``n_samples`` and ``n_features`` in the metrics. With
    ``history`` the estimator's per-epoch ``history_`` is written too. ``step_bar=False`` leaves the
    progress display to the estimator (the trainer draws its own bar).
    """
    started = time.perf_counter()
    out = out if out is not None else default_run_dir(command.replace(" ", "-"))
    name = type(estimator).__name__
    stages = ["loading data", f"fitting {name}", "measuring and drawing", "writing run folder"]
    with steps(stages, quiet=quiet or not step_bar) as step:
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
        verb = command.split()[0]
        metrics.update({f"{verb}_seconds": round(seconds, 4), "n_samples": int(X.shape[0]),
                        "n_features": int(X.shape[1])})
        write_run(out, command=command, dataset=dataset, estimator=estimator, metrics=metrics, figures=figures,
                  history=estimator.history_ if history else None, started=started)
    typer.echo(f"run folder: {out}")


def fit_command(name: str, *, dataset: str = "digits"):
    """Register ``build`` as the command ``aekit fit NAME``; ``build(**options) -> (estimator, summarize)``.

    The command takes ``build``'s own options (typer options as defaults, in
    its order) between the ones every fit command shares: ``--dataset``
    (default ``dataset``), ``--data-home`` and ``--n-samples`` before them,
    ``--quiet`` and ``--out`` after. It builds the estimator from its options
    and hands it to :func:`run_fit`; ``build``'s docstring is the command's help.
    """
    first = [
        inspect.Parameter("dataset", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                          default=typer.Option(dataset, "--dataset", help=DATASET.help)),
        inspect.Parameter("data_home", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path], default=DATA_HOME),
        inspect.Parameter("n_samples", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[int], default=N_SAMPLES),
    ]
    last = [
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, annotation=bool, default=QUIET),
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path], default=OUT),
    ]
    shared = [p.name for p in first + last]

    def register(build):
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(build, eval_str=True).parameters.values()]

        def command(**options) -> None:
            run = {key: options.pop(key) for key in shared}
            estimator, summarize = build(**options)
            run_fit(f"fit {name}", estimator, summarize, **run)

        command.__signature__ = inspect.Signature(first + own + last)
        command.__doc__ = build.__doc__
        command.__name__ = command.__qualname__ = build.__name__
        command.__module__ = build.__module__
        fit_app.command(name)(command)
        return build

    return register

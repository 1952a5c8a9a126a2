"""Run folders: what every ``fit`` / ``train`` command writes, in one layout.

::

    RUN_DIR/
      run.json        command, dataset, estimator class and parameters, timings
      metrics.json    numbers measured after fitting
      history.csv     per-epoch metrics (iterative estimators only)
      history.json
      model/          the fitted estimator (aekit.io: safetensors + JSON)
      figures/*.png   figures from aekit.viz
      report.html     self-contained report of the run

Writes are atomic, file by file; a run folder is complete once ``run.json`` exists.
The commands that read run folders and write one page over them (``aekit report``,
``aekit explore``) share their arguments and default paths here.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import typer

from aekit import io as aio

__all__ = ["default_run_dir", "write_history", "write_run", "fail", "RUN_DIRS", "TITLE", "page_option", "page_path"]


def default_run_dir(kind: str) -> Path:
    """``runs/<kind>-<UTC timestamp>`` under the current folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{stamp}"


def write_history(run_dir, history: list[dict]) -> None:
    """Per-epoch metrics as CSV (one row per epoch, union of keys) and JSON."""
    from aekit.training import write_history as write

    write(run_dir, history)


def write_run(
    run_dir,
    *,
    command: str,
    dataset: str,
    estimator=None,
    metrics: dict | None = None,
    figures: dict | None = None,
    history: list[dict] | None = None,
    extra: dict | None = None,
    started: float | None = None,
    report: bool = True,
) -> Path:
    """Write a complete run folder; ``figures`` maps a file stem to a matplotlib figure.

    With ``report`` (default) the folder's ``report.html`` is written last and
    its path printed.
    """
    run_dir = Path(run_dir)
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    if estimator is not None:
        aio.save(estimator, run_dir / "model")
    if figures:
        from aekit.viz import save_figure

        for stem, fig in figures.items():
            save_figure(fig, run_dir / "figures" / f"{stem}.png")
    if history:
        write_history(run_dir, history)
    aio.atomic_write_json(run_dir / "metrics.json", metrics or {})
    info = {
        "command": command,
        "dataset": dataset,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "estimator": None if estimator is None else type(estimator).__name__,
        "params": None if estimator is None else estimator.get_params(deep=False),
        "seconds": None if started is None else round(time.perf_counter() - started, 3),
    }
    if extra:
        info.update(extra)
    aio.atomic_write_json(run_dir / "run.json", info)
    if report:
        from aekit.viz import write_report

        typer.echo(f"report: {write_report([run_dir], run_dir / 'report.html')}")
    return run_dir


def fail(message: str) -> None:
    """Print ``message`` as an error and exit with status 2 (no traceback)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


# ---------------------------------------------------------------- pages over run folders
RUN_DIRS = typer.Argument(
    ..., metavar="RUN_DIR", help="Run folders written by `aekit fit` / `aekit train` / `aekit demo`."
)
TITLE = typer.Option(None, help="Page title.")


def page_option(name: str):
    """The ``--out`` option of a command that writes the page ``name`` (e.g. report.html) over run folders."""
    return typer.Option(
        None, "--out", "-o", help=f"HTML file to write (default: RUN_DIR/{name}, or ./{name} for several runs)."
    )


def page_path(out: Path | None, run_dirs: list[Path], name: str) -> Path:
    """``out`` if given, else ``RUN_DIR/<name>`` for one run and ``<name>`` in the current folder for several."""
    if out is not None:
        return out
    return run_dirs[0] / name if len(run_dirs) == 1 else Path(name)

"""``aekit report RUN_DIR [RUN_DIR ...] [--out PATH]``: one HTML page for one or more runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail


def default_report_path(run_dirs: list[Path]) -> Path:
    """``RUN_DIR/report.html`` for one run; ``report.html`` in the current folder for several."""
    return run_dirs[0] / "report.html" if len(run_dirs) == 1 else Path("report.html")


@app.command("report")
def report(
    run_dirs: List[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run folders written by `aekit fit` / `aekit train`."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="HTML file to write (default: RUN_DIR/report.html, or ./report.html for several runs)."
    ),
    title: Optional[str] = typer.Option(None, help="Page title."),
) -> None:
    """Write a self-contained HTML report (each run: figures, metrics, configuration; runs of one kind compared) and print its path."""
    from aekit.viz import write_report

    path = out if out is not None else default_report_path(run_dirs)
    try:
        path = write_report(run_dirs, path, title=title)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(str(path))

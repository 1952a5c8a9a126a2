"""``aekit report RUN_DIR [RUN_DIR ...] [--out PATH]``: one HTML page for one or more runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import RUN_DIRS, TITLE, fail, page_option, page_path


@app.command("report")
def report(
    run_dirs: List[Path] = RUN_DIRS,
    out: Optional[Path] = page_option("report.html"),
    title: Optional[str] = TITLE,
) -> None:
    """Write a self-contained HTML report (each run: figures, metrics, configuration; runs of one kind compared) and print its path."""
    from aekit.viz import write_report

    try:
        path = write_report(run_dirs, page_path(out, run_dirs, "report.html"), title=title)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(str(path))

"""``aekit explore RUN_DIR [RUN_DIR ...] [--out PAGE]``: the interactive explorer page of runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail

# aekit.viz.explorer's DEFAULT_MAX_MB and DEFAULT_MAX_POINTS, repeated so that the command line
# starts without importing aekit.viz (matplotlib); a test holds them equal
MAX_MB, MAX_POINTS = 32.0, 10_000


def default_explorer_path(run_dirs: list[Path]) -> Path:
    """``RUN_DIR/explorer.html`` for one run; ``explorer.html`` in the current folder for several."""
    return run_dirs[0] / "explorer.html" if len(run_dirs) == 1 else Path("explorer.html")


@app.command("explore")
def explore(
    run_dirs: List[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run folders written by `aekit fit` / `aekit train` / `aekit demo`."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="HTML file to write (default: RUN_DIR/explorer.html, or ./explorer.html for several runs)."
    ),
    title: Optional[str] = typer.Option(None, help="Page title."),
    float16: bool = typer.Option(False, "--float16", help="Store weights, codebooks and points as float16 (about half the size)."),
    max_mb: float = typer.Option(MAX_MB, "--max-mb", help="Refuse to write a page larger than this (MB = 10^6 bytes)."),
    max_points: int = typer.Option(MAX_POINTS, "--max-points", help="Most points per scatter plot (a random subset above it)."),
    data_home: Optional[Path] = typer.Option(None, "--data-home", help="Dataset cache root, to reload the runs' data (MNIST)."),
) -> None:
    """Write one offline HTML page to play with the runs' models (draw, reconstruct, browse); print its path."""
    from aekit.viz.explorer import write_explorer

    path = out if out is not None else default_explorer_path(run_dirs)
    try:
        path = write_explorer(run_dirs, path, title=title, float16=float16, max_mb=max_mb, max_points=max_points,
                              data_home=data_home)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")

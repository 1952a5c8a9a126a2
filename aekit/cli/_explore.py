"""``aekit explore RUN_DIR [RUN_DIR ...] [--out PAGE]``: the interactive explorer page of runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import RUN_DIRS, TITLE, fail, page_option, page_path

# aekit.viz.explorer's DEFAULT_MAX_MB and DEFAULT_MAX_POINTS, repeated so that the command line
# starts without importing aekit.viz (matplotlib); a test holds them equal
MAX_MB, MAX_POINTS = 32.0, 10_000


@app.command("explore")
def explore(
    run_dirs: List[Path] = RUN_DIRS,
    out: Optional[Path] = page_option("explorer.html"),
    title: Optional[str] = TITLE,
    float16: bool = typer.Option(False, "--float16", help="Store weights, codebooks and points as float16 (about half the size)."),
    max_mb: float = typer.Option(MAX_MB, "--max-mb", help="Refuse to write a page larger than this (MB = 10^6 bytes)."),
    max_points: int = typer.Option(MAX_POINTS, "--max-points", help="Most points per scatter plot (a random subset above it)."),
    data_home: Optional[Path] = typer.Option(None, "--data-home", help="Dataset cache root, to reload the runs' data (MNIST)."),
) -> None:
    """Write one offline HTML page to play with the runs' models (draw, reconstruct, browse); print its path."""
    from aekit.viz.explorer import write_explorer

    try:
        path = write_explorer(run_dirs, page_path(out, run_dirs, "explorer.html"), title=title, float16=float16,
                              max_mb=max_mb, max_points=max_points, data_home=data_home)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")

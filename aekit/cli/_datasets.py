"""``aekit datasets``: what exists, which datasets work offline, and what is cached where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail


def format_table(rows: list[dict], data_home: Path) -> str:
    """The listing as aligned plain-text columns."""
    header = ("NAME", "OFFLINE", "CACHED", "LOCATION", "DESCRIPTION")
    table = [header] + [
        (
            r["name"],
            "yes" if r["offline"] else "no",
            "-" if r["location"] is None else ("yes" if r["cached"] else "no"),
            r["location"] or "(built in)",
            r["description"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in table]
    lines.append("")
    lines.append(f"data home: {data_home}  (set with --data-home or the AEKIT_DATA environment variable)")
    lines.append("user data: pass the path of a .npy, .npz or .csv file or of a folder of images as the dataset name")
    from aekit.datasets import text_source_names

    lines.append(f"text for `aekit harvest --text`: {', '.join(text_source_names())}, or a path of text files")
    return "\n".join(lines)


@app.command("datasets")
def datasets(
    data_home: Optional[Path] = typer.Option(
        None, "--data-home", help="Cache root (default: $AEKIT_DATA, else ~/.cache/aekit)."
    ),
    download: List[str] = typer.Option(
        [], "--download", metavar="NAME", help="Fetch a downloadable dataset into the cache (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the listing as JSON."),
) -> None:
    """List the datasets: name, whether it works offline, whether and where it is cached."""
    from aekit.datasets import DownloadError, get_data_home, get_dataset, list_datasets

    rows = {r["name"]: r for r in list_datasets(data_home=data_home)}
    for name in download:
        if name not in rows:
            fail(f"Unknown dataset {name!r}: use one of {', '.join(map(repr, rows))}.")
        if rows[name]["offline"]:
            typer.echo(f"{name}: built in, nothing to download.", err=True)
            continue
        try:
            get_dataset(name, data_home=data_home)
        except (DownloadError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        typer.echo(f"{name}: cached in {rows[name]['location']}", err=True)
    rows = list_datasets(data_home=data_home)
    if as_json:
        from aekit.datasets import list_text_sources

        typer.echo(json.dumps({"data_home": str(get_data_home(data_home)), "datasets": rows,
                               "text_sources": list_text_sources()}, indent=2))
    else:
        typer.echo(format_table(rows, get_data_home(data_home)))

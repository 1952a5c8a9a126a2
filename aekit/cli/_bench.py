"""``aekit bench paper NAME [--budget fast|full|smoke] [--data-home DIR]``: reproduce a published result.

The recipes live in :mod:`aekit.bench` (one per paper); this command runs
one (or ``all``), prints its table (setting, published number, ours,
training time) and records it in a Markdown results file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail

__all__ = ["bench_app", "paper"]

bench_app = typer.Typer(help="Benchmarks: reproductions of published results.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

DEFAULT_RESULTS = Path("benchmarks") / "results" / "paper.md"


def _parse_seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        fail(f"--seeds takes distinct non-negative integers separated by commas (e.g. 0,1,2), got {text!r}.")
    return seeds


@bench_app.command("paper")
def paper(
    name: Optional[str] = typer.Argument(None, help="Recipe name (see --list) or 'all'."),
    list_recipes: bool = typer.Option(False, "--list", help="List the recipes and their budgets' expected durations."),
    budget: str = typer.Option("fast", "--budget", help="fast (<= 10 min per recipe and seed), full (the papers' schedules) or smoke."),
    data_home: Optional[Path] = typer.Option(
        None, "--data-home", help="Folder holding mnist/ (default: AEKIT_DATA or ~/.cache/aekit)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o",
        help=f"Markdown results file (default {DEFAULT_RESULTS} for fast/full; smoke writes none unless given).",
    ),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto."),
    precision: str = typer.Option("auto", "--precision", help="auto (bfloat16 where native), bfloat16 or float32."),
    seeds: Optional[str] = typer.Option(
        None, "--seeds", help="random_state of every estimator, one run per seed (default 0,1,2; smoke: 0)."
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch intra-op threads (default: torch's)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Progress bars."),
) -> None:
    """Run a paper recipe over seeds; print setting, published number, ours (mean and spread), time; record it."""
    from aekit.bench import (
        BUDGETS, RECIPES, Context, command_line, format_list, format_table, run_recipe, update_results_file,
    )

    if list_recipes:
        typer.echo(format_list())
        return
    if name is None:
        fail("Name a recipe (see `aekit bench paper --list`) or 'all'.")
    names = list(RECIPES) if name == "all" else [name]
    if names[0] not in RECIPES:
        fail(f"Unknown recipe {name!r}: use one of {', '.join(map(repr, RECIPES))}, or 'all' (see --list).")
    if budget not in BUDGETS:
        fail(f"Unknown budget {budget!r}: use one of {', '.join(map(repr, BUDGETS))}.")
    if precision not in ("auto", "bfloat16", "float32"):
        fail(f"Unknown precision {precision!r}: use 'auto', 'bfloat16' or 'float32'.")
    seed_list = _parse_seeds(seeds)
    import torch

    if threads is not None:
        if threads < 1:
            fail(f"--threads must be a positive integer, got {threads}.")
        torch.set_num_threads(threads)
    if out is None and budget != "smoke":
        out = DEFAULT_RESULTS
    command = command_line("aekit", sys.argv[1:])
    ctx = Context(budget, data_home, device, precision, 0, verbose)
    failed = False
    for recipe in names:
        typer.echo(f"== {recipe} (budget {budget})")
        try:
            result = run_recipe(recipe, budget, seeds=seed_list, context=ctx)
        except (FileNotFoundError, ValueError, OSError) as exc:
            fail(f"{recipe}: {exc}")
        typer.echo(format_table(result))
        if out is not None:
            typer.echo(f"written: {update_results_file(out, result, command)}")
        failed |= not all(ok for _, ok in result.checks)
    if failed:
        typer.secho("some targets were missed (FAIL lines above)", fg=typer.colors.YELLOW)

"""Benchmarks that ship with aekit: reproductions of published results (``aekit bench paper``).

- :data:`RECIPES`: one recipe per published result (name -> :class:`Recipe`).
- :func:`run_recipe`: run one on MNIST (or natural image patches) at a budget, once
  per seed; returns a :class:`PaperResult` (rows of setting, published number, ours, time).
- :func:`format_table`, :func:`update_results_file`: the printed table and
  the Markdown results file (one section per recipe and budget, replaced atomically).
"""

from aekit.bench._paper import (
    BUDGETS,
    DEFAULT_SEEDS,
    RECIPES,
    PaperResult,
    Recipe,
    Row,
    Target,
    format_list,
    format_table,
    load_splits,
    run_recipe,
    update_results_file,
)

__all__ = [
    "BUDGETS",
    "DEFAULT_SEEDS",
    "RECIPES",
    "Recipe",
    "Row",
    "Target",
    "format_list",
    "PaperResult",
    "load_splits",
    "run_recipe",
    "format_table",
    "update_results_file",
]

"""`aekit bench paper`: every recipe's plumbing at the smoke budget (digits standing in for MNIST)."""

import pytest
from typer.testing import CliRunner

from aekit.bench import BUDGETS, RECIPES, PaperResult, Row, format_table, run_recipe, update_results_file
from aekit.cli import app

runner = CliRunner()


def test_every_recipe_runs_and_writes_its_section(tmp_path):
    out = tmp_path / "paper.md"
    result = runner.invoke(app, ["bench", "paper", "all", "--budget", "smoke", "--threads", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for name in RECIPES:
        assert f"== {name} (budget smoke)" in result.output
        assert text.count(f"<!-- recipe: {name} budget: smoke -->") == 1
        assert text.count(f"<!-- end: {name} smoke -->") == 1
    assert "| setting | published | ours | training time |" in result.output
    for published in ("1.28%", "97.6%", "98.3%", "1.35%", "1.14%", "87.7%"):
        assert published in text
    assert "sklearn digits stand-in" in text and "commit:" in text and "machine:" in text
    assert "FAIL" not in result.output and "PASS" not in result.output  # the smoke budget checks no targets
    # a second run of one recipe replaces its own section only
    before = text.split("<!-- recipe: ufldl-stacked")[0]
    again = runner.invoke(app, ["bench", "paper", "ufldl-stacked", "--budget", "smoke", "--threads", "1", "--out", str(out)])
    assert again.exit_code == 0, again.output
    text2 = out.read_text()
    assert text2.count("<!-- recipe: ufldl-stacked budget: smoke -->") == 1 and text2.startswith(before)


def test_seeds_are_run_and_reported_with_their_spread():
    one = run_recipe("makhzani-ksparse", "smoke", seeds=[0])
    two = run_recipe("makhzani-ksparse", "smoke", seeds=[0, 1])
    assert two.seeds == [0, 1] and len(two.metrics) == 2
    assert two.metrics[0]["error"] == one.metrics[0]["error"]  # seed 0 is the same run
    assert two.mean()["error"] == pytest.approx((two.metrics[0]["error"] + two.metrics[1]["error"]) / 2)
    table = format_table(two)
    assert "ours: mean over seeds 0, 1" in table and "(sd " in table and "seeds: 0, 1" in table


def test_targets_are_judged_on_the_mean_over_seeds():
    rows = [Row("s", "1.14%", "error_after")]
    per_seed = [{"error_after": 0.0135, "error_before": 0.05}, {"error_after": 0.0150, "error_before": 0.05}]
    result = PaperResult("rifai2011-cae", "full", "t", "p", rows, per_seed, seeds=[0, 1])
    assert result.checks == [("full target: fine-tuned test error <= 1.4 %", False)]  # mean 1.425 %
    result.metrics[1]["error_after"] = 0.0140
    assert result.checks == [("full target: fine-tuned test error <= 1.4 %", True)]  # mean 1.375 %
    assert "1.38% (sd 0.04; 1.35, 1.40)" in format_table(result)
    assert PaperResult("rifai2011-cae", "fast", "t", "p", rows, per_seed).checks == []  # no fast target


def test_list_names_every_recipe_with_its_budgets():
    result = runner.invoke(app, ["bench", "paper", "--list"])
    assert result.exit_code == 0, result.output
    for name, recipe in RECIPES.items():
        line = next(line for line in result.output.splitlines() if line.startswith(name))
        assert recipe.title in line and all(f"{b} {recipe.durations[b]}" in line for b in BUDGETS)


def test_bench_errors():
    result = runner.invoke(app, ["bench", "paper", "hinton2006"])
    assert result.exit_code == 2 and "Unknown recipe 'hinton2006'" in result.output and "vincent2010-sda3" in result.output
    assert "--list" in result.output
    result = runner.invoke(app, ["bench", "paper", "ufldl-stacked", "--budget", "huge"])
    assert result.exit_code == 2 and "Unknown budget" in result.output
    result = runner.invoke(app, ["bench", "paper"])
    assert result.exit_code == 2 and "--list" in result.output
    for bad in ("1,x", "0,0", "-1", ","):
        result = runner.invoke(app, ["bench", "paper", "ufldl-stacked", "--seeds", bad])
        assert result.exit_code == 2 and "--seeds" in result.output, bad


def test_results_file_sections_are_independent(tmp_path):
    path = tmp_path / "r.md"
    rows = [Row("s", "97.6%", "accuracy_after", seconds="seconds_total")]
    a = PaperResult("ufldl-stacked", "fast", "t", "p", rows,
                    [{"accuracy_before": 0.9, "accuracy_after": 0.979, "seconds_total": 12.0}])
    b = PaperResult("ufldl-stacked", "full", "t", "p", rows,
                    [{"accuracy_before": 0.9, "accuracy_after": 0.981, "seconds_total": 300.0}])
    update_results_file(path, a, "aekit bench paper ufldl-stacked --budget fast")
    update_results_file(path, b, "aekit bench paper ufldl-stacked --budget full")
    a.metrics = [{"accuracy_before": 0.9, "accuracy_after": 0.977, "seconds_total": 11.0}]
    update_results_file(path, a, "aekit bench paper ufldl-stacked --budget fast")
    text = path.read_text()
    assert text.startswith("# Paper reproductions")
    assert "97.70%" in text and "97.90%" not in text and "98.10%" in text
    assert text.index("budget: fast") < text.index("budget: full")
    table = format_table(a)
    assert "| s | 97.6% | 97.70% | 11 s |" in table and "PASS: fast target" in table
    assert "deviations: Adam minibatches" in table


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipes_are_documented(name):
    recipe = RECIPES[name]
    assert "Published" in recipe.run.__doc__ and recipe.deviations and recipe.title
    assert set(recipe.durations) == set(BUDGETS)

"""`aekit bench paper`: every recipe's plumbing at the smoke budget (digits standing in for MNIST)."""

import pytest
from typer.testing import CliRunner

from aekit.bench import RECIPES, PaperResult, Row, format_table, update_results_file
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
    assert "FAIL" not in result.output  # the smoke budget checks no targets
    # a second run of one recipe replaces its own section only
    before = text.split("<!-- recipe: ufldl-stacked")[0]
    again = runner.invoke(app, ["bench", "paper", "ufldl-stacked", "--budget", "smoke", "--threads", "1", "--out", str(out)])
    assert again.exit_code == 0, again.output
    text2 = out.read_text()
    assert text2.count("<!-- recipe: ufldl-stacked budget: smoke -->") == 1 and text2.startswith(before)


def test_bench_errors():
    result = runner.invoke(app, ["bench", "paper", "hinton2006"])
    assert result.exit_code == 2 and "Unknown recipe 'hinton2006'" in result.output and "vincent2010-sda3" in result.output
    result = runner.invoke(app, ["bench", "paper", "ufldl-stacked", "--budget", "huge"])
    assert result.exit_code == 2 and "Unknown budget" in result.output


def test_results_file_sections_are_independent(tmp_path):
    path = tmp_path / "r.md"
    a = PaperResult("ufldl-stacked", "fast", "t", "p", [Row("s", "97.6%", "97.9%", 12.0)], [("target", True)])
    b = PaperResult("ufldl-stacked", "full", "t", "p", [Row("s", "97.6%", "98.1%", 300.0)])
    update_results_file(path, a, "aekit bench paper ufldl-stacked --budget fast")
    update_results_file(path, b, "aekit bench paper ufldl-stacked --budget full")
    a.rows[0] = Row("s", "97.6%", "97.7%", 11.0)
    update_results_file(path, a, "aekit bench paper ufldl-stacked --budget fast")
    text = path.read_text()
    assert text.startswith("# Paper reproductions")
    assert "97.7%" in text and "97.9%" not in text and "98.1%" in text
    assert text.index("budget: fast") < text.index("budget: full")
    assert "| s | 97.6% | 97.7% | 11 s |" in format_table(a) and "PASS: target" in format_table(a)


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipes_are_documented(name):
    doc = RECIPES[name].run.__doc__
    assert "Published" in doc and "Deviations:" in doc
    assert RECIPES[name].full_time

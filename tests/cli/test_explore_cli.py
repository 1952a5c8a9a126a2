"""`aekit explore`: the page over run folders written by the command line, its limits, clear errors."""

from typer.testing import CliRunner

from aekit.cli import app

runner = CliRunner()


def test_the_command_line_defaults_are_the_library_defaults():
    from aekit.cli import _explore
    from aekit.viz.explorer import DEFAULT_MAX_MB, DEFAULT_MAX_POINTS

    assert (_explore.MAX_MB, _explore.MAX_POINTS) == (DEFAULT_MAX_MB, DEFAULT_MAX_POINTS)


def test_aekit_explore_writes_the_page_and_reports_bad_input(tmp_path):
    runs = []
    for name, k in (("pca8", "8"), ("pca90", "0.9")):
        runs.append(tmp_path / name)
        result = runner.invoke(app, ["fit", "pca", "-k", k, "--n-samples", "300", "-q", "--out", str(runs[-1])])
        assert result.exit_code == 0, result.output
    out = tmp_path / "x.html"
    result = runner.invoke(app, ["explore", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "MB" in result.output and out.is_file()
    result = runner.invoke(app, ["explore", str(runs[0])])  # one run: the page goes into its folder
    assert result.exit_code == 0 and (runs[0] / "explorer.html").is_file()
    result = runner.invoke(app, ["explore", str(runs[0]), "--out", str(out), "--max-mb", "0.01"])
    assert result.exit_code == 2 and "--max-mb" in result.output and "--float16" in result.output
    result = runner.invoke(app, ["explore", str(tmp_path / "missing"), "--out", str(out)])
    assert result.exit_code == 2 and "is not a folder" in result.output


def test_a_broken_model_config_is_a_clear_error_not_a_traceback(tmp_path):
    from aekit import io as aio

    run = tmp_path / "pca"
    assert runner.invoke(app, ["fit", "pca", "-k", "4", "--n-samples", "200", "-q", "--out", str(run)]).exit_code == 0
    config = aio.read_json(run / "model" / "config.json")
    del config["class"]
    aio.atomic_write_json(run / "model" / "config.json", config)
    result = runner.invoke(app, ["explore", str(run), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "the entry 'class'" in result.output and "Traceback" not in result.output

"""`aekit report`: the page's path, its default place for one run and for several, clear errors."""

from typer.testing import CliRunner

from aekit import io as aio
from aekit.cli import app
from aekit.cli._run import write_run


def _run(path, mse):
    write_run(path, command="train autoencoder", dataset="digits", metrics={"mse": mse}, report=False,
              history=[{"epoch": 1, "loss": 1.0}], extra={"estimator": "DenoisingAutoencoder", "params": {}})
    return path


def test_cli_report_prints_the_path(tmp_path, monkeypatch):
    a, b = _run(tmp_path / "a", 0.1), _run(tmp_path / "b", 0.2)
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(a)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(a / "report.html") and (a / "report.html").is_file()
    out = tmp_path / "cmp" / "both.html"
    result = runner.invoke(app, ["report", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0 and result.output.strip() == str(out)
    assert 'id="metrics-comparison-0"' in out.read_text()  # both runs are of one kind: one comparison
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", "a", "b"])
    assert result.exit_code == 0 and (tmp_path / "report.html").is_file()
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "is not a folder" in result.output
    aio.read_json(a / "run.json")  # the run folder itself is untouched

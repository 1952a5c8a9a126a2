"""`aekit datasets`: listing, JSON output, cache status, download errors."""

import json

from typer.testing import CliRunner

from aekit.cli import app
from aekit.datasets import _mnist

runner = CliRunner()


def test_listing_shows_offline_and_cache(tmp_path):
    result = runner.invoke(app, ["datasets", "--data-home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "OFFLINE", "CACHED", "LOCATION", "DESCRIPTION"]
    digits = next(line for line in lines if line.startswith("digits "))
    assert digits.split()[1:3] == ["yes", "-"] and "(built in)" in digits
    mnist = next(line for line in lines if line.startswith("mnist "))
    assert mnist.split()[1:4] == ["no", "no", str(tmp_path / "mnist")]
    assert f"data home: {tmp_path}" in result.output
    assert "text for `aekit harvest --text`: python-docs, shakespeare, docstrings" in result.output


def test_json_listing(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in _mnist.FILES["test"]:
        (tmp_path / "mnist" / name).write_bytes(b"")
    result = runner.invoke(app, ["datasets", "--data-home", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rows = {r["name"]: r for r in payload["datasets"]}
    assert payload["data_home"] == str(tmp_path)
    assert rows["mnist-test"]["cached"] and not rows["mnist"]["cached"]
    assert rows["swiss-roll"]["offline"]
    assert [t["name"] for t in payload["text_sources"]] == ["python-docs", "shakespeare", "docstrings"]


def test_download_errors_are_clean(tmp_path, monkeypatch):
    result = runner.invoke(app, ["datasets", "--download", "nope"])
    assert result.exit_code == 2 and "Unknown dataset 'nope'" in result.output
    monkeypatch.setitem(_mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    result = runner.invoke(app, ["datasets", "--data-home", str(tmp_path), "--download", "mnist-test"])
    assert result.exit_code == 2
    assert "Could not download" in result.output and str(tmp_path / "mnist") in result.output
    result = runner.invoke(app, ["datasets", "--data-home", str(tmp_path), "--download", "digits"])
    assert result.exit_code == 0 and "nothing to download" in result.output

"""`aekit sae train` and `aekit sae eval`: run folders from an array file, metrics recomputed, stores opened by path."""

import json
import sys
import types

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aekit import io as aio
from aekit.datasets import make_sparse_dictionary_data
from aekit.cli import app
from aekit.cli._sae import open_activations, sae_metrics
from aekit.metrics import explained_variance, l0
from aekit.training._data import DeviceBatches

runner = CliRunner()


@pytest.fixture(scope="module")
def activations(tmp_path_factory):
    X, _, _ = make_sparse_dictionary_data(2048, 16, 48, 3, random_state=0)
    path = tmp_path_factory.mktemp("acts") / "acts.npy"
    np.save(path, X)
    return path, X


def test_train_then_eval_an_array_file(activations, tmp_path):
    path, X = activations
    run = tmp_path / "run"
    result = runner.invoke(app, ["sae", "train", str(path), "--out", str(run), "--latents", "64", "--k", "3",
                                 "--batch-size", "256", "--epochs", "2", "--lr", "3e-3", "--warmup", "4",
                                 "--saelens", "--quiet"])
    assert result.exit_code == 0, result.output
    model = aio.load(run / "model")
    assert model.n_components_ == 64 and model.k == 3 and len(model.history_) == 2
    assert (run / "saelens" / "cfg.json").exists() and (run / "checkpoint" / "checkpoint.json").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_rows"] == 2 * 2048 and metrics["tokens_per_second"] > 0

    result = runner.invoke(app, ["sae", "eval", str(run), str(path), "--rows", "1000"])
    assert result.exit_code == 0, result.output
    m = json.loads((run / "eval-sae.json").read_text())
    H = model.transform(X[:1000])
    assert m["rows"] == 1000 and m["l0"] == pytest.approx(l0(H))
    assert m["explained_variance"] == pytest.approx(explained_variance(X[:1000], model.inverse_transform(H)), rel=1e-6)
    assert m["explained_variance"] == pytest.approx(1 - m["fvu"]) and 0 <= m["dead_fraction"] <= 1
    assert sum(m["density_histogram"]["counts"]) + m["density_histogram"]["dead"] == 64


def test_bad_inputs_are_clear_errors(activations, tmp_path):
    path, X = activations
    result = runner.invoke(app, ["sae", "train", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "does not exist" in result.output
    np.save(tmp_path / "ints.npy", np.arange(10))
    result = runner.invoke(app, ["sae", "train", str(tmp_path / "ints.npy"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "2-D float array" in result.output
    result = runner.invoke(app, ["sae", "train", str(path), "--out", str(tmp_path / "r"), "--latents", "8", "--k", "9"])
    assert result.exit_code == 2 and "k=9 must be between 1 and the number of latents (8)" in result.output
    run = tmp_path / "run"
    assert runner.invoke(app, ["sae", "train", str(path), "--out", str(run), "--latents", "32", "--k", "2",
                               "--batch-size", "512", "--quiet"]).exit_code == 0
    np.save(tmp_path / "narrow.npy", X[:, :12])
    result = runner.invoke(app, ["sae", "eval", str(run), str(tmp_path / "narrow.npy")])
    assert result.exit_code == 2 and "takes 16 features but" in result.output


def test_a_folder_opens_as_an_activation_store(activations, tmp_path, monkeypatch):
    path, X = activations
    opened = []

    class FakeStoreBatches(DeviceBatches):  # stands for aekit.harvest.StoreBatches (a BatchSource)
        def __init__(self, folder):
            opened.append(folder)
            super().__init__((torch.from_numpy(X),), torch.device("cpu"))

    monkeypatch.setitem(sys.modules, "aekit.harvest", types.SimpleNamespace(StoreBatches=FakeStoreBatches))
    source = open_activations(tmp_path)
    assert opened == [tmp_path] and len(source) == 2048
    run = tmp_path / "run"
    result = runner.invoke(app, ["sae", "train", str(tmp_path), "--out", str(run), "--latents", "32", "--k", "2",
                                 "--batch-size", "512", "--quiet"])
    assert result.exit_code == 0, result.output
    model = aio.load(run / "model")
    assert sae_metrics(model, X[:500])["l0"] == pytest.approx(l0(model.transform(X[:500])))

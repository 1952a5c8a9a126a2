"""`aekit train`: the run folder, resuming from the checkpoint, clear errors."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from aekit import io as aio
from aekit.cli import app
from aekit.cli._train import parse_emphasis, parse_sparsity
from aekit.datasets import load_digits

from _tolerance import rounding_bound

runner = CliRunner()
BASE = ["--dataset", "digits", "--n-samples", "300", "--hidden", "32", "--lr", "0.01", "--batch-size", "64", "-q"]


def _train(*args):
    return runner.invoke(app, ["train", *args])


def test_train_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    result = _train("denoising", *BASE, "--loss", "cross_entropy", "--noise", "masking:0.3", "--emphasis", "2:1",
                    "--sparsity", "kl:0.1:1", "--epochs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert str(out / "report.html") in result.output
    for name in ("run.json", "metrics.json", "history.csv", "history.json", "report.html", "model/config.json"):
        assert (out / name).is_file(), name
    for fig in ("history", "activations", "filters", "reconstructions"):
        assert (out / "figures" / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["n_samples"] == 300
    assert {"reconstruction_error", "mean_activation", "dead_units", "denoising_error", "train_seconds"} <= set(metrics)
    run = json.loads((out / "run.json").read_text())
    assert run["estimator"] == "DenoisingAutoencoder" and run["dataset"] == "digits"
    model = aio.load(out / "model")
    assert model.get_params()["corruption"] == "masking:0.3" and model.sparsity_weight == 1.0
    assert model.corrupted_weight == 2.0 and model.uncorrupted_weight == 1.0
    X = load_digits().X[:300]
    # the same non-negative float32 sum over 300 x 64 pixels, from the saved and reloaded model
    assert -model.score(X) == pytest.approx(metrics["reconstruction_error"], rel=rounding_bound(np.float32, X.size))


def test_resume_continues_to_the_same_weights(tmp_path):
    args = ["autoencoder", *BASE, "--loss", "cross_entropy", "--seed", "3"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert _train(*args, "--epochs", "3", "--out", str(whole)).exit_code == 0
    assert _train(*args, "--epochs", "1", "--out", str(split)).exit_code == 0
    result = _train(*args, "--epochs", "3", "--out", str(split), "--resume")
    assert result.exit_code == 0, result.output
    a, b = aio.load(whole / "model"), aio.load(split / "model")
    for p, q in zip(a.module_.state_dict().values(), b.module_.state_dict().values()):
        assert np.array_equal(p.numpy(), q.numpy())
    assert [r["loss"] for r in a.history_] == [r["loss"] for r in b.history_]


def test_ksparse_options(tmp_path):
    out = tmp_path / "k"
    result = _train("ksparse", *BASE, "--k", "5", "--alpha", "2", "--epochs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    model = aio.load(out / "model")
    assert (model.k, model.k_alpha, model.tied_weights, model.encoder_activation) == (5, 2.0, True, "topk")
    assert (np.count_nonzero(model.transform(load_digits().X[:20]), axis=1) == 10).all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["vae"], "Unknown model 'vae'"),
        (["sparse", "--sparsity", "kl:0.05"], "use kl:RHO:BETA"),
        (["sparse", "--sparsity", "entropy:1"], "Unknown --sparsity 'entropy:1'"),
        (["ksparse", "--k", "50", "--hidden", "20"], "k=50 must be between 1 and the number of hidden units"),
        (["sparse", "--activation", "tanh"], "KL sparsity needs encoder activations in (0, 1)"),
        (["autoencoder", "--dataset", "no-such-data"], "no-such-data"),
    ],
)
def test_bad_options_fail_with_a_clear_message(args, message, tmp_path):
    result = _train(*args, "--epochs", "1", "--n-samples", "50", "-q", "--out", str(tmp_path / "bad"))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize("n", ["0", "-3"])
def test_a_sample_count_below_one_is_refused(n, tmp_path):
    result = _train("autoencoder", "--n-samples", n, "--epochs", "1", "-q", "--out", str(tmp_path / "bad"))
    assert result.exit_code == 2
    assert "--n-samples must be >= 1" in " ".join(result.output.split())
    assert not (tmp_path / "bad" / "run.json").exists()


def test_option_parsers():
    assert parse_sparsity(["kl:0.05:3:full", "l1:0.001", "kurtosis:0.1", "l1-weights:1e-4"]) == {
        "sparsity_target": 0.05, "sparsity_weight": 3.0, "sparsity_estimate": "full",
        "activity_l1": 0.001, "kurtosis_weight": 0.1, "l1_weights": 1e-4,
    }
    assert parse_emphasis("2:0.5") == {"corrupted_weight": 2.0, "uncorrupted_weight": 0.5}
    with pytest.raises(ValueError, match="ALPHA:BETA"):
        parse_emphasis("2")

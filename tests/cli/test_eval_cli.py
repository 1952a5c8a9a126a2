"""`aekit eval` and aekit.metrics.evaluate: which metrics apply to which model, recomputed by hand."""

import json

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from typer.testing import CliRunner

from aekit import io as aio
from aekit.autoencoders import Autoencoder, DenoisingAutoencoder, StackedAutoencoderClassifier
from aekit.cli import app
from aekit.datasets import load_digits
from aekit.decomposition import PCA
from aekit.metrics import evaluate, linear_probe_accuracy, trustworthiness_continuity

from _tolerance import rounding_bound

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return ds.X[:500], ds.y[:500]


def test_evaluate_an_autoencoder_by_hand(digits):
    X, y = digits
    ae = DenoisingAutoencoder(16, loss="cross_entropy", corruption="masking:0.3", max_epochs=3, random_state=0).fit(X)
    m = evaluate(ae, X, y, random_state=0)
    X_hat = ae.predict(X)
    # a mean of 500 x 64 non-negative squares, possibly accumulated in float32
    assert m["reconstruction_mse"] == pytest.approx(np.mean((X.astype(np.float64) - X_hat) ** 2), rel=rounding_bound(np.float32, X.size))
    assert m["psnr"] == pytest.approx(10 * np.log10(1.0 / m["reconstruction_mse"]), rel=rounding_bound(np.float64, 4))
    assert m["reconstruction_cross_entropy"] > 0 and 0 < m["denoising_mse"] and m["denoising_mse"] > m["reconstruction_mse"]
    # the probes' documented split: stratified, 25 % test, seeded by random_state
    Z = ae.transform(X)
    tr, te = train_test_split(np.arange(500), test_size=0.25, random_state=0, stratify=y)
    knn = KNeighborsClassifier(5).fit(Z[tr], y[tr]).score(Z[te], y[te])
    assert m["knn_accuracy"] == pytest.approx(knn) and m["probe_test_samples"] == te.size
    assert m["linear_probe_accuracy"] == pytest.approx(linear_probe_accuracy(Z[tr], y[tr], Z[te], y[te]))
    assert m["mean_activation"] == pytest.approx(Z.mean(), rel=rounding_bound(np.float32, Z.size))
    assert 0 <= m["dead_fraction"] <= 1 and m["mean_contraction"] > 0 and m["n_components"] == 16
    assert "trustworthiness" not in m and "classifier_accuracy" not in m  # 16-D codes, not a classifier


def test_evaluate_low_dimensional_codes_and_classifiers(digits):
    X, y = digits
    pca = PCA(2).fit(X)
    m = evaluate(pca, X, y)
    Z = pca.transform(X)
    t, c = trustworthiness_continuity(X, Z, 12)
    assert m["trustworthiness"] == pytest.approx(t) and m["continuity"] == pytest.approx(c)
    assert m["reconstruction_mse"] == pytest.approx(np.mean((X - pca.inverse_transform(Z)) ** 2), rel=rounding_bound(np.float32, X.size))
    assert "denoising_mse" not in m and "mean_contraction" not in m  # no corruption, no torch encoder
    clf = StackedAutoencoderClassifier([Autoencoder(12, max_epochs=2)], head_max_epochs=5, max_epochs=5, random_state=0)
    clf.fit(X, y)
    m = evaluate(clf, X, y)
    assert m["classifier_accuracy"] == pytest.approx(clf.score(X, y))
    assert "reconstruction_mse" not in m and m["n_components"] == 12 and m["mean_contraction"] > 0
    m = evaluate(Autoencoder(3, max_epochs=1, random_state=0).fit(X), X, np.linspace(0, 1, 500))
    assert "knn_accuracy" not in m and "trustworthiness" in m  # continuous targets are not classes


def test_eval_command_writes_json_and_prints_it(digits, tmp_path):
    X, _ = digits
    ae = Autoencoder(8, max_epochs=2, random_state=0).fit(load_digits().X)
    aio.save(ae, tmp_path / "run" / "model")
    result = runner.invoke(app, ["eval", str(tmp_path / "run"), "--dataset", "digits", "--n-samples", "400"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "run" / "eval-digits.json"
    metrics = json.loads(path.read_text())
    assert metrics["n_samples"] == 400 and metrics["model"] == "Autoencoder" and metrics["dataset"] == "digits"
    assert f"written: {path}" in result.output and "knn_accuracy" in result.output
    expected = evaluate(ae, load_digits().X[:400], load_digits().y[:400])
    assert metrics["linear_probe_accuracy"] == pytest.approx(expected["linear_probe_accuracy"])
    out = tmp_path / "elsewhere.json"
    assert runner.invoke(app, ["eval", str(tmp_path / "run"), "--dataset", "digits", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["n_samples"] == 1797


def test_eval_command_errors(tmp_path):
    result = runner.invoke(app, ["eval", str(tmp_path), "--dataset", "digits"])
    assert result.exit_code == 2 and "no saved model" in result.output
    aio.save(Autoencoder(4, max_epochs=1, random_state=0).fit(np.random.default_rng(0).random((50, 10))), tmp_path / "model")
    result = runner.invoke(app, ["eval", str(tmp_path), "--dataset", "digits"])
    assert result.exit_code == 2 and "takes 10 features" in result.output
    result = runner.invoke(app, ["eval", str(tmp_path), "--dataset", "no-such-data"])
    assert result.exit_code == 2 and "Unknown dataset" in result.output

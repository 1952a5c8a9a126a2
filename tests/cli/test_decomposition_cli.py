import json

import numpy as np
import pytest
from typer.testing import CliRunner

from aekit import io as aio
from aekit import viz
from aekit.cli import app
from aekit.cli._fit_decomposition import parse_n_components, reconstruction_counts
from aekit.datasets import get_dataset, load_digits
from aekit.decomposition import PCA, match_sources
from aekit.decomposition._pca import default_rtol

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_demo_writes_every_step_and_one_report(tmp_path):
    result = run("demo", "--out", tmp_path / "demo", "-q")
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "demo" / "pca"
    assert str(tmp_path / "demo") in result.output
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == [
        "eigenimages.png",
        "reconstructions.png",
        "scree.png",
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["components_for_90_percent"] == 21  # the digits' well-known count
    pca = aio.load(run_dir / "model")
    X = load_digits().X
    # Only negligible eigenvalues are dropped: each is below rtol * lambda_max (rtol = n_features * eps of
    # the data's float32), so together they are at most that many times it, relative to the total variance.
    d, dropped = X.shape[1], X.shape[1] - pca.n_components_
    total = X.astype(np.float64).var(axis=0, ddof=1).sum()
    atol = dropped * default_rtol(d, X.dtype) * pca.explained_variance_[0] / total + default_rtol(d, X.dtype)
    assert abs(metrics["explained_variance_ratio_total"] - 1.0) <= atol
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0, atol=atol)
    assert pca.transform(X).shape == (len(X), pca.n_components_)

    # the denoising sparse autoencoder against its untrained control (same seed, initial weights): KL
    # sparsity moves the mean activation from about 0.5 to rho_0, and the reconstruction error falls
    # several-fold (measured: 18 against 85 nats per image); the linear probe of the codes stays at the
    # level of the control's and of the raw pixels' (0.90-0.92 on the digits), so it is not a sign of learning
    ae_dir = tmp_path / "demo" / "autoencoder"
    m = json.loads((ae_dir / "metrics.json").read_text())
    assert abs(m["mean_activation"] - m["sparsity_target"]) < 0.02
    assert abs(m["untrained_mean_activation"] - m["sparsity_target"]) > 0.3
    assert m["reconstruction_error"] < 0.5 * m["untrained_reconstruction_error"]
    assert m["dead_units"] == 0.0
    assert m["linear_probe_accuracy"] >= m["untrained_linear_probe_accuracy"] - 0.03
    assert abs(m["raw_pixels_linear_probe_accuracy"] - m["linear_probe_accuracy"]) < 0.05
    assert {"filters.png", "reconstructions.png", "history.png"} <= {p.name for p in (ae_dir / "figures").iterdir()}
    ae = aio.load(ae_dir / "model")
    assert ae.transform(X[:5]).shape == (5, 100)

    # activation maximization: the starts agree and match the closed form w_i / ||w_i||
    am = json.loads((tmp_path / "demo" / "activation_maximization" / "metrics.json").read_text())
    assert am["units"] == 100 and am["fraction_units_cosine_at_least_0.9"] == 1.0
    assert am["cosine_to_closed_form_min"] > 0.999

    # one report over the three runs, and its path printed
    report = (tmp_path / "demo" / "report.html").read_text()
    assert f"report: {tmp_path / 'demo' / 'report.html'}" in result.output
    for name in ("pca", "autoencoder", "activation_maximization"):
        assert name in report
    assert report.count("<img") >= 10

    # the explorer page over the runs that hold a model
    assert f"explorer: {tmp_path / 'demo' / 'explorer.html'}" in result.output
    page = (tmp_path / "demo" / "explorer.html").read_text()
    doc = json.loads(page.split('id="aekit-data">', 1)[1].split("</script>", 1)[0])
    assert [(p["run"], p["kind"]) for p in doc["panels"]] == [
        ("pca", "embedding"), ("autoencoder", "autoencoder"), ("autoencoder", "embedding"), ("autoencoder", "curves")]


def test_fit_pca_run_folder(tmp_path):
    out = tmp_path / "pca"
    result = run("fit", "pca", "--dataset", "digits", "--n-components", "0.9", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert f"run folder: {out}" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_components"] == 21 and metrics["explained_variance_ratio_total"] > 0.9
    assert metrics["reconstruction_mse"] < 0.01
    info = json.loads((out / "run.json").read_text())
    assert info["estimator"] == "PCA" and info["command"] == "fit pca"
    assert (out / "figures" / "reconstructions.png").stat().st_size > 1000
    assert aio.load(out / "model").n_components_ == 21


def test_fit_ica_reports_source_recovery(tmp_path):
    out = tmp_path / "ica"
    result = run("fit", "ica", "--dataset", "ica-mixture", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["source_abs_correlation_min"] >= 0.99
    assert sorted(metrics["source_match"]) == [0, 1, 2, 3]
    # Against the controls, scored the same way: the sensors themselves (0.45) and their PCA whitening,
    # FastICA's starting point (0.67), are far from the sources.
    data = get_dataset("ica-mixture")
    sources = data.extras["sources"]
    for control in (data.X, PCA(4, whiten=True).fit_transform(data.X)):
        assert metrics["source_abs_correlation_min"] >= np.abs(match_sources(sources, control)[1]).min() + 0.3
    assert (out / "figures" / "sources.png").exists()


def test_fit_sfa_reports_driving_force(tmp_path):
    out = tmp_path / "sfa"
    result = run("fit", "sfa", "--dataset", "sfa-signal", "--n-samples", "3000", "-k", "3", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["driving_force_abs_correlation"] >= 0.9
    assert metrics["delta_values"] == sorted(metrics["delta_values"])
    assert {p.name for p in (out / "figures").iterdir()} == {"slow_features.png", "delta_values.png"}
    # Against the controls: the raw signal (|corr| 0.05 with the force) and linear SFA of the same delay
    # embedding (0.2), run through the same command; the quadratic expansion is what finds the force.
    data = get_dataset("sfa-signal", n_samples=3000)
    raw = abs(np.corrcoef(data.X[:, 0], data.extras["driving_force"])[0, 1])
    linear = tmp_path / "linear"
    result = run("fit", "sfa", "--dataset", "sfa-signal", "--n-samples", "3000", "-k", "3", "--degree", "1",
                 "--out", linear, "-q")
    assert result.exit_code == 0, result.output
    control = json.loads((linear / "metrics.json").read_text())["driving_force_abs_correlation"]
    assert metrics["driving_force_abs_correlation"] >= max(raw, control) + 0.3, (raw, control)


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "pca", "--dataset", "no-such-data"], "Unknown dataset"),
        (["fit", "pca", "-k", "abc"], "not a number"),
        (["fit", "pca", "-k", "1.5"], "strictly between 0 and 1"),
        (["fit", "ica", "-k", "0.5"], "whole number"),
        (["fit", "ica", "--fun", "tanh"], "fun"),
        (["fit", "sfa", "--dataset", "digits", "--n-samples", "200"], "reduce the input first"),
        (["fit", "pca", "--dataset", "digits", "-k", "500"], "min(n_samples, n_features)=64"),
    ],
)
def test_bad_options_fail_cleanly_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "run"
    result = run(*args, "--out", out, "-q")
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_parse_and_counts():
    assert parse_n_components("50", allow_fraction=True) == 50
    assert parse_n_components("0.95", allow_fraction=True) == 0.95
    assert parse_n_components(None, allow_fraction=False) is None
    assert reconstruction_counts(58) == [5, 10, 20, 50, 58]
    assert reconstruction_counts(3) == [1, 2, 3]


def test_figure_functions_refuse_bad_arrays():
    with pytest.raises(ValueError, match="NaN"):
        viz.plot_scree(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="shape"):
        viz.plot_pca_reconstructions(np.zeros((3, 4)), {"k": np.zeros((3, 5))}, (2, 2))
    with pytest.raises(ValueError, match="match_sources"):
        viz.plot_ica_sources(np.zeros((10, 2)), sources=np.zeros((10, 2)))
    with pytest.raises(ValueError, match="rows"):
        viz.plot_slow_features(np.zeros((10, 2)), driving_force=np.zeros(9))

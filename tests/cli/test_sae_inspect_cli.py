"""`aekit sae inspect RUN_DIR STORE`: the latent page of a run trained by `aekit sae train` on a store, kept for
`aekit explore`; image stores with --images; clear errors."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aekit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A text store (a token embedding harvested over windows of random ids) and a run of `aekit sae train` on it."""
    from aekit.datasets import TokenDocuments
    from aekit.harvest import WindowFormat, cut_windows, harvest

    root = tmp_path_factory.mktemp("inspect-cli")
    rng = np.random.default_rng(0)
    docs = TokenDocuments("random", tuple(rng.integers(3, 40, size=n) for n in (90, 150, 60)), ("a", "b", "c"),
                          "all", "random ids")
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = harvest(torch.nn.Embedding(40, 12), "", cut_windows(docs, 10, WindowFormat(prefix=(1,))),
                        root / "store", model_name="embedding", store_dtype="float32", rows_per_shard=100,
                        progress=False).store
    finally:
        torch.set_num_threads(before)
    run = root / "run"
    result = runner.invoke(app, ["sae", "train", str(store.path), "--out", str(run), "--latents", "24", "--k", "2",
                                 "--batch-size", "64", "--epochs", "3", "--warmup", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    return run, store


def test_inspect_writes_the_page_and_keeps_the_report_for_explore(trained):
    from aekit.inspection import LatentReport

    run, store = trained
    result = runner.invoke(app, ["sae", "inspect", str(run), str(store.path), "--latents", "5", "--top", "3",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"({5} latents over {len(store)} rows)" in result.output
    assert "tokens show as ids" in result.output  # the store's "embedding" is no language model aekit loads
    page = (run / "latents.html").read_text()
    assert page.count('<section class="latent"') == 5 and page.count("<mark") == page.count('<tr data-row=')
    report = LatentReport.load(run / "latents")
    assert len(report.latents) == 5 and report.n_rows == len(store) and report.top_rows.shape == (5, 3)
    result = runner.invoke(app, ["explore", str(run), "--out", str(run / "explore.html")])
    assert result.exit_code == 0, result.output
    from aekit.viz.explorer import build_document

    (panel,) = [p for p in build_document([run])["panels"] if p["kind"] == "latents"]
    assert panel["latents"].tolist() == report.latents.tolist()  # the kept report, not one computed again


def test_chosen_latents_other_page_and_no_report_kept(trained, tmp_path):
    run, store = trained
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["sae", "inspect", str(run), str(store.path), "--latent", "3", "--latent", "0",
                                 "--rows", "100", "--before", "2", "--after", "0", "--out", str(out), "--no-save",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and '<section class="latent" id="latent-3"' in out.read_text()
    assert "(2 latents over 100 rows)" in result.output


def test_an_image_store_with_its_images(tmp_path):
    from aekit.autoencoders import Autoencoder
    from aekit.cli._run import write_run
    from aekit.datasets import load_digits

    digits = load_digits()
    ae = Autoencoder(16, max_epochs=2, random_state=0).fit(digits.X)
    ae_run = write_run(tmp_path / "ae", command="test", dataset="digits", estimator=ae, report=False)
    assert runner.invoke(app, ["harvest", str(ae_run), "--out", str(tmp_path / "codes"), "--no-progress",
                               "--store-dtype", "float32"]).exit_code == 0
    sae = tmp_path / "sae"
    assert runner.invoke(app, ["sae", "train", str(tmp_path / "codes"), "--out", str(sae), "--latents", "32",
                               "--k", "2", "--batch-size", "128", "--epochs", "2", "--quiet"]).exit_code == 0
    result = runner.invoke(app, ["sae", "inspect", str(sae), str(tmp_path / "codes"), "--images", "digits",
                                 "--latents", "3", "--top", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    page = (sae / "latents.html").read_text()
    assert page.count('src="data:image/png;base64,') == page.count("<figure data-row=") > 0
    result = runner.invoke(app, ["sae", "inspect", str(sae), str(tmp_path / "codes"), "--latents", "2",
                                 "--no-progress", "--no-save"])
    assert result.exit_code == 0 and "pass the images it was harvested from" in result.output


def test_bad_input_is_a_clear_error(trained, tmp_path):
    run, store = trained
    result = runner.invoke(app, ["sae", "inspect", str(run), str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["sae", "inspect", str(run), str(store.path), "--latents", "0"])
    assert result.exit_code == 2 and "--latents, --top and --rows must be positive" in result.output
    result = runner.invoke(app, ["sae", "inspect", str(run), str(store.path), "--latent", "24", "--no-progress"])
    assert result.exit_code == 2 and "latents [24] out of range" in result.output
    result = runner.invoke(app, ["sae", "inspect", str(run), str(store.path), "--images", "digits", "--no-progress"])
    assert result.exit_code == 2 and "images= needs rows that are samples" in result.output
    (run.parent / "pca").mkdir()
    from aekit import io as aio
    from aekit.decomposition import PCA

    aio.save(PCA(2).fit(np.random.default_rng(0).normal(size=(20, 12))), run.parent / "pca" / "model")
    result = runner.invoke(app, ["sae", "inspect", str(run.parent / "pca"), str(store.path)])
    assert result.exit_code == 2 and "holds a PCA, not a SparseDictionary" in result.output

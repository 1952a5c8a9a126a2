"""The explorer's Python side: models as layers, the forward pass and its error bound, the document, bad input.

The browser side (the page computes the same numbers, real mouse input, no
network) is in ``test_explorer_browser.py``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit import io as aio
from aekit.viz.explorer import (
    PageTooLarge,
    UnsupportedRun,
    build_document,
    decode_array,
    describe,
    error_bound,
    forward,
    render_explorer,
    supported_models,
    write_explorer,
)
from aekit.viz.explorer._encode import encode_arrays
from aekit.viz.explorer._mlp import U16, U64, decode, layer_weight

AUTOENCODERS = ["dae", "ksparse", "deep", "stacked"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digits():
    from aekit.datasets import load_digits

    return load_digits().X


def _torch_code(est, X):
    """The code the page shows, computed by the estimator's own torch module."""
    module = est.module_
    with torch.no_grad():
        T = torch.from_numpy(X)
        return module.encode(T).numpy()


def _round_to_float16(mlp):
    """The MLP as a float16 page holds it: every weight matrix rounded to float16."""
    from dataclasses import replace

    def r(layer):
        if layer.weight is None:
            return layer
        return replace(layer, weight=layer.weight.astype(np.float16).astype(np.float32))

    return replace(mlp, encoder=[r(l) for l in mlp.encoder], decoder=[r(l) for l in mlp.decoder])


# ------------------------------------------------------------------ the models as layers
@pytest.mark.parametrize("name", AUTOENCODERS)
@pytest.mark.parametrize("float16", [False, True])
def test_layers_reproduce_the_estimator_within_the_rounding_bound(explorer_runs, name, float16):
    """forward (float64, the page's arithmetic) against PyTorch float32: within both sides' rounding bounds."""
    est = aio.load(explorer_runs[name] / "model")
    mlp = describe(est)
    X = _digits()[::3]
    page = _round_to_float16(mlp) if float16 else mlp
    code, recon = forward(page, X)
    code_bound, recon_bound = error_bound(mlp, X, float16=float16)
    code64, recon64 = error_bound(page, X, unit_roundoff=U64)
    torch_code, torch_recon = _torch_code(est, X), est.predict(X)
    rows = np.isfinite(recon_bound).all(axis=1)  # top-k rows whose selection is within rounding of a tie are left out
    assert rows.mean() > (0.9 if float16 else 0.99)
    assert np.all(np.abs(code - torch_code)[rows] <= (code_bound + code64)[rows])
    assert np.all(np.abs(recon - torch_recon)[rows] <= (recon_bound + recon64)[rows])
    scale = max(1.0, float(np.abs(torch_recon).max()))  # the bound constrains: far below the outputs' scale
    assert recon_bound[rows].max() < (0.2 if float16 else 2e-3) * scale


def test_the_float64_bound_is_tiny_and_the_float16_rounding_shows(explorer_runs):
    est = aio.load(explorer_runs["dae"] / "model")
    mlp = describe(est)
    X = _digits()[:200]
    assert error_bound(mlp, X, unit_roundoff=U64)[1].max() < 1e-12
    _, recon16 = forward(_round_to_float16(mlp), X)
    _, bound16 = error_bound(mlp, X, float16=True)
    diff = np.abs(recon16 - est.predict(X))
    assert bound16.max() / 100 < diff.max() <= bound16.max()  # the bound is within two orders of what happens


def test_describe_reads_each_architecture(explorer_runs):
    dae, ks, deep, stacked = (describe(aio.load(explorer_runs[n] / "model")) for n in AUTOENCODERS)
    assert dae.corruption == "masking:0.25" and dae.first_layer_code
    assert [l.activation["name"] for l in dae.layers] == ["sigmoid", "sigmoid"]
    assert ks.encoder[0].activation == {"name": "topk", "k": 6}  # predict's code keeps k units
    assert ks.encoder[0].offset is not None and ks.decoder[0].transpose_of == 0  # centred, tied
    assert [l.activation["name"] for l in deep.encoder] == ["relu", "tanh"] and not deep.first_layer_code
    assert [l.transpose_of for l in deep.decoder] == [1, 0]
    assert [layer_weight(stacked, l).shape for l in stacked.layers] == [(24, 64), (10, 24), (24, 10), (64, 24)]


def test_a_stacked_classifier_explores_through_its_pretrained_decoders():
    from aekit.autoencoders import Autoencoder, StackedAutoencoderClassifier
    from aekit.datasets import load_digits

    digits = load_digits()
    clf = StackedAutoencoderClassifier([Autoencoder(16, max_epochs=2, random_state=0)], max_epochs=1,
                                       random_state=0).fit(digits.X[:600], digits.y[:600])
    mlp = describe(clf)
    X = digits.X[600:700]
    code, recon = forward(mlp, X)
    with torch.no_grad():
        T = torch.from_numpy(X)
        torch_code, torch_recon = clf.module_.encode(T).numpy(), clf.module_.reconstruct(T).numpy()
    code_bound, recon_bound = error_bound(mlp, X)
    assert np.all(np.abs(code - torch_code) <= 2 * code_bound) and np.all(np.abs(recon - torch_recon) <= 2 * recon_bound)


def test_decoding_codes_matches_inverse_transform(explorer_runs):
    est = aio.load(explorer_runs["dae"] / "model")
    H = np.random.default_rng(0).uniform(0, 1, size=(20, est.n_components)).astype(np.float32)
    assert np.max(np.abs(decode(describe(est), H) - est.inverse_transform(H))) < 1e-5


def test_a_custom_activation_is_refused_with_the_supported_names():
    from aekit.autoencoders import Autoencoder
    from aekit.viz.explorer import UnsupportedModel

    def relu(z):  # a custom function that shares a name with a named activation
        return z.clamp(0, 1)

    for f in (lambda z: z.clamp(0, 1), relu):
        est = Autoencoder(4, encoder_activation=f, max_epochs=1, random_state=0).fit(_digits()[:64])
        with pytest.raises(UnsupportedModel, match="sigmoid, tanh, relu"):
            describe(est)


# ------------------------------------------------------------------ the document
def test_document_holds_typed_panels_over_shared_datasets(explorer_runs):
    doc = build_document([explorer_runs[n] for n in ("dae", "pca", "isomap", "som")])
    kinds = [(p["run"], p["kind"]) for p in doc["panels"]]
    assert kinds == [("dae", "autoencoder"), ("dae", "embedding"), ("dae", "curves"), ("pca", "embedding"),
                     ("isomap", "embedding"), ("som", "som"), ("som", "curves")]
    assert set(doc["datasets"]) == {"digits", "swiss-roll"}
    digits, roll = doc["datasets"]["digits"], doc["datasets"]["swiss-roll"]
    assert digits["image_shape"] == [8, 8] and digits["label_kind"] == "class" and digits["images"].dtype == np.uint8
    assert roll["image_shape"] is None and roll["values"].shape[1] == 3 and roll["label_kind"] == "continuous"
    stored = set(digits["rows"].tolist())
    for p in doc["panels"]:  # every row a panel refers to is stored once, in its dataset
        refs = [p.get("rows")] + [p.get("units", {}).get("top_rows"), p.get("winners"), (p.get("samples") or {}).get("rows")]
        for r in refs:
            if r is not None and p.get("dataset", p.get("units", {}).get("dataset")) != "swiss-roll":
                assert set(np.asarray(r).ravel().tolist()) - {-1} <= stored
    isomap = doc["panels"][4]
    assert isomap["points"].shape == (700, 2) and isomap["rows"].tolist() == list(range(700))


def test_panels_hold_what_the_model_computed(explorer_runs):
    from aekit.manifold import SOM

    doc = build_document([explorer_runs["dae"], explorer_runs["som"]])
    ae, codes, curves, som_panel = doc["panels"][:4]
    est = aio.load(explorer_runs["dae"] / "model")
    X = _digits()
    torch_codes = est.transform(X)
    top = ae["units"]["top_rows"]  # the 8 largest activations of each unit, largest first
    for j in range(est.n_components):
        values = torch_codes[top[j], j]
        assert np.all(np.diff(values) <= 1e-5) and values[-1] >= np.sort(torch_codes[:, j])[-8] - 1e-5
    assert ae["samples"]["held_out"] is False and ae["samples"]["inputs"].values.shape == (24, 64)
    history = aio.read_json(explorer_runs["dae"] / "history.json")
    loss = next(s for s in curves["series"] if s["name"] == "loss")
    assert loss["y"] == [h["loss"] for h in history] and loss["x"] == [1.0, 2.0, 3.0, 4.0]
    som = aio.load(explorer_runs["som"] / "model")
    assert isinstance(som, SOM)
    assert np.array_equal(som_panel["hit_map"], som.hit_map(X))
    bmu = som.predict(X)
    for u, won in enumerate(som_panel["winners"]):
        won = won[won >= 0]
        assert len(won) == min(8, int((bmu == u).sum())) and np.all(bmu[won] == u)


@pytest.mark.parametrize("method", ["lle", "kpca", "cca", "ica"])
def test_every_embedding_method_gives_a_scatter_of_its_training_rows(tmp_path, method):
    from aekit.cli._run import write_run
    from aekit.datasets import get_dataset
    from aekit.decomposition import FastICA
    from aekit.manifold import CurvilinearComponentAnalysis, KernelPCA, LocallyLinearEmbedding

    dataset = "ica-mixture" if method == "ica" else "swiss-roll"
    X = get_dataset(dataset).X[:300]
    est = {"lle": lambda: LocallyLinearEmbedding(n_neighbors=10, n_components=2),
           "kpca": lambda: KernelPCA(2, kernel="rbf", gamma=0.01),
           "cca": lambda: CurvilinearComponentAnalysis(n_components=2, max_iter=20, random_state=0),
           "ica": lambda: FastICA(2, random_state=0)}[method]().fit(X)
    run = write_run(tmp_path / method, command=f"fit {method}", dataset=dataset, estimator=est,
                    metrics={"n_samples": 300}, history=getattr(est, "history_", None), report=False)
    panel = build_document([run])["panels"][0]
    assert panel["kind"] == "embedding" and panel["points"].shape == (300, 2)
    assert panel["dataset"] == dataset and panel["rows"].tolist() == list(range(300))
    expected = est.transform(X)[:, :2] if method == "ica" else est.embedding_[:, :2]
    assert np.allclose(panel["points"], expected, atol=1e-5)


def test_staged_histories_become_one_series_per_stage(explorer_runs):
    doc = build_document([explorer_runs["stacked"]])
    names = [s["name"] for s in doc["panels"][-1]["series"]]
    assert "pretraining layer 1: loss" in names and "pretraining layer 2: loss" in names
    assert "fine_tuning: loss" in names
    deep = doc["panels"][0]
    assert deep["units"]["preferred_inputs"]["images"].shape == (10, 64)  # gradient ascent on deep codes


def test_arrays_round_trip_and_float16_halves_the_weights(explorer_runs):
    doc = build_document([explorer_runs["dae"]])
    w = doc["panels"][0]["encoder"][0]["weight"]
    enc32, enc16 = encode_arrays(doc), encode_arrays(doc, float16=True)
    assert np.array_equal(decode_array(enc32["panels"][0]["encoder"][0]["weight"]), w)
    back = decode_array(enc16["panels"][0]["encoder"][0]["weight"])
    assert back.dtype == np.float16 and np.max(np.abs(back - w) / np.maximum(np.abs(w), 2**-14)) <= U16
    bias = enc16["panels"][0]["encoder"][0]["bias"]
    assert bias["dtype"] == "float32"  # biases, offsets and inputs stay float32
    assert enc16["panels"][0]["samples"]["inputs"]["dtype"] == "float32"
    w32, w16 = (e["panels"][0]["encoder"][0]["weight"]["b64"] for e in (enc32, enc16))
    assert abs(len(w16) / len(w32) - 0.5) < 0.01
    assert len(render_explorer(doc, float16=True)) < len(render_explorer(doc)) - 0.9 * (len(w32) - len(w16))


def test_the_page_is_one_self_contained_file(explorer_runs, tmp_path):
    out = write_explorer([explorer_runs["pca"]], tmp_path / "page.html", title="a <title> & more")
    page = out.read_text(encoding="utf-8")
    assert "<title>a &lt;title&gt; &amp; more</title>" in page
    assert "{{" not in page and "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    data = re.search(r'<script type="application/json" id="aekit-data">(.*?)</script>', page, re.S).group(1)
    doc = json.loads(data)
    assert doc["format"] == "aekit-explorer" and doc["panels"][0]["kind"] == "embedding"


def test_the_page_assets_are_package_data():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["aekit.viz.explorer"]
    folder = Path(__file__).resolve().parents[2] / "aekit" / "viz" / "explorer"
    for asset in ("explorer.html", "explorer.js", "explorer.css"):
        assert (folder / asset).is_file() and any(Path(asset).match(p) for p in patterns)


# ------------------------------------------------------------------ bad input
def test_a_missing_folder_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder; pass run folders"):
        build_document([tmp_path / "nope"])


def test_a_run_without_a_model_is_refused(tmp_path):
    from aekit.cli._run import write_run

    write_run(tmp_path / "figures-only", command="demo", dataset="digits", report=False)
    with pytest.raises(UnsupportedRun, match="no model/ folder"):
        build_document([tmp_path / "figures-only"])


def test_an_unsupported_model_lists_what_is_supported(tmp_path):
    from aekit.cli._run import write_run
    from aekit.datasets import make_swiss_roll
    from aekit.manifold import PrincipalCurve

    pc = PrincipalCurve(n_nodes=20, max_iter=3).fit(make_swiss_roll(200).X)
    write_run(tmp_path / "pcurve", command="fit pcurve", dataset="swiss-roll", estimator=pc, report=False)
    with pytest.raises(UnsupportedRun) as info:
        build_document([tmp_path / "pcurve"])
    message = str(info.value)
    assert "PrincipalCurve" in message and "leave this folder out" in message
    for name in ("Autoencoder", "StackedAutoencoder", "PCA", "Isomap", "LocallyLinearEmbedding", "KernelPCA",
                 "CurvilinearComponentAnalysis", "SOM"):
        assert name in message and name in supported_models()


def test_a_page_over_the_limit_says_how_to_fit(explorer_runs):
    doc = build_document([explorer_runs["dae"]])
    with pytest.raises(PageTooLarge, match=r"over the limit of 0.01 MB.*--max-mb 1\b.*--float16.*--max-points"):
        render_explorer(doc, max_mb=0.01)
    assert render_explorer(doc, max_mb=None)


def test_a_run_whose_data_cannot_be_reloaded_still_explores(explorer_runs, tmp_path):
    import shutil

    run = shutil.copytree(explorer_runs["dae"], tmp_path / "dae")
    info = aio.read_json(run / "run.json")
    aio.atomic_write_json(run / "run.json", {**info, "dataset": str(tmp_path / "gone.npy")})
    doc = build_document([run])
    assert [p["kind"] for p in doc["panels"]] == ["autoencoder", "curves"]
    assert "could not be loaded" in doc["panels"][0]["notes"][0] and doc["panels"][0]["samples"] is None

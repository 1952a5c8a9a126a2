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
    assert (dae.corruption.kind, dae.corruption.level, dae.first_layer_code) == ("masking", 0.25, True)
    assert [l.activation["name"] for l in dae.layers] == ["sigmoid", "sigmoid"]
    assert ks.encoder[0].activation == {"name": "topk", "k": 6}  # predict's code keeps k units
    assert ks.encoder[0].offset is not None and ks.decoder[0].transpose_of == 0  # centred, tied
    assert [l.activation["name"] for l in deep.encoder] == ["relu", "tanh"] and not deep.first_layer_code
    assert [l.transpose_of for l in deep.decoder] == [1, 0]
    assert [layer_weight(stacked, l).shape for l in stacked.layers] == [(24, 64), (10, 24), (24, 10), (64, 24)]


def _accepted_corruption_specs():
    """Every spelling of a corruption the library accepts, with its canonical (kind, level).

    The aliases are the parser's own table, so that a new alias is tested here
    as soon as the library accepts it.
    """
    from aekit.autoencoders import CORRUPTIONS, Corruption
    from aekit.autoencoders._corruption import _ALIASES

    level = {"gaussian": 0.3}
    specs = [(None, None), ("none", None), ("NONE", None), (" none ", None), (Corruption("none"), None)]
    for kind in CORRUPTIONS:
        if kind != "none":
            specs += [(f"{kind}:{level.get(kind, 0.1)}", (kind, level.get(kind, 0.1))),
                      (f" {kind.upper()} : {level.get(kind, 0.1)} ", (kind, level.get(kind, 0.1))),
                      (Corruption(kind, 0.2), (kind, 0.2))]
    specs += [(f"{alias}:0.15", (kind, 0.15)) for alias, kind in _ALIASES.items()]
    specs += [(f"{alias.title()}:0.15", (kind, 0.15)) for alias, kind in _ALIASES.items()]
    return specs


@pytest.mark.parametrize("spec, expected", _accepted_corruption_specs(), ids=repr)
def test_every_corruption_spelling_reaches_the_page_in_canonical_form(spec, expected):
    """The page's noise menu has the canonical kinds only: an alias must not reach it unchanged."""
    from aekit.autoencoders import Autoencoder
    from aekit.viz.explorer._mlp import PAGE_CORRUPTIONS

    est = Autoencoder(4, corruption=spec, max_epochs=1, batch_size=32, random_state=0).fit(_digits()[:64])
    mlp = describe(est)
    if expected is None:
        assert mlp.corruption is None
    else:
        assert mlp.corruption.kind in PAGE_CORRUPTIONS
        assert (mlp.corruption.kind, mlp.corruption.level) == expected and mlp.corruption_source == "training"


def test_the_panel_holds_the_canonical_corruption_and_where_it_applied(tmp_path):
    from aekit.autoencoders import Autoencoder, DenoisingAutoencoder, StackedAutoencoder
    from aekit.cli._run import write_run

    X = _digits()[:200]
    quick = dict(max_epochs=1, batch_size=50, random_state=0)
    single = Autoencoder(8, corruption="salt-and-pepper:0.1", **quick).fit(X)
    clean = Autoencoder(8, corruption="none", **quick).fit(X)
    stacked = StackedAutoencoder([DenoisingAutoencoder(8, corruption="Mask:0.3", **quick),
                                  DenoisingAutoencoder(4, corruption="gaussian:0.5", **quick)], **quick).fit(X)
    later = StackedAutoencoder([Autoencoder(8, **quick), DenoisingAutoencoder(4, corruption="masking:0.5", **quick)],
                               **quick).fit(X)
    panels = {}
    for name, est in (("single", single), ("clean", clean), ("stacked", stacked), ("later", later)):
        run = write_run(tmp_path / name, command="fit", dataset="digits", estimator=est, metrics={"n_samples": 200},
                        report=False)
        panels[name] = build_document([run])["panels"][0]
    assert panels["single"]["corruption"] == {"kind": "salt_and_pepper", "level": 0.1, "source": "training"}
    assert panels["clean"]["corruption"] is None
    # a stack's inputs saw its first layer's corruption, in that layer's pretraining
    assert panels["stacked"]["corruption"] == {"kind": "masking", "level": 0.3, "source": "first-layer pretraining"}
    assert panels["later"]["corruption"] is None  # a deeper layer's corruption applied to codes, not to inputs


def test_a_stacked_classifier_reads_its_first_layers_corruption():
    from aekit.autoencoders import DenoisingAutoencoder, StackedAutoencoderClassifier
    from aekit.datasets import load_digits

    digits = load_digits()
    clf = StackedAutoencoderClassifier([DenoisingAutoencoder(16, corruption="salt_pepper:0.2", max_epochs=1,
                                                             random_state=0)], max_epochs=1,
                                       random_state=0).fit(digits.X[:300], digits.y[:300])
    mlp = describe(clf)
    assert (mlp.corruption.kind, mlp.corruption.level, mlp.corruption_source) == ("salt_and_pepper", 0.2,
                                                                                  "first-layer pretraining")


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


# ------------------------------------------------------------------ extending: registered builders, text contexts
def test_a_registered_builder_makes_the_panels_of_its_class_and_its_subclasses():
    from aekit.decomposition import PCA
    from aekit.viz.explorer import panel_builder, register_panels

    class Probe:
        pass

    class SubProbe(Probe):
        pass

    class MyPCA(PCA):
        pass

    def probe_panels(run, table, *, max_points):
        return []

    assert panel_builder(Probe()) is None and "Probe" not in supported_models()
    assert register_panels(Probe, probe_panels) is probe_panels
    assert panel_builder(Probe()) is probe_panels and panel_builder(SubProbe()) is probe_panels
    assert "Probe" in supported_models() and "PCA" in supported_models()  # the built-ins stay
    with pytest.raises(ValueError, match="already has a panel builder.*replace=True"):
        register_panels(Probe, lambda run, table, *, max_points: [])

    @register_panels(SubProbe)  # a subclass's own builder wins over its parent's
    def sub_panels(run, table, *, max_points):
        return []

    assert panel_builder(SubProbe()) is sub_panels and panel_builder(Probe()) is probe_panels
    assert panel_builder(MyPCA()) is panel_builder(PCA())  # the most specific registered class
    register_panels(MyPCA, sub_panels)
    assert panel_builder(MyPCA()) is sub_panels and panel_builder(PCA()) is not sub_panels
    with pytest.raises(TypeError, match="estimator class"):
        register_panels(Probe(), probe_panels)
    with pytest.raises(TypeError, match="callable"):
        register_panels(type("Other", (), {}), "not a function")


WORDS = "the cat sat on the mat and the dog ran to the park while it rained".split()


class TokenProbe:
    """A stand-in for a model of token activations (the coming sparse autoencoders): a fixed 2-D projection."""

    def __init__(self, n_features):
        self.P = np.random.default_rng(0).normal(size=(n_features, 2)).astype(np.float32)


def token_contexts(rows):
    """Each row is token ``row % len(WORDS)`` of the text, with up to 3 tokens either side."""
    from aekit.viz.explorer import TokenContext

    out = []
    for r in np.asarray(rows):
        i = int(r) % len(WORDS)
        lo = max(0, i - 3)
        out.append(TokenContext([w if j == 0 else " " + w for j, w in enumerate(WORDS[lo:i + 4])], i - lo))
    return out


def token_run(tmp_path, contexts=token_contexts):
    """A Run of 300 token activations (32 features) whose builder shows a scatter with the tokens' contexts."""
    from aekit.datasets import Dataset
    from aekit.viz.explorer import Run, register_panels
    from aekit.viz.explorer._panels import embedding_panel, panel_builder

    if panel_builder(TokenProbe(1)) is None:
        @register_panels(TokenProbe)
        def token_panels(run, table, *, max_points):
            table.key(run.info["dataset"], run.data, contexts=run.data.extras["contexts"])
            return [embedding_panel(run, table, run.X @ run.estimator.P, np.arange(len(run.X)),
                                    title="token activations", axes=["p1", "p2"])]

    X = np.random.default_rng(1).normal(size=(300, 32)).astype(np.float32)
    data = Dataset("tokens", X, np.arange(300) % len(WORDS), extras={"contexts": contexts})
    return Run(tmp_path, "tokens", {"dataset": "tokens"}, {}, [], TokenProbe(32), data=data, X=X)


def test_rows_that_are_tokens_carry_their_contexts_into_the_document(tmp_path):
    doc = build_document([token_run(tmp_path)])
    (scatter,) = doc["panels"]
    entry = doc["datasets"]["tokens"]
    assert scatter["kind"] == "embedding" and scatter["dataset"] == "tokens"
    assert entry["rows"].tolist() == list(range(300)) and "images" not in entry and "values" not in entry
    contexts = entry["contexts"]
    assert len(contexts["tokens"]) == 300 and contexts["position"].dtype == np.int32
    for r in (0, 5, 299):
        tokens, at = contexts["tokens"][r], contexts["position"][r]
        assert tokens[at].strip() == WORDS[r % len(WORDS)]
    render_explorer(doc)  # the contexts encode (lists of strings, an int32 array)


def test_a_bad_context_source_is_refused_with_the_row(tmp_path):
    from aekit.viz.explorer import TokenContext

    with pytest.raises(ValueError, match="gave 2 contexts for 300 rows"):
        build_document([token_run(tmp_path, contexts=lambda rows: token_contexts(rows[:2]))])
    with pytest.raises(ValueError, match="row 0: expected a TokenContext whose position indexes its tokens"):
        build_document([token_run(tmp_path, contexts=lambda rows: [TokenContext(["a"], 3)] * len(rows))])


# ------------------------------------------------------------------ bad input
def test_a_missing_folder_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder; pass run folders"):
        build_document([tmp_path / "nope"])


def test_a_run_without_a_model_is_refused(tmp_path):
    from aekit.cli._run import write_run

    write_run(tmp_path / "figures-only", command="demo", dataset="digits", report=False)
    with pytest.raises(UnsupportedRun, match="no model/ folder"):
        build_document([tmp_path / "figures-only"])


@pytest.mark.parametrize("broken", [{"drop": "class"}, {"drop": "params"}, {"set": ("class", 3)}])
def test_a_model_config_without_its_class_says_so(explorer_runs, tmp_path, broken):
    import shutil

    run = shutil.copytree(explorer_runs["pca"], tmp_path / "pca")
    config = aio.read_json(run / "model" / "config.json")
    if "drop" in broken:
        del config[broken["drop"]]
        key, found = broken["drop"], "is missing"
    else:
        key, value = broken["set"]
        config[key], found = value, "is of type 'int', not 'str'"
    aio.atomic_write_json(run / "model" / "config.json", config)
    with pytest.raises(ValueError, match=rf"config.json: the entry '{key}' .* {found}.*aekit.io.save"):
        build_document([run])


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

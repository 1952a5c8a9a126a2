"""The explorer page in headless Chromium: real mouse input, what the page computes, no network.

Every interaction goes through DevTools ``Input.dispatchMouseEvent`` (the page
gets real pointer and mouse events); what the page computed is read back with
``Runtime.evaluate`` from ``window.aekitExplorer.state(panel)``.

Agreement tolerances (see aekit.viz.explorer._mlp.error_bound): per entry, the
page (float64 arithmetic on the stored float32 weights) and PyTorch (float32)
may differ by the sum of their worst-case rounding bounds, computed from the
unit roundoffs 2^-24 and 2^-53 and the scale |W||a| + |b| of every layer; the
page must match the float64 NumPy reference of the same stored weights within
twice the float64 bound (it implements the model exactly, up to summation
order). A float16 page may differ from PyTorch by the float16 bound (weights
rounded by 2^-11) instead. Measured differences are printed (``-s``).
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch

from aekit import io as aio
from aekit.viz.explorer import describe, error_bound, forward, write_explorer
from aekit.viz.explorer._mlp import U64, decode

AUTOENCODERS = ["dae", "ksparse", "deep", "stacked"]
LOAD_SECONDS = 2.0  # the budget for opening the page
# A scatter of 10 000 points must stay fluid: a full redraw (rasterized, not only recorded) within two
# frames at 60 Hz, and the whole hover of a point (lookup, highlight, tooltip) well within one frame.
# Measured on the 2-core test machine with other work running (load 8): about 1 ms and 1.5-3 ms; the bounds
# leave room for a slower or busier machine.
REDRAW_MS, HOVER_MS, BRUSH_MS = 33.0, 16.0, 100.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pages(explorer_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer-pages")
    order = ["dae", "ksparse", "deep", "stacked", "pca", "isomap", "som"]
    full = write_explorer([explorer_runs[n] for n in order], root / "explorer.html")
    half = write_explorer([explorer_runs[n] for n in ("dae", "deep")], root / "explorer16.html", float16=True)
    return {"float32": full, "float16": half}


@pytest.fixture(scope="module")
def models(explorer_runs):
    return {n: aio.load(explorer_runs[n] / "model") for n in [*AUTOENCODERS, "som"]}


def digits28(n: int, seed: int = 0):
    """MNIST-shaped data that ships offline: ``n`` images (n, 28, 28) in [0, 1] and their labels.

    The 8 x 8 digits upscaled 3.5 times (bilinear) into the middle 28 x 28 and
    shifted by up to 2 pixels each way, so that the images differ from one another.
    """
    from scipy.ndimage import zoom

    from aekit.datasets import load_digits

    digits = load_digits()
    big = np.clip(zoom(digits.X.reshape(-1, 8, 8), (1, 3.5, 3.5), order=1), 0, 1).astype(np.float32)
    rng = np.random.default_rng(seed)
    rows = np.arange(n) % len(big)
    images = np.zeros((n, 32, 32), dtype=np.float32)
    for i, (r, (dy, dx)) in enumerate(zip(rows, rng.integers(0, 5, size=(n, 2)))):
        images[i, dy:dy + 28, dx:dx + 28] = big[r]
    return images[:, 2:30, 2:30], digits.y[rows]


@pytest.fixture(scope="module")
def mnist_sized(tmp_path_factory):
    """A 784-1000-784 sigmoid autoencoder (1.57 M weights, one epoch) on 3000 images of 28 x 28, and its page."""
    from aekit.autoencoders import Autoencoder
    from aekit.cli._run import write_run

    root = tmp_path_factory.mktemp("explorer-784")
    images, y = digits28(3000)
    np.savez(root / "digits28.npz", X=images, y=y)
    X = images.reshape(len(images), -1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        est = Autoencoder(1000, loss="cross_entropy", max_epochs=1, batch_size=64, learning_rate=1e-3,
                          random_state=0).fit(X)
    finally:
        torch.set_num_threads(before)
    run = write_run(root / "ae784", command="test ae784", dataset=str(root / "digits28.npz"), estimator=est,
                    metrics={"n_samples": len(X)}, history=est.history_, report=False)
    return write_explorer([run], root / "ae784.html"), est


@pytest.fixture(scope="module")
def big_scatters(tmp_path_factory):
    """A page of two 10 000-point scatters: PCA of 28 x 28 images (hover shows the image) and of a swiss roll
    (beside its 3-D points, linked)."""
    from aekit.cli._run import write_run
    from aekit.datasets import make_swiss_roll
    from aekit.decomposition import PCA

    root = tmp_path_factory.mktemp("explorer-10k")
    images, y = digits28(10_000, seed=1)
    np.savez(root / "digits28.npz", X=images, y=y)
    roll = make_swiss_roll(10_000)
    np.savez(root / "roll.npz", X=roll.X, y=roll.y)
    runs = [write_run(root / "images", command="test", dataset=str(root / "digits28.npz"),
                      estimator=PCA(2).fit(images.reshape(10_000, -1)), metrics={"n_samples": 10_000}, report=False),
            write_run(root / "roll", command="test", dataset=str(root / "roll.npz"), estimator=PCA(2).fit(roll.X),
                      metrics={"n_samples": 10_000}, report=False)]
    return write_explorer(runs, root / "scatter10k.html"), y, roll


@pytest.fixture(scope="module")
def alias_pages(tmp_path_factory):
    """Models whose corruption was written with an alias: a stack (first layer 'salt-and-pepper:0.1') and 'none'."""
    from aekit.autoencoders import Autoencoder, DenoisingAutoencoder, StackedAutoencoder
    from aekit.cli._run import write_run
    from aekit.datasets import load_digits

    root = tmp_path_factory.mktemp("explorer-aliases")
    X = load_digits().X[:600]
    quick = dict(max_epochs=2, batch_size=64, random_state=0)
    stacked = StackedAutoencoder([DenoisingAutoencoder(24, corruption="salt-and-pepper:0.1", **quick),
                                  Autoencoder(10, **quick)], **quick).fit(X)
    plain = Autoencoder(16, corruption="none", **quick).fit(X)
    runs = [write_run(root / name, command="test", dataset="digits", estimator=est, metrics={"n_samples": 600},
                      report=False) for name, est in (("sp", stacked), ("none", plain))]
    return write_explorer(runs, root / "aliases.html"), {"sp": stacked, "none": plain}


def _open(browser, path) -> float:
    return browser.open(path.resolve().as_uri(), ready="window.aekitExplorer && window.aekitExplorer.ready === true")


def _state(browser, panel: str) -> dict:
    return browser.json(f"aekitExplorer.state({json.dumps(panel)})")


def _in(panel: str, selector: str) -> str:
    return f'section[data-panel="{panel}"] {selector}'


def _click_element(browser, selector: str, fx: float = 0.5, fy: float = 0.5):
    r = browser.rect(selector)
    browser.click(r["x"] + fx * r["width"], r["y"] + fy * r["height"])


def _choose(browser, selector: str, value: str):
    """Pick an option of a <select> as a user does: click it open, arrow keys to the option, Enter."""
    options = browser.evaluate(f"Array.from(document.querySelector({json.dumps(selector)}).options).map(o => o.value)")
    current = options.index(browser.evaluate(f"document.querySelector({json.dumps(selector)}).value"))
    target = options.index(value)
    _click_element(browser, selector)  # opens its menu, and focuses it
    for _ in range(abs(target - current)):
        browser.key("ArrowDown" if target > current else "ArrowUp")
    browser.key("Enter")
    assert browser.evaluate(f"document.querySelector({json.dumps(selector)}).value") == value


def _torch_code_and_recon(est, X):
    module = est.module_
    with torch.no_grad():
        T = torch.from_numpy(np.asarray(X, dtype=np.float32))
        code = module.encode(T)
    return code.numpy(), est.predict(X)


def _check_agreement(est, x, code, recon, *, float16: bool):
    """The page's (code, reconstruction) of input ``x`` against PyTorch and the float64 reference."""
    mlp = describe(est)
    x = np.asarray(x, dtype=np.float32)[None]
    page_mlp = mlp
    if float16:
        from dataclasses import replace

        def r(layer):
            return layer if layer.weight is None else replace(layer, weight=layer.weight.astype(np.float16).astype(np.float32))

        page_mlp = replace(mlp, encoder=[r(l) for l in mlp.encoder], decoder=[r(l) for l in mlp.decoder])
    code, recon = np.asarray(code)[None], np.asarray(recon)[None]
    ref_code, ref_recon = forward(page_mlp, x)
    b64_code, b64_recon = error_bound(page_mlp, x, unit_roundoff=U64)
    assert np.all(np.abs(code - ref_code) <= 2 * b64_code + 1e-300)
    assert np.all(np.abs(recon - ref_recon) <= 2 * b64_recon + 1e-300)
    torch_code, torch_recon = _torch_code_and_recon(est, x)
    b_code, b_recon = error_bound(mlp, x, float16=float16)
    assert np.isfinite(b_recon).all(), "the drawn input sits on a top-k tie: change the test stroke"
    d_code, d_recon = np.abs(code - torch_code), np.abs(recon - torch_recon)
    assert np.all(d_code <= b_code + b64_code) and np.all(d_recon <= b_recon + b64_recon)
    return float(d_code.max()), float(d_recon.max()), float(b_recon.max())


# ------------------------------------------------------------------ loading
def test_the_page_loads_fast_with_no_error_and_no_request(browser, pages):
    for precision, path in pages.items():
        seconds = _open(browser, path)
        assert browser.errors() == []
        assert browser.requests() == [path.resolve().as_uri()]  # the file itself and nothing else
        assert seconds < LOAD_SECONDS, f"{precision} page took {seconds:.2f} s"
        assert browser.evaluate("aekitExplorer.unknownKinds") == []
        doc_panels = browser.evaluate("Array.from(document.querySelectorAll('section.panel')).map(s => s.dataset.panel)")
        assert browser.evaluate("aekitExplorer.panelIds") == doc_panels
        print(f"\n{precision} page: {path.stat().st_size / 1e6:.2f} MB, ready in {seconds:.3f} s")


def test_a_panel_kind_the_page_does_not_know_is_listed_and_the_rest_shown(browser, explorer_runs, tmp_path):
    from aekit.viz.explorer import build_document, render_explorer

    doc = build_document([explorer_runs["pca"]])
    # a kind of a newer aekit (the latent browser, "latents", was this example until it was written)
    doc["panels"].insert(0, {"kind": "circuits", "id": "lm/circuits", "run": "lm", "title": "circuit browser",
                             "notes": [], "edges": np.zeros((3, 4), dtype=np.float32)})
    page = tmp_path / "future.html"
    page.write_text(render_explorer(doc), encoding="utf-8")
    _open(browser, page)
    assert browser.errors() == [] and browser.evaluate("aekitExplorer.unknownKinds") == ["circuits"]
    assert browser.evaluate("aekitExplorer.panelIds") == ["pca/embedding"]
    assert "does not know panels of kind" in browser.evaluate("document.querySelector('section[data-kind=circuits]').textContent")


def test_the_harness_sees_requests_to_the_network(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
                       "<script>fetch('http://127.0.0.1:9/y').catch(() => {})</script></body></html>")
    browser.open(control.resolve().as_uri())
    time.sleep(0.3)
    requests = browser.requests()
    assert "http://127.0.0.1:9/x.png" in requests and "http://127.0.0.1:9/y" in requests


def test_the_page_activations_agree_with_torch(browser, pages):
    from aekit.autoencoders import ACTIVATIONS

    _open(browser, pages["float32"])
    z = np.linspace(-30, 30, 601)
    names = browser.evaluate("Object.keys(aekitExplorer.activations)")
    assert set(names) == set(ACTIVATIONS)
    for name in names:
        page = np.array(browser.evaluate(f"{json.dumps(z.tolist())}.map(aekitExplorer.activations[{json.dumps(name)}])"))
        ref = ACTIVATIONS[name](torch.from_numpy(z)).numpy()
        tol = 3e-8 * (1 + np.abs(z)) if name == "gelu" else 1e-13 * (1 + np.abs(ref))
        assert np.all(np.abs(page - ref) <= tol), name


# ------------------------------------------------------------------ draw and see
STROKE = [(0.25, 0.2), (0.75, 0.22), (0.5, 0.55), (0.42, 0.85)]  # a "7", in fractions of the canvas


def _draw(browser, panel, stroke=STROKE, *, centre=False):
    _click_element(browser, _in(panel, "button"))  # "clear"
    if browser.evaluate(f"document.querySelector({json.dumps(_in(panel, 'input[type=checkbox]'))}).checked") != centre:
        _click_element(browser, _in(panel, "input[type=checkbox]"))
    r = browser.rect(_in(panel, "canvas.draw"))
    browser.drag([(r["x"] + fx * r["width"], r["y"] + fy * r["height"]) for fx, fy in stroke])
    return _state(browser, panel)


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_drawing_with_the_mouse_gives_the_python_model_output(browser, pages, models, name):
    _open(browser, pages["float32"])
    panel = f"{name}/autoencoder"
    s = _draw(browser, panel)
    x = np.array(s["input"]).reshape(8, 8)
    # the stroke is where it was drawn: the middle of the top bar, not the bottom-right corner
    assert x[1, 3:5].min() > 0.4 and x[7, 7] == 0 and x[5:, 6:].max() < 0.05
    assert browser.errors() == []
    d_code, d_recon, bound = _check_agreement(models[name], s["corrupted"], s["code"], s["reconstruction"], float16=False)
    print(f"\n{name}: page vs PyTorch max |diff| code {d_code:.2e}, reconstruction {d_recon:.2e} (bound {bound:.2e})")
    # a second stroke adds to the first, and the page recomputes
    r = browser.rect(_in(panel, "canvas.draw"))
    browser.drag([(r["x"] + 0.2 * r["width"], r["y"] + 0.6 * r["height"]), (r["x"] + 0.8 * r["width"], r["y"] + 0.6 * r["height"])])
    s2 = _state(browser, panel)
    assert np.sum(s2["input"]) > np.sum(s["input"]) + 1
    _check_agreement(models[name], s2["corrupted"], s2["code"], s2["reconstruction"], float16=False)


@pytest.mark.parametrize("name", ["dae", "deep"])
def test_a_float16_page_stays_within_the_float16_bound(browser, pages, models, name):
    _open(browser, pages["float16"])
    s = _draw(browser, f"{name}/autoencoder")
    d_code, d_recon, bound = _check_agreement(models[name], s["corrupted"], s["code"], s["reconstruction"], float16=True)
    print(f"\n{name} float16: page vs PyTorch max |diff| code {d_code:.2e}, reconstruction {d_recon:.2e} (bound {bound:.2e})")


def test_a_picked_image_is_the_dataset_row(browser, pages, models):
    from aekit.datasets import load_digits

    _open(browser, pages["float32"])
    _click_element(browser, _in("dae/autoencoder", ".samples canvas:nth-child(5)"))
    s = _state(browser, "dae/autoencoder")
    rows = browser.evaluate("aekitExplorer.panel('dae/autoencoder').p.samples.rows.data[4]")
    assert np.array_equal(np.float32(s["input"]), load_digits().X[rows])
    _check_agreement(models["dae"], s["corrupted"], s["code"], s["reconstruction"], float16=False)


def test_the_noise_slider_and_kinds_corrupt_as_the_library_does(browser, pages):
    _open(browser, pages["float32"])
    panel = "dae/autoencoder"
    s = _draw(browser, panel)
    assert s["noise"] == {"kind": "masking", "level": 0.25, "seed": 1}  # the model's own corruption
    x, xt, mask = (np.array(s[k]) for k in ("input", "corrupted", "mask"))
    assert mask.sum() == 16 and np.all(xt[mask == 1] == 0) and np.array_equal(xt[mask == 0], x[mask == 0])
    _click_element(browser, _in(panel, 'input[aria-label="noise level"]'), fx=0.75)  # a real click on the track
    s = _state(browser, panel)
    level = s["noise"]["level"]
    assert 0.6 < level < 0.8 and sum(s["mask"]) == math.floor(level * 64 + 0.5)
    _choose(browser, _in(panel, "select"), "salt_and_pepper")
    s = _state(browser, panel)
    x, xt, mask = (np.array(s[k]) for k in ("input", "corrupted", "mask"))
    assert set(np.unique(xt[mask == 1])) <= {x.min(), x.max()} and np.array_equal(xt[mask == 0], x[mask == 0])


def test_a_corruption_alias_gives_the_pages_kind_and_level(browser, alias_pages):
    page, models = alias_pages
    _open(browser, page)
    panel = "sp/autoencoder"
    s = _draw(browser, panel)
    assert s["noise"] == {"kind": "salt_and_pepper", "level": 0.1, "seed": 1}
    assert browser.evaluate(f"document.querySelector({json.dumps(_in(panel, 'select'))}).value") == "salt_and_pepper"
    x, xt, mask = (np.array(s[k]) for k in ("input", "corrupted", "mask"))
    assert mask.sum() == math.floor(0.1 * 64 + 0.5)  # the input is corrupted, as the caption says
    assert set(np.unique(xt[mask == 1])) <= {x.min(), x.max()} and np.array_equal(xt[mask == 0], x[mask == 0])
    captions = browser.evaluate(f"Array.from(document.querySelectorAll({json.dumps(_in(panel, '.caption'))})).map(e => e.textContent)")
    assert "the model's first-layer pretraining used salt and pepper 0.1" in captions
    _check_agreement(models["sp"], s["corrupted"], s["code"], s["reconstruction"], float16=False)
    panel = "none/autoencoder"
    s = _draw(browser, panel)
    assert s["noise"]["kind"] == "none" and sum(s["mask"]) == 0 and s["corrupted"] == s["input"]
    assert browser.evaluate(f"document.querySelector({json.dumps(_in(panel, 'select'))}).value") == "none"
    captions = browser.evaluate(f"Array.from(document.querySelectorAll({json.dumps(_in(panel, '.caption'))})).map(e => e.textContent)")
    assert "the model was trained without corruption" in captions and not any("none 0" in c for c in captions)
    assert browser.errors() == []


def test_a_code_slider_decodes_live(browser, pages, models):
    _open(browser, pages["float32"])
    panel, est = "dae/autoencoder", models["dae"]
    before = _draw(browser, panel)
    unit = before["sliderUnits"][0]
    _click_element(browser, _in(panel, ".sliders input:nth-of-type(1)"), fx=0.9)
    s = _state(browser, panel)
    walk = np.array(s["walk"])
    assert walk[unit] != before["code"][unit]
    assert np.array_equal(np.delete(walk, unit), np.delete(np.array(before["code"]), unit))
    mlp = describe(est)
    _, bound = error_bound(mlp, walk[None], decoder_only=True)
    _, bound64 = error_bound(mlp, walk[None], decoder_only=True, unit_roundoff=U64)
    assert np.all(np.abs(np.array(s["walked"]) - decode(mlp, walk[None])[0]) <= 2 * bound64[0])
    assert np.all(np.abs(np.array(s["walked"]) - est.inverse_transform(walk[None].astype(np.float32))[0]) <= (bound + bound64)[0])
    # along a principal direction of the codes
    _choose(browser, _in(panel, 'select[aria-label="walk mode"]'), "directions")
    _click_element(browser, _in(panel, ".sliders input:nth-of-type(1)"), fx=0.9)
    s = _state(browser, panel)
    D = browser.json("JSON.stringify((p => ({v: Array.from(p.directions.vectors.data).slice(0, p.directions.vectors.shape[1]),"
                     " std: p.directions.std.data[0]}))(aekitExplorer.panel('dae/autoencoder').p))")
    t = s["directions"][0]
    assert s["mode"] == "directions" and 2 < t < 3 and s["directions"][1:] == [0, 0, 0]
    assert np.allclose(s["walk"], np.array(before["code"]) + t * D["std"] * np.array(D["v"]), rtol=0, atol=1e-12)
    assert np.all(np.abs(np.array(s["walked"]) - decode(mlp, np.array(s["walk"])[None])[0]) <= 1e-9)


@pytest.mark.parametrize("name", ["dae", "stacked"])
def test_clicking_a_unit_shows_its_filter_maximizing_input_and_top_images(browser, pages, models, name):
    _open(browser, pages["float32"])
    panel = f"{name}/autoencoder"
    _draw(browser, panel)
    chip = browser.evaluate(f"document.querySelectorAll({json.dumps(_in(panel, '.chip'))})[1].dataset.unit")
    _click_element(browser, _in(panel, ".chip:nth-child(2)"))
    s = _state(browser, panel)
    unit = int(chip)
    assert s["selected"] == unit and s["unitTitle"].startswith(f"unit {unit} ")
    captions = browser.evaluate(f"Array.from(document.querySelectorAll({json.dumps(_in(panel, '.box > .caption'))})).map(e => e.textContent)")
    assert any(c.startswith("maximizing input") for c in captions)
    assert any(c.startswith("filter") for c in captions) == (name == "dae")  # first-layer codes only
    from aekit.datasets import load_digits

    X = load_digits().X[: (1200 if name == "stacked" else None)]
    codes, _ = _torch_code_and_recon(models[name], X)
    rows = s["topRows"]
    assert len(rows) == 8
    assert rows[0] == int(np.argmax(codes[:, unit])) or codes[rows[0], unit] >= codes[:, unit].max() - 1e-5
    assert np.all(codes[rows, unit] >= np.sort(codes[:, unit])[-8] - 1e-5)


def _autograd_filter(mlp, x, unit):
    """d z_unit / d x of the code layer's pre-activation by torch autograd, in float64."""
    from aekit.autoencoders import ACTIVATIONS, topk
    from aekit.viz.explorer._mlp import layer_weight

    x = torch.tensor(np.asarray(x, dtype=np.float64)[None], requires_grad=True)
    a = x
    for i, layer in enumerate(mlp.encoder):
        if layer.offset is not None:
            a = a - torch.from_numpy(layer.offset.astype(np.float64))
        z = a @ torch.from_numpy(layer_weight(mlp, layer).astype(np.float64)).T + torch.from_numpy(layer.bias.astype(np.float64))
        if i == len(mlp.encoder) - 1:
            break
        act = layer.activation
        a = topk(z, act["k"]) if act["name"] == "topk" else ACTIVATIONS[act["name"]](z)
    z[0, unit].backward()
    return x.grad[0].numpy()


@pytest.mark.parametrize("name", ["dae", "deep", "stacked"])
def test_a_units_filter_is_its_weight_row_or_its_local_filter_at_the_input(browser, pages, models, name):
    """First-layer codes: the weight row. Deep codes: the gradient of the unit's pre-activation at the input the
    encoder saw, against torch autograd (both float64: the difference is summation order, ~1e-15 relative)."""
    _open(browser, pages["float32"])
    panel = f"{name}/autoencoder"
    _draw(browser, panel)
    _click_element(browser, _in(panel, ".chip:nth-child(3)"))
    s = _state(browser, panel)
    mlp = describe(models[name])
    unit, filt = s["selected"], np.array(s["filter"])
    captions = browser.evaluate(f"Array.from(document.querySelectorAll({json.dumps(_in(panel, '.box > .caption'))})).map(e => e.textContent)")
    notes = browser.evaluate(f"Array.from(document.querySelectorAll({json.dumps(_in(panel, '.unit-note'))}))"
                             ".filter(e => !e.hidden).map(e => e.textContent)")
    if name == "dae":
        assert np.array_equal(filt, mlp.encoder[0].weight[unit].astype(np.float64))
        assert "filter (first-layer weights)" in captions and notes == []
        return
    reference = _autograd_filter(mlp, s["corrupted"], unit)
    assert np.abs(reference).max() > 0  # the unit responds to the input here
    assert np.allclose(filt, reference, rtol=0, atol=1e-12 * np.abs(reference).max())
    assert "local filter at this input (∂z/∂x)" in captions and any(c.startswith("maximizing input") for c in captions)
    assert len(notes) == 1 and "first-layer codes only" in notes[0]
    # the filter is the unit's linear response: a small step along it raises the pre-activation by |filter|^2 step
    from aekit.viz.explorer._mlp import torch_pre_code

    x = np.array(s["corrupted"], dtype=np.float32)
    step = 1e-3 / np.linalg.norm(filt)
    with torch.no_grad():
        z0, z1 = (torch_pre_code(mlp)(torch.from_numpy(v[None].astype(np.float32)))[0, unit].item()
                  for v in (x, x + step * filt))
    assert abs((z1 - z0) / (step * filt @ filt) - 1) < 0.05


# ------------------------------------------------------------------ embeddings
def _hover_point(browser, panel, i, canvas_index=1):
    """Move the mouse onto point ``i`` of the panel's scatter; return the state."""
    s = _state(browser, panel)
    r = browser.rect(_in(panel, f".stack canvas:nth-child({canvas_index + 1})"), content=True)
    xy = s["xy"] if canvas_index == 1 else s["xy3"]
    browser.mouse("move", r["x"] + xy[2 * i], r["y"] + xy[2 * i + 1])
    return _state(browser, panel)


def test_hovering_a_scatter_point_shows_its_image_and_label(browser, pages):
    from aekit.datasets import load_digits

    _open(browser, pages["float32"])
    digits = load_digits()
    for i in (0, 17, 1000):
        s = _hover_point(browser, "pca/embedding", i)
        hover = s["hover"]
        xy = np.array(s["xy"]).reshape(-1, 2)
        assert np.linalg.norm(xy[hover["index"]] - xy[i]) <= 8  # the point under the mouse (or one on top of it)
        assert hover["row"] == hover["index"] and hover["label"] == str(digits.y[hover["row"]]) and hover["image"]
        tip = browser.evaluate("(t => ({hidden: t.hidden, canvases: t.querySelectorAll('canvas').length, text: t.textContent}))(document.getElementById('tooltip'))")
        assert not tip["hidden"] and tip["canvases"] == 1 and f"label {digits.y[hover['row']]}" in tip["text"]


def _inside(xy, a, b, margin):
    """Points of ``xy`` (n, 2) inside the rectangle of corners a and b grown by ``margin`` pixels."""
    return set(np.flatnonzero((xy[:, 0] >= a[0] - margin) & (xy[:, 0] <= b[0] + margin)
                              & (xy[:, 1] >= a[1] - margin) & (xy[:, 1] <= b[1] + margin)).tolist())


def _check_brushed(selected, xy, a, b):
    """The page selected the points inside the dragged rectangle (mouse events land on whole pixels)."""
    selected = set(selected)
    assert _inside(xy, a, b, -1.5) <= selected <= _inside(xy, a, b, 1.5)


def test_brushing_links_the_embedding_and_the_raw_points(browser, pages):
    _open(browser, pages["float32"])
    panel = "isomap/embedding"
    s = _state(browser, panel)
    assert s["linked"] and s["n"] == 700
    xy, xy3 = np.array(s["xy"]).reshape(-1, 2), np.array(s["xy3"]).reshape(-1, 2)
    r = browser.rect(_in(panel, ".stack canvas:nth-child(2)"), content=True)
    (x0, y0), (x1, y1) = (60, 40), (300, 260)
    browser.drag([(r["x"] + x0, r["y"] + y0), (r["x"] + x1, r["y"] + y1)])
    s = _state(browser, panel)
    assert 50 < len(s["selected"]) < 650
    _check_brushed(s["selected"], xy, (x0, y0), (x1, y1))
    shown3d = browser.evaluate(f"Array.from(aekitExplorer.panel({json.dumps(panel)}).scatter3.selected).sort((a, b) => a - b)")
    assert shown3d == s["selected"]  # brushing the embedding highlights the same points in 3-D
    # brushing the raw points highlights in the embedding; hovering one there marks it in both
    r3 = browser.rect(_in(panel, ".box:nth-child(2) .stack canvas:nth-child(2)"), content=True)
    (a0, b0), (a1, b1) = (150, 150), (260, 300)
    browser.drag([(r3["x"] + a0, r3["y"] + b0), (r3["x"] + a1, r3["y"] + b1)])
    s = _state(browser, panel)
    assert len(s["selected"]) > 10
    _check_brushed(s["selected"], xy3, (a0, b0), (a1, b1))
    assert browser.evaluate(f"aekitExplorer.panel({json.dumps(panel)}).scatter.selected.size") == len(s["selected"])
    i = int(s["selected"][len(s["selected"]) // 2])
    browser.mouse("move", r3["x"] + xy3[i, 0], r3["y"] + xy3[i, 1])
    s = _state(browser, panel)
    j = s["hovered3d"]
    assert np.linalg.norm(xy3[j] - xy3[i]) <= 8 and s["hovered2d"] == j
    assert "x = (" in s["hover"]["text"]  # a point without an image shows its raw coordinates


def test_hovering_a_token_row_shows_its_text_context_with_the_token_marked(browser, tmp_path):
    from test_explorer import WORDS, token_run

    from aekit.viz.explorer import build_document, render_explorer

    page = tmp_path / "tokens.html"
    page.write_text(render_explorer(build_document([token_run(tmp_path)])), encoding="utf-8")
    _open(browser, page)
    assert browser.errors() == []
    for i in (3, 150):
        hover = _hover_point(browser, "tokens/embedding", i)["hover"]
        word = WORDS[hover["row"] % len(WORDS)]
        assert not hover["image"] and word in hover["context"]
        marked = browser.evaluate("Array.from(document.querySelectorAll('#tooltip .context mark')).map(m => m.textContent)")
        assert [m.strip() for m in marked] == [word]


# ------------------------------------------------------------------ SOM and curves
def test_hovering_a_som_unit_shows_its_prototype_hits_and_images(browser, pages, models):
    from aekit.datasets import load_digits

    _open(browser, pages["float32"])
    som, X = models["som"], load_digits().X
    bmu, hits = som.predict(X), som.hit_map(X).ravel()
    panel = "som/som"
    centres = _state(browser, panel)["centres"]
    r = browser.rect(_in(panel, "canvas.plot"), content=True)
    for u in (0, 8, 41):
        browser.mouse("move", r["x"] + centres[u][0], r["y"] + centres[u][1])
        s = _state(browser, panel)
        assert s["hovered"] == u
        assert f"sampleswon{hits[u]}prototype" in s["info"].replace(" ", "")
        assert len(s["shownRows"]) == min(8, hits[u]) and np.all(bmu[s["shownRows"]] == u)
    shown = browser.evaluate(f"document.querySelectorAll({json.dumps(_in(panel, '.info canvas'))}).length")
    assert shown == 1 + min(8, hits[41])  # the prototype and the images it wins


def test_training_curves_toggle_and_show_values_on_hover(browser, pages, explorer_runs):
    _open(browser, pages["float32"])
    panel = "dae/curves"
    history = aio.read_json(explorer_runs["dae"] / "history.json")
    s = _state(browser, panel)
    assert "loss" in s["visible"] and "learning_rate" not in s["visible"]
    _click_element(browser, _in(panel, 'input[data-series="loss"]'))
    assert "loss" not in _state(browser, panel)["visible"]
    _click_element(browser, _in(panel, 'input[data-series="learning_rate"]'))
    s = _state(browser, panel)
    assert "learning_rate" in s["visible"] and "loss" not in s["visible"]
    r = browser.rect(_in(panel, "canvas.plot"), content=True)
    left, right = 64, r["width"] - 16  # the plot area of the canvas (its padding)
    browser.mouse("move", r["x"] + left + (right - left) * 1 / 3, r["y"] + r["height"] / 2)  # epoch 2 of 1..4
    tip = _state(browser, panel)["tip"]
    assert tip["x"] == 2
    for v in tip["values"]:
        assert v["value"] == history[1][v["name"]]
    text = browser.evaluate("document.getElementById('tooltip').textContent")
    assert "epoch 2" in text and "reconstruction" in text


def test_a_screenshot_shows_the_drawn_digit(browser, pages, tmp_path):
    from PIL import Image

    _open(browser, pages["float32"])
    _draw(browser, "dae/autoencoder")
    png = browser.screenshot(tmp_path / "panel.png", selector='section[data-panel="dae/autoencoder"]')
    image = np.asarray(Image.open(tmp_path / "panel.png").convert("L"))
    assert png.startswith(b"\x89PNG") and image.shape[0] > 300 and image.shape[1] > 600
    r = browser.evaluate(  # the drawing canvas's box within the section's screenshot
        f"(c => {{ const a = c.getBoundingClientRect(), b = c.closest('section').getBoundingClientRect();"
        f" return {{x: a.left - b.left, y: a.top - b.top, width: a.width, height: a.height}}; }})"
        f"(document.querySelector({json.dumps(_in('dae/autoencoder', 'canvas.draw'))}))")
    x0, y0 = int(round(r["x"])), int(round(r["y"]))
    canvas = image[y0 + 2:y0 + int(r["height"]) - 2, x0 + 2:x0 + int(r["width"]) - 2]
    assert canvas[int(0.21 * canvas.shape[0]), int(0.5 * canvas.shape[1])] > 200  # the white stroke
    assert canvas[int(0.9 * canvas.shape[0]), int(0.9 * canvas.shape[1])] < 60  # the black background


# ------------------------------------------------------------------ MNIST-sized pages
def test_a_784_1000_784_page_loads_in_two_seconds_and_a_drawn_stroke_agrees(browser, mnist_sized):
    """The issue's budget on a page of the size of an MNIST model: 1.57 M float32 weights, 3000 images 28 x 28.

    The median of three loads must be under 2 s: the budget itself, with the median
    so that one load slowed by another process on the shared 2-core machine does not
    decide (the loads measured here take 0.4 to 0.9 s).
    """
    page, est = mnist_sized
    times = []
    for _ in range(3):
        times.append(_open(browser, page))
        assert browser.errors() == [] and browser.requests() == [page.resolve().as_uri()]
    print(f"\n784-1000-784 page: {page.stat().st_size / 1e6:.1f} MB, loads in {', '.join(f'{t:.2f}' for t in times)} s")
    assert 6.3 < page.stat().st_size / 1e6 < 20  # the weights (6.3 MB as float32) are in the page
    assert sorted(times)[1] < LOAD_SECONDS, times
    panel = "ae784/autoencoder"
    assert browser.evaluate(f"aekitExplorer.panel({json.dumps(panel)}).shape") == [28, 28]
    s = _draw(browser, panel)
    x = np.array(s["input"]).reshape(28, 28)
    # the stroke is where it was drawn on the 28 x 28 canvas: the top bar, not the bottom-right corner
    assert x[5:7, 10:18].max(axis=0).min() > 0.4 and x[22:, 22:].max() == 0
    d_code, d_recon, bound = _check_agreement(est, s["corrupted"], s["code"], s["reconstruction"], float16=False)
    print(f"784-1000-784: page vs PyTorch max |diff| code {d_code:.2e}, reconstruction {d_recon:.2e} (bound {bound:.2e})")
    assert len(s["code"]) == 1000 and len(s["reconstruction"]) == 784


def test_ten_thousand_scatter_points_hover_and_redraw_within_a_frame_budget(browser, big_scatters):
    page, labels, roll = big_scatters
    _open(browser, page)
    assert browser.errors() == []
    images, swiss = "images/embedding", "roll/embedding"
    assert _state(browser, images)["n"] == 10_000 and _state(browser, swiss)["n"] == 10_000
    assert _state(browser, swiss)["linked"]
    for i in (0, 4321, 9999):  # hovering shows the point's image and label
        s = _hover_point(browser, images, i)
        xy = np.array(s["xy"]).reshape(-1, 2)
        hover = s["hover"]
        assert np.linalg.norm(xy[hover["index"]] - xy[i]) <= 8
        assert hover["image"] and hover["label"] == str(labels[hover["row"]])
        assert f"label {labels[hover['row']]}" in browser.evaluate("document.getElementById('tooltip').textContent")
    hover_ms = browser.evaluate(f"aekitExplorer.panel({json.dumps(images)}).scatter.hoverMs")
    s = _hover_point(browser, swiss, 777, canvas_index=1)  # the raw 3-D point shows, and is marked in 3-D
    assert "x = (" in s["hover"]["text"] and s["hovered3d"] == s["hover"]["index"]
    assert np.allclose([float(v) for v in s["hover"]["text"].split("x = (")[1].rstrip(")").split(", ")],
                       roll.X[s["hover"]["row"]], rtol=1e-3, atol=1e-3)
    # redraw: the median of 15 full redraws, rasterized (getImageData waits for the pixels)
    redraw_ms = browser.evaluate("""(s => { const t = [];
        for (let i = 0; i < 15; i++) { const a = performance.now(); s.draw(); s.base.getContext("2d").getImageData(0, 0, 1, 1);
          t.push(performance.now() - a); }
        return t.sort((a, b) => a - b)[7]; })(aekitExplorer.panel(%s).scatter)""" % json.dumps(images))
    # brushing 10 000 linked points: a real drag, then the time of the selection's redraw of both views
    r = browser.rect(_in(swiss, ".stack canvas:nth-child(2)"), content=True)
    browser.drag([(r["x"] + 100, r["y"] + 80), (r["x"] + 380, r["y"] + 300)])
    s = _state(browser, swiss)
    assert 500 < len(s["selected"]) < 9500
    _check_brushed(s["selected"], np.array(s["xy"]).reshape(-1, 2), (100, 80), (380, 300))
    brush_ms = browser.evaluate("""(p => { const sel = new Set(p.selection), a = performance.now(); p.showSelection(sel, true);
        p.scatter.base.getContext("2d").getImageData(0, 0, 1, 1); p.scatter3.base.getContext("2d").getImageData(0, 0, 1, 1);
        return performance.now() - a; })(aekitExplorer.panel(%s))""" % json.dumps(swiss))
    print(f"\n10 000 points: redraw {redraw_ms:.1f} ms, hover {hover_ms:.2f} ms, brushing both views {brush_ms:.1f} ms")
    assert redraw_ms < REDRAW_MS and hover_ms < HOVER_MS and brush_ms < BRUSH_MS
    assert browser.errors() == []

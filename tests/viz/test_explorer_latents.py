"""The explorer's latent browser (panel kind "latents") for a sparse-autoencoder run: the document it builds, the
report it reads or computes, and the page in headless Chromium (real clicks, no network)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aekit.viz.explorer import LATENT_REPORT_FOLDER, UnsupportedRun, build_document, write_explorer

from _sae_run import VOCABULARY, sae_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_torch_thread_per_module):
    return sae_run(tmp_path_factory.mktemp("sae-explore"), n_latents=6)


def _latents_panel(doc):
    (latents,) = [p for p in doc["panels"] if p["kind"] == "latents"]
    return latents


def test_the_document_holds_the_kept_report_and_the_contexts_of_its_rows(run):
    run_dir, store, _, report = run
    doc = build_document([run_dir])
    p = _latents_panel(doc)
    assert [q["kind"] for q in doc["panels"]] == ["latents", "curves"]
    assert p["latents"].tolist() == report.latents.tolist() and p["n_rows"] == len(store)
    np.testing.assert_array_equal(p["top_rows"], report.top_rows)
    assert p["unit"] == "tokens" and p["before"] == report.before
    entry = doc["datasets"][p["dataset"]]
    shown = report.top_rows[report.top_rows >= 0]
    assert entry["rows"].tolist() == sorted(set(shown.tolist())) and entry["n_samples"] == len(store)
    assert "images" not in entry and "values" not in entry  # the store's rows are not copied into the page
    contexts = dict(zip(entry["rows"].tolist(), zip(entry["contexts"]["tokens"], entry["contexts"]["position"])))
    for i, n in zip(*np.nonzero(report.top_rows >= 0)):
        tokens, at = contexts[int(report.top_rows[i, n])]
        ids = report.context_tokens[i, n]
        assert tokens == [VOCABULARY[t] for t in ids if t >= 0]
        assert tokens[at] == VOCABULARY[ids[report.before]]  # the row's own token
        # the panel's activations line up with the tokens: slot = q + before - position
        q = np.arange(len(tokens))
        np.testing.assert_array_equal(p["context_values"][i, n][q + report.before - at],
                                      report.context_values[i, n][ids >= 0])
    assert p["promoted"]["tokens"][0] == [VOCABULARY[t] for t in report.promoted_ids[0]]
    assert dict(p["facts"])["model"] == "embedding"
    page = write_explorer([run_dir], run_dir.parent / "doc.html")
    assert page.stat().st_size < 1e6


def test_without_a_kept_report_the_panel_inspects_the_store(run, tmp_path):
    run_dir, store, sae, _ = run
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    shutil.rmtree(bare / LATENT_REPORT_FOLDER)
    p = _latents_panel(build_document([bare]))
    alive = int((sae.transform(store.rows().numpy()) != 0).any(axis=0).sum())
    assert len(p["latents"]) == min(48, alive) and p["promoted"] is None
    assert any("first 451 of 451 rows" in n for n in p["notes"])
    assert any("tokens show as ids" in n for n in p["notes"])  # the store's "embedding" has no tokenizer


def test_a_report_of_another_model_is_not_shown_as_this_ones(run, tmp_path):
    run_dir, *_ = run
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    info = json.loads((other / LATENT_REPORT_FOLDER / "report.json").read_text())
    info["info"]["run_model_sha256"] = "0" * 64
    (other / LATENT_REPORT_FOLDER / "report.json").write_text(json.dumps(info))
    p = _latents_panel(build_document([other]))
    assert any("first 451 of 451 rows" in n for n in p["notes"])  # computed again from the store


def test_a_run_without_report_or_store_says_what_to_do(run, tmp_path):
    run_dir, *_ = run
    lost = tmp_path / "lost"
    shutil.copytree(run_dir, lost)
    shutil.rmtree(lost / LATENT_REPORT_FOLDER)
    info = json.loads((lost / "run.json").read_text())
    info["dataset"] = str(tmp_path / "moved-store")
    (lost / "run.json").write_text(json.dumps(info))
    with pytest.raises(UnsupportedRun, match=r"run `aekit sae inspect` first"):
        build_document([lost])


# ------------------------------------------------------------------ in the browser
def _open(browser, path):
    browser.open(path.resolve().as_uri(), ready="window.aekitExplorer && window.aekitExplorer.ready === true")


def test_the_latent_browser_in_chromium(run, browser, tmp_path):
    from aekit.inspection import LatentReport

    run_dir, _, _, _ = run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    report = LatentReport.load(copy / LATENT_REPORT_FOLDER)
    # "<script>alert(1)</script>" before the first activation (in every context of that row: a row has one context)
    report.context_tokens[report.top_rows == report.top_rows[0, 0], report.before - 1] = 3
    report.save(copy / LATENT_REPORT_FOLDER)
    page = write_explorer([copy], tmp_path / "explore.html")
    _open(browser, page)
    assert browser.errors() == [] and browser.requests() == [page.resolve().as_uri()]
    panel_id = browser.evaluate("document.querySelector('section[data-kind=latents]').dataset.panel")

    def state():
        return browser.json(f"aekitExplorer.state({json.dumps(panel_id)})")

    def shown(t):
        return VOCABULARY[t].replace("\n", "↵")

    def expect(i):
        s = state()
        assert s["latent"] == int(report.latents[i])
        n_shown = int((report.top_rows[i] >= 0).sum())
        assert s["rows"] == report.top_rows[i][:n_shown].tolist()
        assert s["marked"] == [shown(t) for t in report.context_tokens[i, :n_shown, report.before]]
        assert s["contexts"] == ["".join(shown(t) for t in ids if t >= 0) for ids in report.context_tokens[i, :n_shown]]
        np.testing.assert_allclose(s["values"], report.top_values[i, :n_shown], rtol=1e-3)
        assert s["promoted"] == [shown(t) for t in report.promoted_ids[i]]

    expect(0)
    assert "<script>alert(1)</script>" in state()["contexts"][0]  # shown as text
    assert browser.evaluate("document.querySelectorAll('#panels script').length") == 0  # never an element
    for i in (3, 1):  # click a latent's chip, with the mouse
        r = browser.rect(f'section[data-kind=latents] .chip[data-latent="{int(report.latents[i])}"]')
        browser.click(r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
        expect(i)
    # the activating tokens of one latent line up (keyword in context)
    xs = browser.evaluate("Array.from(document.querySelectorAll('table.kwic mark'), m => Math.round(m.getBoundingClientRect().left))")
    assert len(xs) == int((report.top_rows[1] >= 0).sum()) and len(set(xs)) == 1
    assert browser.errors() == []

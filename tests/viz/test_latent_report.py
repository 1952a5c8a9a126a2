"""The page of a sparse autoencoder's latents: the activating tokens marked with their values, every token escaped,
the histograms and promoted tokens shown, nothing loaded; opened in headless Chromium."""

from __future__ import annotations

import dataclasses
import html
from html.parser import HTMLParser

import numpy as np
import pytest

from aekit.viz import render_latent_report, write_latent_report

from _sae_run import VOCABULARY, sae_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory, one_torch_thread_per_module):
    return sae_run(tmp_path_factory.mktemp("sae-page"), n_latents=6)


class Page(HTMLParser):
    """The latent sections of a page: per context row its cells' text, the marked token, the shaded spans."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections, self.tags, self.stack = {}, [], []
        self.latent = self.row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.stack.append((tag, a))
        if tag == "section" and "data-latent" in a:
            self.latent = int(a["data-latent"])
            self.sections[self.latent] = {"rows": [], "tokens": [], "svg": 0}
        elif tag == "tr" and "data-row" in a and self.latent is not None:
            self.row = {"row": int(a["data-row"]), "cells": [], "mark": None, "mark_title": None, "shaded": 0}
            self.sections[self.latent]["rows"].append(self.row)
        elif tag == "td" and self.row is not None:
            self.row["cells"].append("")
        elif tag == "mark" and self.row is not None:
            self.row["mark"], self.row["mark_title"] = "", a.get("title")
        elif tag == "svg" and self.latent is not None:
            self.sections[self.latent]["svg"] += 1

        if tag in ("span", "mark") and self.row is not None and "background" in a.get("style", ""):
            self.row["shaded"] += 1

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        if tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.row is not None and self.row["cells"]:
            self.row["cells"][-1] += data
            if any(t == "mark" for t, _ in self.stack):
                self.row["mark"] += data
        if self.latent is not None and any(t == "span" and "tok" in a.get("class", "") for t, a in self.stack):
            self.sections[self.latent]["tokens"].append(data)


def _parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    return p


def _shown(report, token_id):
    return VOCABULARY[token_id].replace("\n", "↵")


def test_every_context_marks_its_activating_token_with_its_activation(run):
    _, _, _, report = run
    page = _parse(render_latent_report(report))
    assert list(page.sections) == report.latents.tolist()
    for i, j in enumerate(report.latents):
        rows = page.sections[int(j)]["rows"]
        n_shown = int((report.top_rows[i] >= 0).sum())
        assert [r["row"] for r in rows] == report.top_rows[i][:n_shown].tolist()
        for n, r in enumerate(rows):
            value, before, after = r["cells"]
            tokens = report.context_tokens[i, n]
            assert r["mark"] == _shown(report, tokens[report.before])  # the activating token, marked
            assert float(value) == pytest.approx(float(report.top_values[i, n]), rel=1e-3)
            assert before == "".join(_shown(report, t) for t in tokens[: report.before] if t >= 0)
            assert after == "".join(_shown(report, t) for t in tokens[report.before :] if t >= 0)
            assert float(r["mark_title"]) == pytest.approx(float(report.context_values[i, n, report.before]), rel=1e-3)
            assert r["shaded"] == int((report.context_values[i, n][tokens >= 0] / report.top_values[i, 0] > 0.005).sum())
        # the histogram (an inline SVG) and the promoted and suppressed tokens
        assert page.sections[int(j)]["svg"] == 1
        shown_tokens = page.sections[int(j)]["tokens"]
        assert shown_tokens == [_shown(report, t) for t in (*report.promoted_ids[i], *report.suppressed_ids[i])]


def _with_script_token(report):
    """The report with the <script> token just before the first context's activating token."""
    tokens = report.context_tokens.copy()
    tokens[0, 0, report.before - 1] = 3
    return dataclasses.replace(report, context_tokens=tokens)


def test_token_text_is_escaped_and_the_page_loads_nothing(run):
    # a <script> token in a context: the page must show it as text, never run it
    report = _with_script_token(run[3])
    page = render_latent_report(report)
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "link" not in parsed.tags
    assert html.escape("<script>alert(1)</script>") in page and "<script>alert" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    first = parsed.sections[int(report.latents[0])]["rows"][0]
    assert "<script>alert(1)</script>" in first["cells"][1]  # the parser reads the escaped text back as text


def test_the_summary_names_the_store_and_the_selection(run):
    _, store, _, report = run
    page = render_latent_report(report)
    for text in ("embedding", "rows inspected", f"{len(store):,}", "spread over firing frequency", "never fired",
                 "largest activation", "tokens it promotes", "tokens it suppresses"):
        assert text in page, text
    assert "random (all)" in page and "random ids" not in page  # the text's name and split, not its description


def test_an_image_report_shows_the_top_images(tmp_path):
    from aekit.autoencoders import Autoencoder, SparseDictionary
    from aekit.datasets import load_digits
    from aekit.harvest import FunctionModule, harvest
    from aekit.inspection import inspect_store

    digits = load_digits()
    ae = Autoencoder(16, max_epochs=2, random_state=0).fit(digits.X)
    store = harvest(FunctionModule(ae.torch_encoder(), ae.module_), "", digits.X, tmp_path / "codes",
                    store_dtype="float32", progress=False).store
    sae = SparseDictionary(32, k=2, batch_size=128, max_epochs=2, precision="float32", random_state=0)
    sae.fit(store.rows().numpy())
    report = inspect_store(sae, store, images=digits.X.reshape(-1, 8, 8), n_latents=3, n_top=4)
    path = write_latent_report(report, tmp_path / "latents.html")
    parsed = _parse(path.read_text())
    n_images = int((report.top_rows >= 0).sum())
    assert parsed.tags.count("img") == n_images and path.read_text().count('src="data:image/png;base64,') == n_images


def test_the_page_in_a_browser_shows_marked_tokens_and_makes_no_request(run, browser, tmp_path):
    report = _with_script_token(run[3])
    path = write_latent_report(report, tmp_path / "latents.html")
    browser.open(path.as_uri())
    assert browser.errors() == [] and browser.requests() == [path.as_uri()]
    marks = browser.evaluate("Array.from(document.querySelectorAll('section.latent mark'), m => m.textContent)")
    assert len(marks) == int((report.top_rows >= 0).sum())
    assert marks[0] == _shown(report, report.context_tokens[0, 0, report.before])
    first = browser.evaluate("document.querySelector('section.latent tr td.pre').textContent")
    assert "<script>alert(1)</script>" in first  # shown as text; no script ran (no error, no alert)
    # keyword in context: every activating token starts at the same x
    xs = browser.evaluate("Array.from(document.querySelectorAll('section.latent:first-of-type mark'), "
                          "m => Math.round(m.getBoundingClientRect().left))")
    assert len(set(xs)) == 1
    shot = browser.screenshot(tmp_path / "latents.png")
    assert shot.startswith(b"\x89PNG")

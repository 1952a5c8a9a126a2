"""The self-contained HTML report: content, escaping, one section per run, comparisons of like runs, paths,
write_run.

The command (`aekit report`) is tested in tests/cli/test_report_cli.py."""

import base64
import re
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aekit.cli._run import write_run  # noqa: E402
from aekit.viz import plot_filters, write_report  # noqa: E402
from aekit.viz._report import render_report  # noqa: E402

HISTORY = [{"epoch": e, "reconstruction": 9.0 / e, "loss": 9.5 / e, "learning_rate": 1e-3} for e in (1, 2, 3)]


class Page(HTMLParser):
    """Collects tags, attributes, tables (as lists of rows of cell text) and text."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.images, self.links, self.tables, self.text = [], [], [], {}, []
        self._table = self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "img":
            self.images.append(attrs)
        elif tag == "a":
            self.links.append(attrs.get("href"))
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"table-{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and self._row:
            self._row[-1] += data


def _run(path, *, metrics, params, seed=0, history=None, figures=("filters", "curves"), estimator="DenoisingAutoencoder"):
    rng = np.random.default_rng(seed)
    figs = {}
    if "filters" in figures:
        figs["filters"] = plot_filters(rng.normal(size=(16, 64)), (8, 8))
    if "curves" in figures:  # a second real figure, cheaper to draw than the history panels
        figs["curves"] = plot_filters(rng.normal(size=(4, 64)), (8, 8), title="curves")
    write_run(
        path, command="train autoencoder", dataset="digits", metrics=metrics, figures=figs,
        history=history or HISTORY, extra={"estimator": estimator, "params": params}, report=False,
    )
    return path


def _as_dict(table):
    return {row[0]: row[1:] for row in table[1:]}


def test_one_run_has_its_figures_config_metrics_and_nothing_external(tmp_path):
    run = _run(tmp_path / "dae", metrics={"mse": 0.0123, "probe": {"accuracy": 0.95}},
               params={"n_components": 64, "noise": "masking:0.25", "hidden_layer_sizes": (100,)})
    out = write_report([run], tmp_path / "out" / "report.html")
    assert out == tmp_path / "out" / "report.html"
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert not any(tag in ("script", "link", "iframe", "object", "embed") for tag, _ in page.tags)
    assert all(href.startswith("#") for href in page.links)
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", text)
    # every figure embedded, byte for byte
    embedded = [base64.b64decode(img["src"].split(",", 1)[1]) for img in page.images]
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    assert sorted(embedded) == sorted(p.read_bytes() for p in (run / "figures").glob("*.png"))
    metrics = _as_dict(page.tables["metrics-0"])
    assert metrics == {"mse": ["0.0123"], "probe.accuracy": ["0.95"]}
    params = _as_dict(page.tables["params-0"])
    assert params["noise"] == ["masking:0.25"] and params["hidden_layer_sizes"] == ["(100,)"]
    assert "3 epochs" in text and "Content-Security-Policy" in text
    assert list(out.parent.iterdir()) == [out]  # atomic write: no temporary file left


def test_everything_read_from_a_run_is_escaped(tmp_path):
    evil = '<script>alert("x")</script>'
    run = _run(tmp_path / "r", metrics={evil: 1.0}, params={"note": evil, "a&b": "<i>"}, figures=())
    text = render_report([run])
    assert "<script" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "a&amp;b" in text and "&lt;i&gt;" in text


def test_runs_of_one_kind_are_compared_over_the_names_they_share(tmp_path):
    a = _run(tmp_path / "a", metrics={"mse": 0.02, "probe_accuracy": 0.91}, params={"n_components": 32, "k": 3},
             seed=1)
    b = _run(tmp_path / "b", metrics={"mse": 0.01}, params={"n_components": 64}, seed=2, figures=("filters",))
    text = render_report([a, b])
    page = Page(text)
    table = page.tables["metrics-comparison-0"]
    assert table[0] == ["name", "a", "b"]
    assert _as_dict(table) == {"mse": ["0.02", "0.01"]}  # probe_accuracy: only a has it
    assert _as_dict(page.tables["params-comparison-0"]) == {"dataset": ["digits", "digits"], "n_components": ["32", "64"]}
    assert "Comparison of the DenoisingAutoencoder runs" in text
    # each run keeps all of its own metrics, parameters and figures in its own section
    assert _as_dict(page.tables["metrics-0"]) == {"mse": ["0.02"], "probe_accuracy": ["0.91"]}
    assert _as_dict(page.tables["params-1"]) == {"n_components": ["64"]}
    assert len(page.images) == 3  # filters from both runs, curves from a only, each once
    assert "in this run" not in text  # no placeholder boxes for figures a run does not have
    rows = re.findall(r'<tr( class="differs")?><th scope="row">(\w+)</th>', text)
    assert ("", "dataset") in rows and (' class="differs"', "n_components") in rows


def test_runs_of_different_kinds_are_not_put_in_one_table(tmp_path):
    pca = _run(tmp_path / "pca", metrics={"mse": 0.02}, params={"n_components": 8}, estimator="PCA", figures=())
    ae = _run(tmp_path / "ae", metrics={"mse": 0.01}, params={"n_components": 8}, figures=("filters",))
    som = _run(tmp_path / "som", metrics={"quantization_error": 1.5}, params={}, estimator="SOM", figures=())
    page = Page(render_report([pca, ae, som]))
    assert not any(t.endswith("comparison-0") for t in page.tables)
    assert {f"metrics-{i}" for i in range(3)} <= set(page.tables)
    # two runs of one kind among others: one comparison, of those two only
    ae2 = _run(tmp_path / "ae2", metrics={"mse": 0.03}, params={"n_components": 16}, figures=())
    page = Page(render_report([pca, ae, som, ae2]))
    assert page.tables["metrics-comparison-0"][0] == ["name", "ae", "ae2"]
    assert "metrics-comparison-1" not in page.tables


def test_each_run_shows_its_figures_before_its_metrics_and_configuration(tmp_path):
    run = _run(tmp_path / "r", metrics={"mse": 0.5}, params={"n_components": 4})
    text = render_report([run])
    section = text[text.index('<section class="run" id="run-0">'):]
    assert section.index("<img") < section.index('id="metrics-0"') < section.index('id="params-0"')
    assert section.index('id="params-0"') < section.index('id="run-info-0"') < section.index('id="history-0"')


def test_runs_with_the_same_folder_name_are_told_apart_by_their_parents(tmp_path):
    a = _run(tmp_path / "x" / "run", metrics={"m": 1}, params={}, figures=())
    b = _run(tmp_path / "y" / "run", metrics={"m": 2}, params={}, figures=())
    header = Page(render_report([a, b])).tables["metrics-comparison-0"][0]
    assert header == ["name", "x/run", "y/run"]


def test_the_page_shows_no_path_of_the_machine(tmp_path):
    inside = _run(tmp_path / "demo" / "pca", metrics={"m": 1}, params={}, figures=())
    nested = _run(tmp_path / "demo" / "more" / "ae", metrics={"m": 2}, params={}, figures=())
    outside = _run(tmp_path / "elsewhere" / "som", metrics={"m": 3}, params={}, estimator="SOM", figures=())
    text = write_report([inside, nested, outside], tmp_path / "demo" / "report.html").read_text()
    assert str(tmp_path) not in text
    assert Page(text).tables["metrics-comparison-0"][0] == ["name", "pca", "more/ae"]  # relative to the report
    assert "<h2>pca</h2>" in text and "<h2>more/ae</h2>" in text and "<h2>som</h2>" in text


def test_history_csv_is_read_when_there_is_no_json(tmp_path):
    run = _run(tmp_path / "r", metrics={}, params={}, figures=())
    (run / "history.json").unlink()
    text = render_report([run])
    assert "3 epochs" in text
    assert _as_dict(Page(text).tables["history-0"])["loss"] == ["3.167"]


def test_bad_run_folders_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="at least one run folder"):
        write_report([], tmp_path / "r.html")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        write_report([tmp_path / "missing"], tmp_path / "r.html")
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="no run.json"):
        write_report([tmp_path / "half"], tmp_path / "r.html")
    run = _run(tmp_path / "r", metrics={}, params={}, figures=())
    (run / "history.json").write_text('{"epoch": 1}')
    with pytest.raises(ValueError, match="not a training history"):
        write_report([run], tmp_path / "r.html")
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json is not valid JSON"):
        write_report([run], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_a_file_that_is_not_a_png_is_reported_not_embedded(tmp_path):
    run = _run(tmp_path / "r", metrics={}, params={}, figures=("filters",))
    (run / "figures" / "broken.png").write_bytes(b"GIF89a....")
    page = Page(render_report([run]))
    assert len(page.images) == 1
    assert "figure broken.png skipped: not a PNG file" in "".join(page.text)


def test_write_run_writes_the_report_and_prints_its_path(tmp_path, capsys):
    write_run(tmp_path / "run", command="fit pca", dataset="digits", metrics={"mse": 0.5},
              figures={"filters": plot_filters(np.eye(4, 64), (8, 8))})
    assert f"report: {tmp_path / 'run' / 'report.html'}" in capsys.readouterr().out
    page = Page((tmp_path / "run" / "report.html").read_text())
    assert _as_dict(page.tables["metrics-0"]) == {"mse": ["0.5"]} and len(page.images) == 1
    plt.close("all")

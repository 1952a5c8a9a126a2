"""One self-contained HTML page from one or more run folders.

The page opens from disk with no server and loads nothing from anywhere: the
figures are embedded as base64 ``data:`` URIs, the style sheet is inline, there
is no script, and a Content-Security-Policy forbids every other source. Every
piece of text read from a run folder is HTML-escaped.

A run folder is the layout of ``aekit.cli`` (``run.json``, ``metrics.json``,
``history.json`` / ``history.csv``, ``model/config.json``, ``figures/*.png``).
Each run gets its own section: its figures first, then its metrics, its
configuration, how it was run and its last training epoch. Runs of the same
kind (the same estimator, or the same ``kind`` in ``run.json``) are also
compared in one table per kind, over the metrics and parameters they share;
runs of different kinds are never put in one table. Run folders are named by
their path relative to the report's folder, or by their folder name when
they lie elsewhere, so that a page shows no path of the machine it was
written on.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from aekit import io as aio
from aekit.training import read_history

__all__ = ["write_report", "render_report", "read_run", "RunRecord"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_RUN_FIELDS = ("command", "dataset", "estimator", "created", "seconds")

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2125;
       margin: 0 auto; padding: 0 1.5rem 3rem; max-width: 1400px; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1rem; }
h1 { margin: 1rem 0 .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { margin: 1.2rem 0 .4rem; } h4 { margin: .8rem 0 .3rem; font-weight: 600; }
.muted { color: #57606a; } code { font-size: 90%; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: .3rem 0 .8rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td { max-width: 28rem; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f6f8fa; }
tr.differs th { background: #fff8c5; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 1rem;
           align-items: start; }
figure { margin: 0; padding: .4rem; border: 1px solid #d0d7de; border-radius: 4px; background: #fff; }
figure img { display: block; width: 100%; height: auto; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-start; }
.tables > div { max-width: 100%; overflow-x: auto; }
figcaption { font-size: 90%; color: #57606a; margin-top: .2rem; }
.missing { color: #9a6700; }
"""


@dataclass
class RunRecord:
    """What a run folder holds, read once (figures as PNG bytes)."""

    path: Path
    info: dict
    metrics: dict
    params: dict
    history: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # stem -> PNG bytes
    broken_figures: dict = field(default_factory=dict)  # stem -> reason
    model_class: str | None = None

    @property
    def kind(self) -> str | None:
        """What the run is, for comparisons: ``run.json``'s ``kind``, else its estimator's class; None if neither."""
        for value in (self.info.get("kind"), self.info.get("estimator"), self.model_class):
            if isinstance(value, str) and value:
                return value
        return None


# ------------------------------------------------------------------ reading
def read_run(run_dir) -> RunRecord:
    """Read one run folder; a folder without ``run.json`` gets a clear error."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a folder; pass run folders written by `aekit fit` / `aekit train`.")
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a complete run folder: it has no run.json "
            "(a run folder is complete once run.json exists)."
        )
    info = _read_dict(run_dir / "run.json")
    metrics = _read_dict(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else {}
    config = _read_dict(run_dir / "model" / "config.json") if (run_dir / "model" / "config.json").is_file() else {}
    params = info.get("params") if isinstance(info.get("params"), dict) else config.get("params")
    record = RunRecord(
        path=run_dir,
        info=info,
        metrics=metrics,
        params=params if isinstance(params, dict) else {},
        history=_read_history(run_dir),
        model_class=config.get("class") if isinstance(config.get("class"), str) else None,
    )
    for png in sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []:
        data = png.read_bytes()
        if data.startswith(PNG_SIGNATURE):
            record.figures[png.stem] = data
        else:
            record.broken_figures[png.stem] = "not a PNG file"
    return record


def _read_dict(path: Path) -> dict:
    obj = aio.from_jsonable(aio.read_json(path))
    if not isinstance(obj, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(obj).__name__}; the run folder is corrupt.")
    return obj


def _read_history(run_dir: Path) -> list:
    if (run_dir / "history.json").is_file():
        return read_history(run_dir / "history.json")
    if (run_dir / "history.csv").is_file():
        with open(run_dir / "history.csv", newline="", encoding="utf-8") as fh:
            return [{k: _number_or_text(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    return []


def _number_or_text(v):
    try:
        return float(v) if any(c in v for c in ".eEn") else int(v)
    except (TypeError, ValueError):
        return v


# ------------------------------------------------------------------ formatting
def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as dotted keys: {"probe": {"accuracy": 0.9}} -> {"probe.accuracy": 0.9}."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _format(v) -> str:
    """A value as short text (not yet escaped)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.4g}" if v != 0 else "0"
    if isinstance(v, tuple):
        return "(" + ", ".join(_format(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        text = "[" + ", ".join(_format(x) for x in v[:8]) + (", …" if len(v) > 8 else "") + "]"
        return text
    if hasattr(v, "shape") and hasattr(v, "dtype"):  # a small saved array
        return f"array{tuple(v.shape)} {v.dtype}" if v.size > 8 else _format(v.tolist())
    if isinstance(v, dict):
        return json.dumps(aio.to_jsonable(v), sort_keys=True) if v else "{}"
    return str(v)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _cell(v) -> str:
    cls = ' class="num"' if _is_number(v) else ""
    return f"<td{cls}>{_esc(_format(v))}</td>"


def _key_value_table(d: dict, *, css: str, table_id: str | None = None, caption: str = "value") -> str:
    if not d:
        return '<p class="muted">none recorded</p>'
    ident = f' id="{_esc(table_id)}"' if table_id else ""
    rows = "".join(f"<tr><th scope=\"row\">{_esc(k)}</th>{_cell(v)}</tr>" for k, v in d.items())
    return (
        f'<table class="{_esc(css)}"{ident}><thead><tr><th scope="col">name</th>'
        f'<th scope="col">{_esc(caption)}</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _comparison_table(columns: list[str], dicts: list[dict], *, css: str, table_id: str) -> str:
    """One row per key that every run has (in the first run's order), one column per run."""
    keys = [k for k in dicts[0] if all(k in d for d in dicts[1:])]
    if not keys:
        return '<p class="muted">no names in common</p>'
    head = "".join(f'<th scope="col">{_esc(c)}</th>' for c in columns)
    body = []
    for k in keys:
        values = [d.get(k) for d in dicts]
        differs = len({_format(v) for v in values}) > 1
        row_cls = ' class="differs"' if differs else ""
        body.append(f'<tr{row_cls}><th scope="row">{_esc(k)}</th>{"".join(_cell(v) for v in values)}</tr>')
    return (
        f'<table class="{_esc(css)}" id="{_esc(table_id)}"><thead><tr><th scope="col">name</th>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table>'
    )


def _figure(data: bytes, caption: str) -> str:
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<figure><img src="{uri}" alt="{_esc(caption)}"><figcaption>{_esc(caption)}</figcaption></figure>'


def _caption(stem: str) -> str:
    return stem.replace("_", " ").replace("-", " ")


def _run_names(records: list[RunRecord], base: Path | None = None) -> list[str]:
    """How each run is named on the page, never by an absolute path.

    A run folder inside ``base`` (the report's folder) is named by its path
    relative to it; any other by its folder name, with as many parent folders
    as it takes to tell apart runs whose names would collide.
    """
    paths = [Path(r.path).resolve() for r in records]
    base = None if base is None else Path(base).resolve()

    def name(p: Path, depth: int) -> str:
        if base is not None and p.is_relative_to(base) and p != base:
            return str(p.relative_to(base))
        return str(Path(*p.parts[-min(depth, len(p.parts) - 1):]))  # never the root: no absolute path

    depth = 1
    names = [name(p, depth) for p in paths]
    while len(set(names)) < len(names) and depth < max(len(p.parts) for p in paths) - 1:
        depth += 1
        names = [name(p, depth) for p in paths]
    return names


def _groups(records: list[RunRecord]) -> dict[str, list[int]]:
    """Kind -> the indices of the runs of that kind, for the kinds with at least two runs."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.kind is not None:
            groups.setdefault(r.kind, []).append(i)
    return {kind: idx for kind, idx in groups.items() if len(idx) > 1}


# ------------------------------------------------------------------ rendering
def _run_section(i: int, name: str, record: RunRecord) -> str:
    info = record.info
    summary = {k: info.get(k) for k in _RUN_FIELDS if k in info}
    if record.model_class:
        summary["model class"] = record.model_class
    summary.update({k: v for k, v in info.items() if k not in _RUN_FIELDS and k not in ("params", "kind")})
    kind = f" · {_esc(record.kind)}" if record.kind else ""
    parts = [f'<section class="run" id="run-{i}"><h2>{_esc(name)}</h2>',
             f'<p class="muted">run folder <code>{_esc(name)}</code>{kind}</p>', "<h3>Figures</h3>"]
    if record.figures:
        figs = "".join(_figure(data, _caption(stem)) for stem, data in record.figures.items())
        parts.append(f'<div class="figures">{figs}</div>')
    else:
        parts.append('<p class="muted">no figures</p>')
    for stem, reason in record.broken_figures.items():
        parts.append(f'<p class="missing">figure {_esc(stem)}.png skipped: {_esc(reason)}</p>')
    tables = [
        ("Metrics", _key_value_table(_flatten(record.metrics), css="metrics", table_id=f"metrics-{i}")),
        ("Configuration", _key_value_table(record.params, css="params", table_id=f"params-{i}")),
        ("Run", _key_value_table(summary, css="run-info", table_id=f"run-info-{i}")),
    ]
    if record.history:
        last = {k: v for k, v in record.history[-1].items() if k != "epoch"}
        tables.append(("Training", f'<p>{len(record.history)} epochs; values at the last epoch:</p>'
                       + _key_value_table(last, css="history-last", table_id=f"history-{i}")))
    # side by side where the window is wide enough, one under the other where not
    parts.append('<div class="tables">' + "".join(f"<div><h3>{h}</h3>{t}</div>" for h, t in tables) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _comparison_section(j: int, kind: str, names: list[str], records: list[RunRecord]) -> str:
    """The runs of one kind side by side, over the metrics and parameters every one of them has."""
    parts = [
        f'<section class="comparison" id="comparison-{j}"><h2>Comparison of the {_esc(kind)} runs</h2>',
        f'<p class="muted">{len(records)} runs of the same kind; only the names they all have. '
        "Each run's own section shows the rest.</p>",
        "<h3>Metrics</h3>",
        _comparison_table(names, [_flatten(r.metrics) for r in records], css="metrics",
                          table_id=f"metrics-comparison-{j}"),
        "<h3>Configuration</h3>",
        '<p class="muted">highlighted rows differ between runs</p>',
        _comparison_table(names, [{"dataset": r.info.get("dataset"), **r.params} for r in records],
                          css="params", table_id=f"params-comparison-{j}"),
        "</section>",
    ]
    return "\n".join(parts)


def render_report(run_dirs, *, title: str | None = None, base=None) -> str:
    """The report page for ``run_dirs`` as an HTML string (see :func:`write_report`).

    ``base``: the folder the page will be in; run folders inside it are named by
    their relative path, the others by their folder name.
    """
    run_dirs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    if not run_dirs:
        raise ValueError("run_dirs is empty: pass at least one run folder.")
    records = [read_run(d) for d in run_dirs]
    names = _run_names(records, None if base is None else Path(base))
    groups = _groups(records)
    from aekit import __version__

    title = title or ("aekit report: " + ", ".join(names))
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    nav = "".join(f'<a href="#comparison-{j}">compare {_esc(kind)}</a>' for j, kind in enumerate(groups))
    nav += "".join(f'<a href="#run-{i}">{_esc(n)}</a>' for i, n in enumerate(names))
    body = [
        f"<header><h1>{_esc(title)}</h1>",
        f'<p class="muted">{len(records)} run{"s" if len(records) > 1 else ""} · written {_esc(stamp)}'
        f" · aekit {_esc(__version__)}</p>",
        f"<nav>{nav}</nav></header>",
    ]
    body += [_comparison_section(j, kind, [names[i] for i in idx], [records[i] for i in idx])
             for j, (kind, idx) in enumerate(groups.items())]
    body += [_run_section(i, n, r) for i, (n, r) in enumerate(zip(names, records))]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(run_dirs, out_path, *, title: str | None = None) -> Path:
    """Write one self-contained HTML report of one or more run folders; return its path.

    Each run has its own section: its figures first (``figures/*.png``,
    embedded as base64 data URIs), then its metrics (``metrics.json``, nested
    values flattened to dotted names), its configuration (the estimator's
    parameters from ``run.json``, or ``model/config.json``), its command,
    dataset and timing, and the last epoch of its history. Runs of the same
    kind (``run.json``'s ``kind``, else the estimator's class) are compared
    first, one table of metrics and one of parameters per kind, with a column
    per run and only the names all of them have (rows that differ
    highlighted); runs of different kinds are not compared. Run folders are
    named by their path relative to the report's folder, or by their folder
    name when outside it. The page has no script and no external reference;
    it opens from disk in any browser. The file is written atomically.

    Parameters
    ----------
    run_dirs : path or sequence of paths
        Run folders written by ``aekit fit`` / ``aekit train``.
    out_path : path
        The ``.html`` file to write (parent folders are created).
    title : str, optional
        Page title; default ``"aekit report: <run names>"``.

    Returns
    -------
    Path
        ``out_path``.
    """
    out_path = Path(out_path)
    page = render_report(run_dirs, title=title, base=out_path.parent)
    aio.atomic_write_text(out_path, page)
    return out_path

"""The latents of a sparse autoencoder as one self-contained HTML page a person can read.

The page draws a :class:`~aekit.inspection.LatentReport`: a summary (what
model, layer and text; the sparse autoencoder; how many rows; the density
histogram of every latent's firing frequency with the shown ones marked),
then one section per latent: its top-activating contexts as text, each token
shaded by the latent's activation on it and the activating token marked
(with its value), or its top-activating images; the histogram of its
activations; its firing frequency; the tokens its decoder direction promotes
and suppresses. Like the run report, the page has no script and loads
nothing (figures are inline SVG or ``data:`` PNGs; a Content-Security-Policy
forbids every other source), and every piece of text is HTML-escaped, the
tokens of the contexts included.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from aekit import io as aio

__all__ = ["render_latent_report", "write_latent_report", "visible_token"]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_HIT = (255, 140, 0)  # the shade of a token's activation (orange); alpha = activation / the latent's top
_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2125;
       margin: 0 auto; padding: 0 1.5rem 3rem; max-width: 1400px; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: .8rem; }
h1 { margin: 1rem 0 .2rem; font-size: 1.5rem; } h2 { margin: 0 0 .2rem; font-size: 1.1rem; }
h3 { margin: .5rem 0 .2rem; font-size: .9rem; font-weight: 600; }
.muted { color: #57606a; } .note { color: #9a6700; }
table { border-collapse: collapse; }
.facts td, .facts th { border: 1px solid #d0d7de; padding: .15rem .5rem; text-align: left; vertical-align: top; }
.facts th { background: #f6f8fa; font-weight: 600; }
.summary { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: flex-start; }
.explain p { max-width: 60rem; margin: .3rem 0; }
nav.latents { display: flex; flex-wrap: wrap; gap: .15rem .8rem; margin: .6rem 0 1rem; font-size: 90%; }
section.latent { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem .9rem .7rem; margin: 0 0 1rem; }
.cols { display: flex; flex-wrap: wrap; gap: .6rem 1.5rem; align-items: flex-start; }
.contexts { flex: 1 1 640px; min-width: 0; }
.side { flex: 0 0 330px; }
table.ctx { table-layout: fixed; width: 100%; }
table.ctx td { padding: .05rem 0; vertical-align: top; }
table.ctx td.num { width: 3.6rem; padding-right: .5rem; }
table.ctx td.pre { width: 60%; direction: rtl; text-align: right; overflow: hidden; }
table.ctx td.pre > span { direction: ltr; unicode-bidi: isolate; }
table.ctx td.post { overflow: hidden; }
table.ctx td.num { text-align: right; font-variant-numeric: tabular-nums; color: #57606a; font-size: 85%;
                   white-space: nowrap; padding-top: .15rem; }
.text { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; white-space: pre; }
.text span, .text mark { border-radius: 2px; }
.text mark { background: transparent; color: inherit; outline: 1.5px solid #bc4c00; font-weight: 600; }
.tok { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
       background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 3px; padding: 0 .25rem; white-space: pre; }
ol.tokens { margin: .1rem 0; padding-left: 1.6rem; font-size: 90%; columns: 2; column-gap: 1rem; }
ol.tokens li { break-inside: avoid; }
ol.tokens .v { color: #57606a; font-variant-numeric: tabular-nums; font-size: 85%; }
.images { display: flex; flex-wrap: wrap; gap: .4rem; }
.images figure { margin: 0; text-align: center; font-size: 80%; color: #57606a; }
.images img { width: 64px; height: 64px; image-rendering: pixelated; border: 1px solid #d0d7de; display: block; }
svg text { font: 10px system-ui, sans-serif; fill: #57606a; }
"""


# ------------------------------------------------------------------ text
def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def visible_token(text: str) -> str:
    """A token's text with its invisible characters shown: newline ``↵``, tab ``⇥``, carriage return dropped."""
    return text.replace("\r", "").replace("\n", "↵").replace("\t", "⇥")


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4g}"


def _percent(p: float) -> str:
    return f"{100 * p:.3g} %"


# ------------------------------------------------------------------ figures
def _histogram_svg(counts, edges, *, width=320, height=120, marks=(), x_label="activation", log_x=True) -> str:
    """Bars of ``counts`` over ``edges`` (trimmed to the non-empty range), x in log10 when ``log_x``; inline SVG."""
    counts = np.asarray(counts)
    edges = np.asarray(edges, dtype=np.float64)
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return '<p class="muted">no activations</p>'
    lo_i, hi_i = int(nz[0]), int(nz[-1]) + 1
    counts, edges = counts[lo_i:hi_i], edges[lo_i : hi_i + 1]
    xs = np.log10(edges) if log_x else edges
    pad_l, pad_r, pad_t, pad_b = 34, 6, 6, 28
    x0, x1 = float(xs[0]), float(xs[-1])
    span = (x1 - x0) or 1.0
    top = float(counts.max())

    def fx(x):
        return pad_l + (x - x0) / span * (width - pad_l - pad_r)

    def fy(c):
        return height - pad_b - c / top * (height - pad_t - pad_b)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="histogram of {_esc(x_label)}">']
    for c, a, b in zip(counts, xs[:-1], xs[1:]):
        if c:
            parts.append(f'<rect x="{fx(a):.1f}" y="{fy(c):.1f}" width="{max(fx(b) - fx(a) - 0.5, 0.8):.1f}" '
                         f'height="{height - pad_b - fy(c):.1f}" fill="#d47500"><title>{_esc(_fmt(10 ** a if log_x else a))}'
                         f'–{_esc(_fmt(10 ** b if log_x else b))}: {int(c)}</title></rect>')
    for x in marks:
        if x0 <= x <= x1:
            parts.append(f'<line x1="{fx(x):.1f}" x2="{fx(x):.1f}" y1="{pad_t}" y2="{height - pad_b}" '
                         'stroke="#0969da" stroke-width="1.2"/>')
    axis_y = height - pad_b
    parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{axis_y}" y2="{axis_y}" stroke="#8c959f"/>')
    parts.append(f'<text x="{pad_l - 3}" y="{pad_t + 8}" text-anchor="end">{int(top)}</text>')
    parts.append(f'<text x="{pad_l - 3}" y="{axis_y}" text-anchor="end">0</text>')
    for t in _ticks(x0, x1, log_x):
        parts.append(f'<line x1="{fx(t):.1f}" x2="{fx(t):.1f}" y1="{axis_y}" y2="{axis_y + 3}" stroke="#8c959f"/>'
                     f'<text x="{fx(t):.1f}" y="{axis_y + 13}" text-anchor="middle">{_esc(_tick_label(t, log_x))}</text>')
    parts.append(f'<text x="{(pad_l + width - pad_r) / 2:.0f}" y="{height - 2}" text-anchor="middle">'
                 f'{_esc(x_label)}</text></svg>')
    return "".join(parts)


def _ticks(x0: float, x1: float, log_x: bool) -> list[float]:
    if log_x and x1 - x0 >= 1:
        return [float(t) for t in range(math.ceil(x0), math.floor(x1) + 1)]
    if log_x:  # less than a decade: ticks at 1, 2, 5 x 10^k inside
        out = [math.log10(m * 10.0 ** e) for e in range(math.floor(x0), math.ceil(x1) + 1) for m in (1, 2, 5)]
        return [t for t in out if x0 <= t <= x1]
    step = 10 ** math.floor(math.log10((x1 - x0) / 4 or 1))
    return [t * step for t in range(math.ceil(x0 / step), math.floor(x1 / step) + 1)][:8]


def _tick_label(t: float, log_x: bool) -> str:
    if not log_x:
        return _fmt(t)
    v = 10.0 ** t
    return f"1e{int(round(t))}" if abs(t - round(t)) < 1e-9 and (v < 0.01 or v >= 1e4) else _fmt(float(f"{v:.3g}"))


def _png(image: np.ndarray, lo: float, hi: float) -> str:
    """A data: URI of a gray-scale (h, w) or colour (h, w, 3) image scaled from [lo, hi]."""
    from aekit.viz._core import plt

    buf = io.BytesIO()
    img = np.clip((np.asarray(image, dtype=np.float64) - lo) / ((hi - lo) or 1.0), 0, 1)
    plt.imsave(buf, img, cmap="gray", vmin=0, vmax=1, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ------------------------------------------------------------------ sections
def _context_html(report, i: int, n: int) -> tuple[str, str]:
    """Context ``n`` of shown latent ``i`` as (tokens before, the activating token and those after): each
    token shaded by the latent's activation on it, the activating one marked."""
    tokens, values = report.context_tokens[i, n], report.context_values[i, n]
    scale = float(report.top_values[i, 0]) or 1.0
    parts = ([], [])
    for s, (t, v) in enumerate(zip(tokens, values)):
        if t < 0:
            continue
        alpha = min(max(float(v) / scale, 0.0), 1.0)
        style = f' style="background: rgba({_HIT[0]},{_HIT[1]},{_HIT[2]},{alpha:.2f})"' if alpha > 0.005 else ""
        title = f' title="{_esc(_fmt(float(v)))}"' if v != 0 else ""
        tag = "mark" if s == report.before else "span"
        parts[s >= report.before].append(f"<{tag}{style}{title}>{_esc(visible_token(report.text(t)))}</{tag}>")
    return "".join(parts[0]), "".join(parts[1])


def _token_list(report, ids, values, css: str) -> str:
    items = "".join(f'<li><span class="tok">{_esc(visible_token(report.text(t)))}</span> '
                    f'<span class="v">{"+" if v > 0 else ""}{_esc(_fmt(float(v)))}</span></li>'
                    for t, v in zip(ids, values))
    return f'<ol class="tokens {css}">{items}</ol>'


def _latent_section(report, i: int, unit: str) -> str:
    j = int(report.latents[i])
    count, freq = int(report.counts[i]), float(report.frequency[i])
    top = report.top_values[i]
    shown = np.flatnonzero(report.top_rows[i] >= 0)
    head = (f'<h2>latent {j}</h2><p class="muted">fires on <b>{_percent(freq)}</b> of {unit} '
            f'({count:,} of {report.n_rows:,}) · largest activation {_esc(_fmt(float(top[0]) if shown.size else np.nan))}'
            f' · mean when firing {_esc(_fmt(float(report.mean_when_firing[i])))}</p>')
    if report.is_text:
        rows = []
        for n in shown:  # keyword in context: the activating tokens aligned in one column
            before, after = _context_html(report, i, n)
            rows.append(f'<tr data-row="{int(report.top_rows[i, n])}"><td class="num">{_esc(_fmt(float(top[n])))}</td>'
                        f'<td class="text pre"><span>{before}</span></td><td class="text post">{after}</td></tr>')
        left = (f'<h3>top {shown.size} contexts (activating token outlined; shade: the activation on each token)</h3>'
                f'<table class="ctx">{"".join(rows)}</table>')
    elif report.images is not None:
        imgs = report.images[i]
        lo, hi = float(np.min(report.images)), float(np.max(report.images))
        figs = "".join(f'<figure data-row="{int(report.top_rows[i, n])}"><img alt="sample {int(report.top_samples[i, n])}" '
                       f'src="{_png(imgs[n], lo, hi)}">{_esc(_fmt(float(top[n])))}</figure>' for n in shown)
        left = f'<h3>top {shown.size} images (activation below)</h3><div class="images">{figs}</div>'
    else:
        rows = "".join(f'<tr><td class="num">{_esc(_fmt(float(top[n])))}</td><td>row {int(report.top_rows[i, n])}'
                       "</td></tr>" for n in shown)
        left = f'<h3>top {shown.size} rows</h3><table class="ctx">{rows}</table>'
    side = [f'<h3>activations when firing ({count:,})</h3>',
            _histogram_svg(report.histogram[i], report.edges, x_label="activation (log scale)")]
    if report.promoted_ids is not None:
        side += ["<h3>tokens it promotes (logit lens of its atom)</h3>",
                 _token_list(report, report.promoted_ids[i], report.promoted_values[i], "promoted"),
                 "<h3>tokens it suppresses</h3>",
                 _token_list(report, report.suppressed_ids[i], report.suppressed_values[i], "suppressed")]
    return (f'<section class="latent" id="latent-{j}" data-latent="{j}">{head}<div class="cols">'
            f'<div class="contexts">{left}</div><div class="side">{"".join(side)}</div></div></section>')


def _density_svg(report) -> str:
    """The histogram of log10 firing frequency over every latent, the shown ones marked."""
    freq = report.all_counts / max(report.n_rows, 1)
    alive = freq[freq > 0]
    if alive.size == 0:
        return '<p class="muted">no latent fired</p>'
    low = math.floor(math.log10(1.0 / max(report.n_rows, 1)) * 4) / 4
    edges = 10.0 ** np.arange(low, 0.25, 0.25)
    counts, _ = np.histogram(alive, bins=edges)
    marks = [math.log10(f) for f in report.frequency if f > 0]
    return _histogram_svg(counts, edges, width=380, height=130, marks=marks, x_label="firing frequency (log scale)")


def _facts(report) -> str:
    info = report.info
    sae = info.get("sparse_autoencoder", {})
    acts = info.get("activations", {})
    rows = [("model", acts.get("model")), ("layer", acts.get("layer")),
            ("text", _short_source(acts.get("source"))), ("context", acts.get("context")),
            ("rows inspected", f"{report.n_rows:,}" + (f" of {acts['store_rows']:,}" if "store_rows" in acts else "")),
            ("sparse autoencoder", " · ".join(f"{k} {v}" for k, v in sae.items() if k != "class") or None),
            ("latents shown", info.get("selection"))]
    body = "".join(f'<tr><th scope="row">{_esc(k)}</th><td>{_esc(v)}</td></tr>' for k, v in rows if v is not None)
    return f'<table class="facts">{body}</table>'


def _short_source(source):
    """A text source's name and split (``"python-docs (train)"``), without the description after its colon."""
    return source.split(": ", 1)[0] if isinstance(source, str) else source


def render_latent_report(report, *, title: str | None = None) -> str:
    """The page of a :class:`~aekit.inspection.LatentReport`, as an HTML string (see :func:`write_latent_report`)."""
    from aekit import __version__

    unit = "tokens" if report.is_text else "rows"
    acts = report.info.get("activations", {})
    where = " ".join(str(x) for x in (acts.get("model"), acts.get("layer")) if x)
    title = title or ("Sparse autoencoder latents" + (f": {where}" if where else ""))
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    nav = "".join(f'<a href="#latent-{int(j)}">{int(j)} <span class="muted">({_percent(float(f))})</span></a>'
                  for j, f in zip(report.latents, report.frequency))
    explain = [f"Each section shows one latent: the {unit} on which it is largest"
               + (" with the text around them (the model saw only its window up to the marked token)" if report.is_text
                  else "") + ", the histogram of its non-zero activations and how often it fires."]
    if report.promoted_ids is not None:
        explain.append("Promoted tokens: the largest entries of W_U (g ⊙ d) minus their mean over the vocabulary, "
                       "for the latent's unit-norm atom d, the final norm's gain g and the unembedding W_U: the "
                       "direct effect of the latent's output on the next-token logits (per unit of activation over "
                       "the residual stream's RMS), ignoring the later blocks.")
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in report.notes)
    body = [
        f'<header><h1>{_esc(title)}</h1><p class="muted">{len(report.latents)} latents · {report.n_rows:,} {unit}'
        f' · written {_esc(stamp)} · aekit {_esc(__version__)}</p></header>',
        f'<div class="summary"><div>{_facts(report)}</div><div><h3>firing frequency of every latent '
        f'({int((report.all_counts == 0).sum())} never fired; the shown ones in blue)</h3>{_density_svg(report)}</div>'
        f'</div><div class="explain">{"".join(f"<p>{_esc(e)}</p>" for e in explain)}{notes}</div>',
        f'<nav class="latents">{nav}</nav>',
        *(_latent_section(report, i, unit) for i in range(len(report.latents))),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n<style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_latent_report(report, out_path, *, title: str | None = None) -> Path:
    """Write the page of a sparse autoencoder's latents; return its path.

    One HTML file with no script that opens from disk in any browser: a
    summary of the model, layer, text and sparse autoencoder with the
    firing-frequency histogram of every latent, then per shown latent its
    top-activating contexts (tokens shaded by the latent's activation, the
    activating token outlined, its value beside) or images, its activation
    histogram, its firing frequency and, for a causal language model, the
    tokens its decoder direction promotes and suppresses. Written atomically.

    Parameters
    ----------
    report : LatentReport
        From :func:`aekit.inspection.inspect_latents` or :func:`aekit.inspection.inspect_store`
        (or :meth:`~aekit.inspection.LatentReport.load`).
    out_path : path
        The ``.html`` file to write.
    title : str, optional
    """
    out_path = Path(out_path)
    aio.atomic_write_text(out_path, render_latent_report(report, title=title))
    return out_path

"""The explorer's latent browser: the panel of a sparse autoencoder run (kind ``"latents"``).

The panel shows a :class:`~aekit.inspection.LatentReport`: the one that
``aekit sae inspect RUN_DIR STORE`` kept in ``RUN_DIR/latents/``
(:func:`save_latent_report`) when it is there and of the run's current
model, else one computed here over the first
:data:`EXPLORE_ROWS` rows of the activation store the run was trained on
(``run.json``'s dataset), for :data:`EXPLORE_LATENTS` latents. Its content::

    latents (L,) int32, counts (L,) int32, mean (L,) float32, n_rows, unit ("tokens" | "rows"),
    top_rows (L, N) int32 (-1 pads), top_values (L, N) float32,
    dataset: KEY | null   the store's rows; their contexts (tokens, position) are in datasets[KEY]
    before: int, context_values (L, N, w) float32 | null
                          the latent's activation on each context slot; slot of context token q is
                          q + before - position (the dataset's position of the row's own token)
    images (L, N, h, w) uint8 | null, image_range
    histogram (L, B) int32, edges (B + 1,) float32     activations per log-spaced bin
    promoted, suppressed: {"tokens": [[str] * k] * L, "values" (L, k) float32} | null
    density: {"counts", "edges"} of log10 firing frequency over every latent, "dead"
    facts: [[name, value], ...]
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from aekit import io as aio
from aekit.viz.explorer._encode import quantize_images
from aekit.viz.explorer._panels import DatasetTable, RowsOnly, Run, TokenContext, UnsupportedRun, panel

__all__ = ["latent_panels", "save_latent_report", "LATENT_REPORT_FOLDER", "EXPLORE_LATENTS", "EXPLORE_ROWS"]

LATENT_REPORT_FOLDER = "latents"  # where a run keeps its latent report (RUN_DIR/latents/)
EXPLORE_LATENTS = 48  # latents of a report computed for the page
EXPLORE_ROWS = 200_000  # rows of the store it is computed over (the whole store: `aekit sae inspect`)
_MODEL_DIGEST = "run_model_sha256"  # the report's info key naming the weights it was computed with


def _model_digest(run_dir: Path) -> str:
    """SHA-256 over the files of the run's saved model (its configuration and weights)."""
    files = sorted(p for p in (Path(run_dir) / "model").iterdir() if p.is_file())
    return hashlib.sha256("".join(f"{p.name}:{aio.file_digest(p)};" for p in files).encode()).hexdigest()


def save_latent_report(report, run_dir) -> Path:
    """Keep ``report`` in ``RUN_DIR/latents/`` with the digest of the run's weights, for the latent browser.

    The explorer shows a kept report only while the run's model is the one it
    was computed with (a model trained again into the folder makes it stale).
    """
    report.info[_MODEL_DIGEST] = _model_digest(run_dir)
    return report.save(Path(run_dir) / LATENT_REPORT_FOLDER)


def _report(run: Run):
    from aekit.inspection import LatentReport, inspect_store

    folder = run.path / LATENT_REPORT_FOLDER
    saved = (folder / "report.json").is_file()
    if saved:
        report = LatentReport.load(folder)
        if report.info.get(_MODEL_DIGEST) == _model_digest(run.path):
            return report
        if run.activations is None:
            run.notes.append(f"{LATENT_REPORT_FOLDER}/ was written for another model than this folder's (or by "
                             "hand); run `aekit sae inspect` again")
            return report
    if run.activations is None:
        raise UnsupportedRun(
            f"{run.path}: the latent browser needs the run's latent report ({LATENT_REPORT_FOLDER}/, written by "
            f"`aekit sae inspect {run.path} STORE`) or its activation store at {run.info.get('dataset')!r} (as "
            "recorded in run.json); run `aekit sae inspect` first."
        )
    rows = min(EXPLORE_ROWS, len(run.activations))
    report = inspect_store(run.estimator, run.activations, n_latents=EXPLORE_LATENTS, max_rows=rows)
    run.notes.append(f"latents inspected over the first {rows:,} of {len(run.activations):,} rows of the store; "
                     "`aekit sae inspect` inspects the whole store and keeps the result for this page")
    return report


def _token_lists(report, ids) -> list:
    return [[report.text(t) for t in row] for row in ids]


def latent_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    """The latent browser of a :class:`~aekit.autoencoders.SparseDictionary` run (see the module docstring)."""
    report = _report(run)
    run.notes.extend(n for n in report.notes if n not in run.notes)
    L = len(report.latents)
    content = {
        "latents": report.latents.astype(np.int32), "counts": report.counts.astype(np.int32),
        "mean": np.nan_to_num(report.mean_when_firing, nan=0.0).astype(np.float32), "n_rows": int(report.n_rows),
        "unit": "tokens" if report.is_text else "rows", "top_rows": report.top_rows.astype(np.int32),
        "top_values": np.where(report.top_rows >= 0, report.top_values, 0).astype(np.float32),
        "dataset": None, "before": int(report.before), "context_values": None, "images": None, "image_range": None,
        "histogram": report.histogram.astype(np.int32), "edges": report.edges.astype(np.float32),
        "promoted": None, "suppressed": None, "density": _density(report), "facts": _facts(report),
    }
    if report.is_text:
        contexts = _contexts(report)
        store = run.activations
        data = RowsOnly(f"activations of {run.name}", len(store) if store is not None else report.n_rows,
                        store.d if store is not None else report.info.get("sparse_autoencoder", {}).get("d", 0))
        key = table.key(data.name, data, contexts=lambda rows: [contexts[int(r)] for r in rows])
        table.use(key, report.top_rows)
        content.update(dataset=key, context_values=report.context_values.astype(np.float32))
    if report.images is not None:
        images = report.images
        flat, lo, hi = quantize_images(images.reshape(images.shape[0] * images.shape[1], -1))
        content.update(images=flat.reshape(images.shape[:2] + images.shape[2:4]), image_range=[lo, hi])
    if report.promoted_ids is not None:
        content["promoted"] = {"tokens": _token_lists(report, report.promoted_ids),
                               "values": report.promoted_values.astype(np.float32)}
        content["suppressed"] = {"tokens": _token_lists(report, report.suppressed_ids),
                                 "values": report.suppressed_values.astype(np.float32)}
    sae = report.info.get("sparse_autoencoder", {})
    title = f"latents of {run.name}: {sae.get('architecture', 'sparse')} dictionary of {sae.get('latents', '?')}, " \
            f"{L} shown"
    return [panel(run, "latents", title, **content)]


def _contexts(report) -> dict:
    """Row -> TokenContext of every top row (the tokens of its context, the row's own token's place)."""
    out = {}
    for i, n in zip(*np.nonzero(report.top_rows >= 0)):
        r = int(report.top_rows[i, n])
        if r in out:
            continue
        slots = report.context_tokens[i, n]
        kept = np.flatnonzero(slots >= 0)
        out[r] = TokenContext([report.text(t) for t in slots[kept]], int(np.searchsorted(kept, report.before)))
    return out


def _density(report) -> dict:
    freq = report.all_counts / max(report.n_rows, 1)
    alive = freq[freq > 0]
    low = math.floor(math.log10(1.0 / max(report.n_rows, 1)) * 4) / 4
    edges = np.arange(low, 0.25, 0.25)
    counts, _ = np.histogram(np.log10(alive), bins=edges) if alive.size else (np.zeros(edges.size - 1), None)
    return {"counts": counts.astype(np.int32), "log10_edges": edges.astype(np.float32),
            "dead": int((freq == 0).sum()), "n_latents": int(freq.size)}


def _facts(report) -> list:
    info = report.info
    acts, sae = info.get("activations", {}), info.get("sparse_autoencoder", {})
    source = acts.get("source")
    rows = [("model", acts.get("model")), ("layer", acts.get("layer")),
            ("text", source.split(": ", 1)[0] if isinstance(source, str) else None),
            ("rows inspected", f"{report.n_rows:,}"),
            ("sparse autoencoder", " · ".join(f"{k} {v}" for k, v in sae.items() if k != "class") or None),
            ("latents shown", info.get("selection"))]
    return [[k, str(v)] for k, v in rows if v is not None]

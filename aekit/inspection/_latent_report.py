"""Everything a page needs to show a sparse autoencoder's latents, as arrays: :class:`LatentReport`.

:func:`inspect_latents` makes one pass over the activations
(:func:`~aekit.inspection.top_activations`), chooses the latents to show
(a spread over firing frequency, :func:`~aekit.inspection.choose_latents`),
and gathers for each: its top rows and their activations, its activation
histogram and firing frequency; for text, each top row's context and the
latent's activation on every token of it (:func:`~aekit.inspection.token_contexts`,
:func:`~aekit.inspection.context_activations`) and, for a causal language
model, the tokens its atom promotes and suppresses
(:func:`~aekit.inspection.promoted_tokens`); for images, the top rows'
images. :func:`inspect_store` does the same for an activation store,
loading the offline language model the store was harvested from (for its
tokenizer and unembedding) when it is installed. ``aekit.viz`` draws the
result (:func:`aekit.viz.write_latent_report`, the explorer's ``latents``
panel); :meth:`LatentReport.save` keeps it beside a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from aekit import io as aio
from aekit.autoencoders import BatchTopK, TopK
from aekit.harvest import TEXT_MODELS, ActivationStore, load_text_model
from aekit.inspection._contexts import (
    context_activations,
    decode_tokens,
    index_column,
    is_array_index,
    is_text_index,
    token_contexts,
)
from aekit.inspection._latents import (
    choose_latents,
    firing_frequency,
    mean_when_firing,
    sparse_dictionary_module,
    top_activations,
)
from aekit.inspection._logit_lens import LogitLens, PromotedTokens, logit_lens, promoted_tokens

__all__ = ["LatentReport", "inspect_latents", "inspect_store"]

FORMAT, VERSION = "aekit-latent-report", 1
_ARRAYS = ("latents", "all_counts", "counts", "totals", "histogram", "edges", "top_rows", "top_values",
           "context_tokens", "context_rows", "context_values", "top_samples", "images",
           "promoted_ids", "promoted_values", "suppressed_ids", "suppressed_values")


@dataclass
class LatentReport:
    """What is known about ``L`` chosen latents of a sparse autoencoder with ``m`` latents.

    Attributes
    ----------
    latents : (L,) int64
        The latents shown, in the order shown (rarest first when chosen by frequency).
    n_rows : int
        Rows of activations the statistics are over.
    all_counts : (m,) int64
        Firing counts of every latent (for the density histogram of the whole dictionary).
    counts, totals : (L,) int64, (L,) float64
        Firing count and sum of activations of each shown latent.
    histogram : (L, B) int64; edges : (B + 1,) float64
        Non-zero activations per log-spaced bin.
    top_rows, top_values : (L, N) int64, (L, N) float32
        Top-activating rows (-1 pads) and their activations (-inf pads).
    context_tokens, context_rows, context_values : (L, N, w) or None
        Text: the token ids and rows around each top row (the row's own at
        column ``before``; -1 pads) and the latent's activation on each.
    before : int
        Context tokens before the activating one.
    top_samples : (L, N) int64 or None; images : (L, N, *image_shape) float32 or None
        Images: the sample of each top row and its image.
    promoted_ids, promoted_values, suppressed_ids, suppressed_values : (L, k) or None
        Causal language models: the tokens the atom promotes and suppresses most.
    token_text : dict of int to str
        The text of every token id above.
    info : dict
        What was inspected: model, layer, text, sparse autoencoder, rows, how the latents were chosen.
    notes : list of str
        What could not be shown, and why.
    """

    latents: np.ndarray
    n_rows: int
    all_counts: np.ndarray
    counts: np.ndarray
    totals: np.ndarray
    histogram: np.ndarray
    edges: np.ndarray
    top_rows: np.ndarray
    top_values: np.ndarray
    context_tokens: np.ndarray | None = None
    context_rows: np.ndarray | None = None
    context_values: np.ndarray | None = None
    before: int = 0
    top_samples: np.ndarray | None = None
    images: np.ndarray | None = None
    promoted_ids: np.ndarray | None = None
    promoted_values: np.ndarray | None = None
    suppressed_ids: np.ndarray | None = None
    suppressed_values: np.ndarray | None = None
    token_text: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def frequency(self) -> np.ndarray:
        """(L,) fraction of the rows on which each shown latent fires."""
        return firing_frequency(self.counts, self.n_rows)

    @property
    def mean_when_firing(self) -> np.ndarray:
        """(L,) mean non-zero activation of each shown latent (NaN where it never fired)."""
        return mean_when_firing(self.counts, self.totals)

    @property
    def is_text(self) -> bool:
        return self.context_tokens is not None

    def text(self, token_id: int) -> str:
        """The text of a token id (``#id`` when its text is not known)."""
        return self.token_text.get(int(token_id), f"#{int(token_id)}")

    # ------------------------------------------------------------ files
    def save(self, folder) -> Path:
        """Write ``report.json`` (info, notes, token texts) and ``arrays.safetensors`` into ``folder`` (atomically)."""
        folder = Path(folder)
        tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
                   for name in _ARRAYS if getattr(self, name) is not None}
        with aio.atomic_dir(folder) as tmp:
            aio.save_tensors(Path(tmp) / "arrays.safetensors", tensors)
            aio.atomic_write_json(Path(tmp) / "report.json", {
                "format": FORMAT, "version": VERSION, "n_rows": int(self.n_rows), "before": int(self.before),
                "token_text": {str(k): v for k, v in self.token_text.items()}, "info": self.info,
                "notes": list(self.notes)})
        return folder

    @classmethod
    def load(cls, folder) -> "LatentReport":
        """Read a report written by :meth:`save`."""
        folder = Path(folder)
        meta = aio.read_json(folder / "report.json")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError(f"{folder}/report.json is not a version-{VERSION} latent report; write it again with "
                             "`aekit sae inspect`.")
        arrays = {k: v.numpy() for k, v in aio.load_tensors(folder / "arrays.safetensors").items()}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in arrays.items() if k in known}, n_rows=int(meta["n_rows"]),
                   before=int(meta["before"]), token_text={int(k): v for k, v in meta["token_text"].items()},
                   info=aio.from_jsonable(meta["info"]), notes=list(meta["notes"]))


# ------------------------------------------------------------------ making one
def inspect_latents(sae, data, *, n_latents: int = 20, latents=None, n_top: int = 12, before: int = 16,
                    after: int = 4, index=None, columns=None, tokenizer=None, lens: LogitLens | None = None,
                    images=None, n_promoted: int = 10, max_rows: int | None = None, edges=None,
                    progress: bool = False) -> LatentReport:
    """Inspect the latents of a fitted sparse autoencoder on activations ``data``.

    Parameters
    ----------
    sae : SparseDictionary or SparseDictionaryModule
        The fitted sparse autoencoder.
    data : ActivationStore or array of shape (n, d)
        Activations of the layer it was trained on (streamed once, in order).
    n_latents : int
        Latents to show, chosen as a spread over firing frequency.
    latents : sequence of int, optional
        Show these latents instead.
    n_top : int
        Top-activating rows per latent.
    before, after : int
        Tokens of context around each top row (text).
    index : ActivationStore or int array (n, c), optional
        Where rows came from; default: the store ``data`` itself. For an
        array of token activations, its index in :data:`~aekit.harvest.TEXT_COLUMNS`
        order (or ``columns``).
    columns : sequence of str, optional
        Names of ``index``'s columns when it is an array.
    tokenizer : Hugging Face tokenizer or list of str, optional
        Spells the token ids (without it a token shows as ``#id``).
    lens : LogitLens, optional
        The language model's unembedding (:func:`~aekit.inspection.logit_lens`):
        adds the promoted and suppressed tokens of each latent.
    images : array of shape (n_samples, *image_shape), optional
        The images the rows came from: row ``r``'s image is
        ``images[sample of r]`` (the index's ``sample`` column, or ``r``
        itself without an index).
    n_promoted : int
        Promoted and suppressed tokens per latent.
    max_rows : int, optional
        Inspect only the first rows.
    edges : array, optional
        Histogram edges (default :func:`~aekit.inspection.histogram_edges`).
    progress : bool
        Progress bar on stderr during the pass.

    Returns
    -------
    LatentReport
    """
    module = sparse_dictionary_module(sae)
    stats = top_activations(module, data, n_top=n_top, max_rows=max_rows, edges=edges, progress=progress)
    if latents is None:
        chosen = choose_latents(stats.counts, n_latents)
        how = (f"{chosen.size} latents spread over firing frequency: evenly spaced ranks among the "
               f"{int((stats.counts > 0).sum())} of {stats.n_latents} latents that fired, rarest first")
    else:
        chosen = np.asarray(latents, dtype=np.int64).reshape(-1)
        bad = chosen[(chosen < 0) | (chosen >= stats.n_latents)]
        if bad.size:
            raise ValueError(f"latents {bad.tolist()} out of range: the sparse autoencoder has {stats.n_latents}.")
        how = "latents given"
    report = LatentReport(
        latents=chosen, n_rows=stats.n_rows, all_counts=stats.counts, counts=stats.counts[chosen],
        totals=stats.totals[chosen], histogram=stats.histogram[chosen], edges=stats.edges,
        top_rows=stats.top_rows[chosen], top_values=stats.top_values[chosen],
        info=_describe(sae, module, data, stats.n_rows, how),
    )
    if index is None and isinstance(data, ActivationStore):
        index = data
    if index is not None and is_text_index(index, columns):
        ctx = token_contexts(index, report.top_rows, before=before, after=after, columns=columns)
        report.context_tokens, report.context_rows, report.before = ctx.tokens, ctx.rows, ctx.before
        report.context_values = context_activations(module, data, ctx.rows, chosen)
    elif index is None and images is None:
        report.notes.append("the rows have no index, so their contexts are not known: pass the store, or index=")
    if images is not None:
        images = np.asarray(images)
        if index is not None and is_array_index(index, columns):
            samples = index_column(index, report.top_rows, "sample", columns=columns)
        elif index is None:
            samples = report.top_rows.copy()
        else:
            raise ValueError("images= needs rows that are samples: an image store (index column 'sample') or an "
                             "array of activations with one row per image.")
        if samples.max(initial=-1) >= images.shape[0]:
            raise ValueError(f"the rows come from samples up to {int(samples.max())}, but images has "
                             f"{images.shape[0]}; pass the images the store was harvested from.")
        report.top_samples = samples
        report.images = np.where((samples >= 0).reshape(samples.shape + (1,) * (images.ndim - 1)),
                                 images[samples.clip(min=0)], 0).astype(np.float32)
    if lens is not None:
        atoms = module.W_dec.detach()[torch.as_tensor(chosen, device=module.W_dec.device)]
        promoted = promoted_tokens(atoms, lens, k=n_promoted)
        report.promoted_ids, report.promoted_values = promoted.ids, promoted.values
        report.suppressed_ids, report.suppressed_values = promoted.suppressed_ids, promoted.suppressed_values
    if tokenizer is not None:
        ids = [a for a in (report.context_tokens, report.promoted_ids, report.suppressed_ids) if a is not None]
        if ids:
            report.token_text = decode_tokens(tokenizer, np.concatenate([a.reshape(-1) for a in ids]))
    elif report.is_text or lens is not None:
        report.notes.append("no tokenizer: tokens are shown by their ids (#id)")
    return report


def _describe(sae, module, data, n_rows: int, how: str) -> dict:
    info = {"sparse_autoencoder": {"class": type(sae).__name__, "architecture": module.architecture,
                                   "d": module.n_features, "latents": module.n_latents},
            "rows": int(n_rows), "selection": how}
    if isinstance(module.activation, (TopK, BatchTopK)):  # the number of active latents (per row / on average)
        info["sparse_autoencoder"]["k"] = int(module.activation.k)
    if isinstance(data, ActivationStore):
        s = data.settings
        inputs = s.get("inputs", {}) if isinstance(s.get("inputs"), dict) else {}
        info["activations"] = {"model": s.get("model"), "layer": s.get("layer"), "source": inputs.get("source"),
                               "context": inputs.get("context"), "store_rows": len(data), "dtype": data.dtype}
    else:
        info["activations"] = {"array": list(np.shape(data))}
    return info


def inspect_store(sae, store, *, text_model=None, images=None, device=None, **options) -> LatentReport:
    """:func:`inspect_latents` on an activation store, with the language model it was harvested from.

    For a text store whose model is one of :data:`aekit.harvest.TEXT_MODELS`
    (``"smollm2"``, ``"minilm"``) the model is loaded (offline, the ``lm``
    set-up) for its tokenizer and, for a causal model, its logit lens; when
    it is not installed the report says so and shows token ids.

    Parameters
    ----------
    sae : SparseDictionary
    store : ActivationStore or path
    text_model : TextModel, optional
        Use this model instead of loading the one the store names.
    images : array (n_samples, *image_shape), optional
        For a store of image activations: the images it was harvested from.
    device : str or torch.device, optional
        Where the language model is loaded (default the CPU).
    **options
        Passed to :func:`inspect_latents` (``n_latents``, ``n_top``, ``max_rows``, ...).
    """
    store = store if isinstance(store, ActivationStore) else ActivationStore(store)
    notes = []
    tokenizer = lens = None
    if is_text_index(store):
        name = store.settings.get("model")
        if text_model is None and name in TEXT_MODELS:
            try:
                text_model = load_text_model(name, dtype="float32", device=device or "cpu")
            except ModuleNotFoundError as exc:
                notes.append(f"the language model {name!r} is not installed ({exc}), so tokens show as ids")
        elif text_model is None:
            notes.append(f"the store's model {name!r} is not one aekit loads by name ({', '.join(TEXT_MODELS)}); "
                         "tokens show as ids")
        if text_model is not None:
            tokenizer = text_model.tokenizer
            if text_model.kind == "causal":
                lens = logit_lens(text_model.module)
    elif images is None:
        notes.append("the store holds image (or array) activations: pass the images it was harvested from to "
                     "see the top-activating ones")
    report = inspect_latents(sae, store, tokenizer=tokenizer, lens=lens, images=images, **options)
    report.notes[:0] = notes
    return report

"""Harvest a layer's activations into an :class:`~aekit.harvest.ActivationStore`, resumably.

Text models take :class:`~aekit.harvest.TokenWindows`: batch ``b`` is windows
``b*B : (b+1)*B``, run up to the hooked layer (the rest of the network is
skipped), and every token position from ``exclude_positions`` on becomes a
row, indexed by its token id, document, position in the document, window and
position in the window. Position 0 is left out by default: a causal model's
first position is an attention sink whose residual-stream norm is orders of
magnitude above the others (the harvest measures and records the ratio), so it
would dominate any reconstruction loss. Image (or any array) models take an
array of inputs, one row per sample, or with ``locations=True`` one row per
spatial location of a (B, C, H, W) feature map.

Rows whose norm exceeds ``extreme_norm`` times the median row norm (measured
on the first batch, then fixed) are counted, and dropped with
``drop_extreme=True``.

Resuming: batches are cut at fixed offsets, so the computation of a batch is
the same in every run. The store records after each shard which batch to run
again and how many of its rows it already holds (see
:class:`~aekit.harvest.StoreWriter`), so a harvest killed at any point and
started again with ``resume=True`` ends with exactly the rows of an
uninterrupted run.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from aekit._torch import resolve_device
from aekit.harvest._modules import find_module, run_to
from aekit.harvest._store import STORE_DTYPES, ActivationStore, StoreWriter, to_storage
from aekit.harvest._windows import TokenWindows

__all__ = ["TEXT_COLUMNS", "ARRAY_COLUMNS", "HarvestReport", "harvest"]

#: Index columns of a text harvest's rows.
TEXT_COLUMNS = ("token", "document", "doc_position", "window", "window_position")
#: Index columns of an array harvest's rows (location: y * W + x of a feature map, else -1).
ARRAY_COLUMNS = ("sample", "location")


@dataclass(frozen=True)
class HarvestReport:
    """What a harvest did.

    Attributes
    ----------
    store : ActivationStore
        The finished store.
    rows : int
        Rows in the store.
    new_rows : int
        Rows this call added (less than ``rows`` after a resume).
    tokens : int
        Input tokens (text) or samples (arrays) this call ran through the model.
    seconds : float
        Wall time of this call (forward passes, checks and writes).
    median_norm, norm_threshold : float
        Median row norm of the first batch and the extreme-norm threshold.
    excluded_norm_ratio : float or None
        Median norm of the excluded positions over that of the kept ones (text, first batch).
    extreme_rows, dropped_rows : int
        Rows above the threshold over the whole harvest, and how many of them were dropped.
    """

    store: ActivationStore
    rows: int
    new_rows: int
    tokens: int
    seconds: float
    median_norm: float
    norm_threshold: float
    excluded_norm_ratio: float | None
    extreme_rows: int
    dropped_rows: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def _module_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's name, shape, dtype and a strided sample of its values (cheap, not exhaustive)."""
    digest = hashlib.sha256()
    for name, p in model.state_dict().items():
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // 64)
        digest.update(f"{name}{tuple(p.shape)}{p.dtype}".encode())
        digest.update(flat[::step].to("cpu", torch.float64).numpy().tobytes())
    return digest.hexdigest()


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.float32


class _TextInputs:
    """Batches of token windows; rows per kept position."""

    columns = TEXT_COLUMNS

    def __init__(self, windows: TokenWindows, batch_size: int, exclude: int):
        if not 0 <= exclude < windows.context:
            raise ValueError(f"exclude_positions={exclude} must be in [0, context={windows.context}).")
        self.w, self.B, self.exclude = windows, batch_size, exclude
        self.n_batches = math.ceil(len(windows) / batch_size)
        self.units_per_batch = batch_size * windows.context  # tokens through the model
        self.rows_per_batch = batch_size * (windows.context - exclude)

    def describe(self) -> dict:
        return {"kind": "text", "source": self.w.source, "context": self.w.context, "stride": self.w.stride,
                "windows": len(self.w), "window_format": self.w.window_format.as_dict(),
                "fingerprint": self.w.fingerprint()}

    def run(self, model, layer, b, device, stop):
        ids = torch.from_numpy(self.w.tokens[b * self.B : (b + 1) * self.B]).to(device)
        acts = run_to(model, layer, lambda: model(ids), stop=stop)
        if acts.ndim != 3 or tuple(acts.shape[:2]) != tuple(ids.shape):
            raise ValueError(f"layer {layer!r} output has shape {tuple(acts.shape)}; a text harvest needs "
                             f"(batch, positions, d) = ({ids.shape[0]}, {ids.shape[1]}, d).")
        return acts, ids.shape[0] * ids.shape[1]

    def rows(self, acts, b):
        e, n = self.exclude, acts.shape[0]
        sl = slice(b * self.B, b * self.B + n)
        positions = np.arange(e, self.w.context, dtype=np.int32)
        index = np.stack([
            self.w.tokens[sl, e:].astype(np.int32),
            self.w.document[sl, e:],
            self.w.position[sl, e:],
            np.repeat(np.arange(sl.start, sl.stop, dtype=np.int32)[:, None], positions.shape[0], 1),
            np.broadcast_to(positions, (n, positions.shape[0])),
        ], axis=-1).reshape(-1, len(TEXT_COLUMNS))
        return acts[:, e:].reshape(-1, acts.shape[-1]), index

    def excluded(self, acts):
        return acts[:, : self.exclude].reshape(-1, acts.shape[-1]) if self.exclude else None


class _ArrayInputs:
    """Batches of an array of samples (images); a row per sample or per feature-map location."""

    columns = ARRAY_COLUMNS

    def __init__(self, X, batch_size: int, locations: bool):
        self.X = torch.as_tensor(np.asarray(X)) if not isinstance(X, torch.Tensor) else X
        if self.X.ndim < 2 or self.X.shape[0] == 0:
            raise ValueError(f"inputs must be a non-empty array of samples (n, ...), got shape {tuple(self.X.shape)}.")
        self.B, self.locations = batch_size, locations
        self.n_batches = math.ceil(self.X.shape[0] / batch_size)
        self.units_per_batch = batch_size
        self.rows_per_batch = batch_size
        self.exclude = 0

    def describe(self) -> dict:
        data = self.X.detach().to("cpu").contiguous()
        digest = hashlib.sha256(data.view(torch.uint8).reshape(-1).numpy().tobytes()).hexdigest()
        return {"kind": "array", "shape": list(data.shape), "dtype": str(data.dtype).removeprefix("torch."),
                "fingerprint": digest, "locations": self.locations}

    def run(self, model, layer, b, device, stop):
        x = self.X[b * self.B : (b + 1) * self.B].to(device=device, dtype=_model_dtype(model))
        return run_to(model, layer, lambda: model(x), stop=stop), x.shape[0]

    def rows(self, acts, b):
        n = acts.shape[0]
        sample = np.arange(b * self.B, b * self.B + n, dtype=np.int32)
        if self.locations and acts.ndim == 4:
            hw = acts.shape[2] * acts.shape[3]
            index = np.stack([np.repeat(sample, hw), np.tile(np.arange(hw, dtype=np.int32), n)], axis=-1)
            return acts.permute(0, 2, 3, 1).reshape(-1, acts.shape[1]), index
        if self.locations:
            raise ValueError(f"locations=True needs a (B, C, H, W) feature map; the layer outputs {tuple(acts.shape)}.")
        return acts.reshape(n, -1), np.stack([sample, np.full(n, -1, np.int32)], axis=-1)

    def excluded(self, acts):
        return None


def harvest(model: torch.nn.Module, layer: str, inputs, out, *, model_name: str | None = None, batch_size: int = 32,
            max_rows: int | None = None, exclude_positions: int = 1, extreme_norm: float = 10.0,
            drop_extreme: bool = False, locations: bool = False, autocast: bool = False, stop: bool = True,
            store_dtype: str = "bfloat16", rows_per_shard: int = 1 << 16, resume: bool = False,
            progress: bool = True, device=None) -> HarvestReport:
    """Run ``model`` over ``inputs`` and store the output of its submodule ``layer`` at ``out``.

    Parameters
    ----------
    model : torch.nn.Module
        Any network; text models are called as ``model(ids)`` with ids
        (B, context) int64, others as ``model(x)``. Evaluated in inference mode
        in its own dtype (cast it, e.g. to bfloat16, before).
    layer : str
        Dotted path of the submodule whose output is harvested (see
        :func:`~aekit.harvest.find_module`); ``""`` is the model's own output.
    inputs : TokenWindows or array of shape (n, ...)
        Token windows (text), a 2-D integer array of token ids (windows
        without provenance: each row its own document) or samples (images,
        vectors; floating point).
    out : str or Path
        The store's folder.
    model_name : str, optional
        Name recorded in the manifest (default: the model's class name).
    batch_size : int
        Windows (or samples) per forward pass.
    max_rows : int, optional
        Stop once the store holds this many rows (the token budget).
    exclude_positions : int
        Leading window positions not harvested (text): 1 leaves out position 0.
    extreme_norm : float
        Rows with norm above ``extreme_norm`` x the first batch's median norm are counted as extreme.
    drop_extreme : bool
        Leave the extreme rows out of the store.
    locations : bool
        One row per location of a (B, C, H, W) feature map instead of one per sample.
    autocast : bool
        Run under bfloat16 autocast (see :func:`aekit.training.bf16_supported`).
    stop : bool
        End each forward pass at the hooked layer.
    store_dtype : {"bfloat16", "float16", "float32"}
        How rows are stored.
    rows_per_shard : int
        Rows per shard file.
    resume : bool
        Continue the store at ``out`` where a killed harvest left it (same settings).
    progress : bool
        Show a progress bar (tokens/s, ETA) on stderr.
    device : str or torch.device, optional
        Where inputs go (default: the model's).

    Returns
    -------
    HarvestReport
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}.")
    if store_dtype not in STORE_DTYPES:
        raise ValueError(f"Unknown store_dtype {store_dtype!r}: use one of {', '.join(map(repr, STORE_DTYPES))}.")
    find_module(model, layer)  # a bad path fails before anything is written
    param = next(model.parameters(), None)
    device = resolve_device(device) if device is not None else (param.device if param is not None else torch.device("cpu"))
    if not isinstance(inputs, TokenWindows) and _is_integer(inputs):
        inputs = TokenWindows.from_ids(inputs.cpu().numpy() if isinstance(inputs, torch.Tensor) else inputs)
    plan = (_TextInputs(inputs, batch_size, int(exclude_positions)) if isinstance(inputs, TokenWindows)
            else _ArrayInputs(inputs, batch_size, locations))
    settings = {
        "model": model_name or type(model).__name__, "model_fingerprint": _module_fingerprint(model),
        "model_dtype": str(_model_dtype(model)).removeprefix("torch."), "layer": layer, "inputs": plan.describe(),
        "batch_size": batch_size, "exclude_positions": plan.exclude, "extreme_norm": float(extreme_norm),
        "drop_extreme": bool(drop_extreme), "autocast": bool(autocast), "max_rows": max_rows,
    }
    model.eval()
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        first, first_units = plan.run(model, layer, 0, device, stop)
    d = plan.rows(first, 0)[0].shape[-1]
    writer = StoreWriter(out, d=d, dtype=store_dtype, rows_per_shard=rows_per_shard, columns=plan.columns,
                         settings=settings, resume=resume)
    if writer.complete:
        return _report(writer, 0, 0, 0.0)
    norms = writer.manifest.get("info", {}).get("norms") or _calibrate(plan, first, extreme_norm)
    writer.set_info("norms", norms)
    writer.set_info("stop_at_layer", bool(stop))
    start, skip = writer.resume_point
    rows_before = writer.rows
    n_batches = plan.n_batches
    if max_rows is not None:
        n_batches = min(n_batches, math.ceil(max_rows / plan.rows_per_batch))
    bar = _progress_bar(progress, n_batches * plan.units_per_batch, start * plan.units_per_batch,
                        "tok" if isinstance(plan, _TextInputs) else "sample")
    units, next_batch = 0, start
    try:
        for b in range(start, plan.n_batches):
            if b == 0:
                acts, n_units, first = first, first_units, None
            else:
                with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    acts, n_units = plan.run(model, layer, b, device, stop)
            rows, index = plan.rows(acts, b)
            row_norms = rows.float().norm(dim=-1).cpu().numpy()
            extreme = row_norms > norms["threshold"]
            stats = {"batches": 1, "tokens": n_units, "rows_seen": int(rows.shape[0]), "extreme": int(extreme.sum()),
                     "dropped": int(extreme.sum()) if drop_extreme else 0}
            data = to_storage(rows, store_dtype)
            if drop_extreme and extreme.any():
                data, index = data[~extreme], index[~extreme]
            if b == start and skip:
                data, index = data[skip:], index[skip:]
            last = False
            if max_rows is not None and writer.rows + writer.pending + data.shape[0] >= max_rows:
                keep = max_rows - writer.rows - writer.pending
                data, index, last = data[:keep], index[:keep], True
            writer.append(data, index, b, stats)
            next_batch = b + 1
            units += n_units
            bar.update(n_units)
            bar.set_postfix(rows=str(writer.rows + writer.pending), refresh=False)
            if last:
                break
        writer.finish(next_batch)
    finally:
        bar.close()
    return _report(writer, writer.rows - rows_before, units, time.perf_counter() - t0)


def _is_integer(inputs) -> bool:
    if isinstance(inputs, torch.Tensor):
        return not inputs.dtype.is_floating_point and not inputs.dtype.is_complex and inputs.dtype != torch.bool
    return np.issubdtype(np.asarray(inputs).dtype, np.integer)


def _calibrate(plan, first: torch.Tensor, extreme_norm: float) -> dict:
    """The first batch's median row norm, the extreme-norm threshold and the excluded positions' norm ratio."""
    kept = plan.rows(first, 0)[0].float().norm(dim=-1)
    median = float(kept.median())
    excluded = plan.excluded(first)
    ratio = None if excluded is None or median == 0 else float(excluded.float().norm(dim=-1).median()) / median
    return {"median": median, "threshold": float(extreme_norm) * median, "excluded_ratio": ratio}


def _progress_bar(enabled: bool, total: int, initial: int, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, unit_scale=True, desc="harvest", disable=not enabled,
                dynamic_ncols=True, smoothing=0.1)


def _report(writer: StoreWriter, new_rows: int, units: int, seconds: float) -> HarvestReport:
    stats = writer.stats
    norms = writer.manifest.get("info", {}).get("norms", {})
    return HarvestReport(
        store=ActivationStore(writer.path), rows=writer.rows, new_rows=new_rows, tokens=units, seconds=seconds,
        median_norm=norms.get("median", float("nan")), norm_threshold=norms.get("threshold", float("nan")),
        excluded_norm_ratio=norms.get("excluded_ratio"), extreme_rows=int(stats.get("extreme", 0)),
        dropped_rows=int(stats.get("dropped", 0)),
    )

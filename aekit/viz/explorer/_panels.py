"""Run folders to the explorer's panels: arrays and numbers, no drawing.

A panel is a dict with a ``kind`` the page knows how to show (see
:mod:`aekit.viz.explorer` for the document format). The panels of a fitted
estimator come from the **panel builder** registered for its class with
:func:`register_panels`; a builder is any callable

    builder(run: Run, table: DatasetTable, *, max_points: int) -> list[dict]

that returns the run's panels, each made with :func:`panel` (so that it has
its ``kind``, ``id``, ``run``, ``title`` and ``notes``), and refers to images,
points or text by rows of a dataset registered in ``table`` (``table.key``,
``table.use``) instead of copying them. An estimator's builder is the one of
the most specific registered class in its MRO (as :func:`functools.singledispatch`
chooses), so the presets of :class:`~aekit.autoencoders.Autoencoder` use its
builder until one registers its own. The training curves are added to every
run's panels by :func:`run_panels`. A new kind of model (the sparse
autoencoders of language models, say) is one registered builder and, if it
needs one, one new panel renderer in the page; nothing else changes.

Images and points are not copied into each panel: panels refer to rows of a
dataset, and :class:`DatasetTable` stores every row that any panel refers to
once, in the document's ``datasets``; a dataset whose rows are tokens of a
text carries each stored row's context (:class:`TokenContext`), which the page
shows wherever it would show a row's image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from aekit.viz.explorer._encode import Exact, quantize_images
from aekit.viz.explorer import _mlp

__all__ = ["Run", "UnsupportedRun", "DatasetTable", "RowsOnly", "TokenContext", "ContextSource", "PanelBuilder", "panel",
           "read_run", "run_panels", "register_panels", "panel_builder", "supported_models"]

TOP_IMAGES = 8  # top-activating images per code unit, images won per SOM unit
N_SAMPLES = 24  # images offered as inputs of the draw panel
N_DIRECTIONS = 4  # principal directions of the codes with a slider each
AM_STARTS, AM_STEPS = 2, 300  # activation maximization of deep codes
RAW_POINT_FEATURES = 16  # non-image data up to this many features is stored as raw points


class UnsupportedRun(ValueError):
    """A run folder the explorer cannot show; the message says what is supported and what to do."""


@dataclass
class Run:
    """One run folder, read: its record, fitted estimator and (when it can be reloaded) its training data."""

    path: Path
    name: str
    info: dict
    metrics: dict
    history: list
    estimator: object
    data: object = None  # aekit.datasets.Dataset
    X: np.ndarray | None = None  # the training rows: the first n rows of the dataset
    notes: list = field(default_factory=list)
    activations: object = None  # aekit.harvest.ActivationStore: the activations a sparse autoencoder was trained on


# ------------------------------------------------------------------ datasets
@dataclass(frozen=True)
class TokenContext:
    """The text around one row of a dataset whose rows are tokens (activations of a language model, say).

    ``tokens``: the context, one string per token, as the tokenizer spells
    them; ``position``: the index in ``tokens`` of the row's own token.
    """

    tokens: Sequence[str]
    position: int


@dataclass(frozen=True)
class RowsOnly:
    """A dataset whose rows are not held in memory (an activation store): the document keeps only their
    contexts. It has the attributes :meth:`DatasetTable.key` reads of an :class:`aekit.datasets.Dataset`."""

    name: str
    n_samples: int
    n_features: int
    X: None = None
    y: None = None
    image_shape: None = None
    extras: dict = field(default_factory=dict)


class ContextSource(Protocol):
    """Gives the :class:`TokenContext` of dataset rows: ``source(rows (n,) int array) -> n contexts``."""

    def __call__(self, rows: np.ndarray) -> Sequence[TokenContext]: ...


class DatasetTable:
    """The datasets that panels show, each stored once with the rows that any panel refers to."""

    def __init__(self):
        self._data: dict[str, object] = {}
        self._rows: dict[str, set] = {}
        self._contexts: dict[str, ContextSource] = {}

    def key(self, name: str, data, *, contexts: ContextSource | None = None) -> str:
        """The table key of dataset ``data`` named ``name`` (a new key if the name is taken by other data).

        ``data`` is an :class:`aekit.datasets.Dataset` (or has its ``X``, ``y``,
        ``image_shape``, ``name``, ``n_samples``, ``n_features`` and ``extras``;
        :class:`RowsOnly` for rows not in memory). ``contexts``: for rows that
        are tokens of a text, where their contexts come from; the document then
        holds the context of every stored row (``"contexts"``) and the page
        shows it, with the row's token marked, where it shows an image.
        """
        key, i = name, 1
        while key in self._data and self._data[key] is not data and _shape(self._data[key]) != _shape(data):
            i += 1
            key = f"{name} ({i})"
        self._data.setdefault(key, data)
        self._rows.setdefault(key, set())
        if contexts is not None:
            self._contexts[key] = contexts
        return key

    def use(self, key: str, rows) -> np.ndarray:
        """Record that a panel shows ``rows`` of dataset ``key``; returns them as int32."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        self._rows[key].update(int(r) for r in rows if r >= 0)
        return rows.astype(np.int32)

    def to_document(self) -> dict:
        out = {}
        for key, data in self._data.items():
            rows = np.array(sorted(self._rows[key]), dtype=np.int64)
            X = data.X
            n_samples, n_features = _shape(data)
            entry = {"name": data.name, "n_features": n_features, "n_samples": n_samples,
                     "rows": rows.astype(np.int32), "image_shape": _image_shape(data, n_features)}
            if entry["image_shape"] is not None:
                images, lo, hi = quantize_images(X[rows], float(X.min()), float(X.max()))
                entry.update(images=images, range=[lo, hi])
            elif X is not None and n_features <= RAW_POINT_FEATURES:
                entry["values"] = X[rows].astype(np.float32)
            if key in self._contexts:
                entry["contexts"] = _contexts_entry(self._contexts[key], rows, key)
            y = None if data.y is None else np.asarray(data.y)
            if y is not None and y.ndim == 1:
                classes = np.issubdtype(y.dtype, np.integer)
                entry["labels"] = y[rows].astype(np.int32 if classes else np.float32)
                entry["label_kind"] = "class" if classes else "continuous"
                names = data.extras.get("classes") if isinstance(data.extras, dict) else None
                if classes and names is not None:
                    entry["label_names"] = [str(n) for n in names]
            out[key] = entry
        return out


def _shape(data) -> tuple[int, int]:
    return int(data.n_samples), int(data.n_features)


def _contexts_entry(source: ContextSource, rows: np.ndarray, key: str) -> dict:
    """``{"tokens": [[str, ...] per stored row], "position": (n_rows,) int32}``, checked."""
    contexts = list(source(rows))
    if len(contexts) != len(rows):
        raise ValueError(f"dataset {key!r}: the context source gave {len(contexts)} contexts for {len(rows)} rows.")
    for r, c in zip(rows, contexts):
        if not isinstance(c, TokenContext) or not 0 <= c.position < len(c.tokens):
            raise ValueError(f"dataset {key!r}, row {r}: expected a TokenContext whose position indexes its tokens, "
                             f"got {c!r}.")
    return {"tokens": [[str(t) for t in c.tokens] for c in contexts],
            "position": np.array([c.position for c in contexts], dtype=np.int32)}


def _image_shape(data, d: int):
    if data is not None and data.image_shape is not None and len(data.image_shape) == 2:
        return [int(s) for s in data.image_shape]
    return None


def _square_shape(d: int):
    side = math.isqrt(d)
    return [side, side] if side * side == d and side > 1 else None


# ------------------------------------------------------------------ reading a run folder
def read_run(run_dir, *, data_home=None) -> Run:
    """Read a run folder: ``run.json``, ``metrics.json``, the history and the model; reload its data.

    Raises
    ------
    FileNotFoundError
        No such folder, or no ``run.json``.
    UnsupportedRun
        The run has no saved model.
    """
    from aekit import io as aio
    from aekit.viz._report import read_run as read_record

    run_dir = Path(run_dir)
    record = read_record(run_dir)  # clear errors for a missing folder or run.json
    if not (run_dir / "model" / "config.json").is_file():
        raise UnsupportedRun(
            f"{run_dir} has no model/ folder, so there is nothing to explore (runs such as the demo's "
            "activation maximization record figures only); pass the run folders that hold a model."
        )
    estimator = aio.load(run_dir / "model", device="cpu")
    run = Run(run_dir, run_dir.name or str(run_dir), record.info, record.metrics, record.history, estimator)
    _attach_data(run, data_home)
    return run


def _attach_data(run: Run, data_home) -> None:
    """Reload the run's training data by the name in run.json (the first ``n_samples`` rows)."""
    from aekit.datasets import get_dataset

    name = run.info.get("dataset")
    if not isinstance(name, str):
        run.notes.append("the run does not name its dataset: no images, labels or data statistics")
        return
    if (Path(name) / "manifest.json").is_file():  # an activation store (the data of `aekit sae train`)
        from aekit.harvest import ActivationStore, StoreError

        try:
            run.activations = ActivationStore(name)
        except StoreError as exc:
            run.notes.append(f"the activation store {name} could not be opened ({exc})")
        return
    try:
        data = get_dataset(name, **({} if data_home is None else {"data_home": data_home}))
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        run.notes.append(f"dataset {name!r} could not be loaded ({exc}); pass --data-home to find it")
        return
    n_in = getattr(run.estimator, "n_features_in_", None)
    if n_in is not None and data.X.shape[1] != n_in:
        run.notes.append(f"dataset {name!r} has {data.X.shape[1]} features but the model takes {n_in}: not used")
        return
    n = run.metrics.get("n_samples")
    n = int(n) if isinstance(n, (int, float)) and 0 < n <= data.X.shape[0] else data.X.shape[0]
    run.data, run.X = data, data.X[:n]


def _subsample(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def panel(run: Run, kind: str, title: str, **content) -> dict:
    """A panel of ``kind`` for ``run``: its id (``"RUN/KIND"``), run name, title, the run's notes and ``content``."""
    return {"kind": kind, "id": f"{run.name}/{kind}", "run": run.name, "title": title,
            "notes": list(run.notes), **content}



# ------------------------------------------------------------------ panels
def embedding_panel(run: Run, table: DatasetTable, points, rows, *, title: str, axes, suffix="") -> dict:
    """A 2-D scatter of ``points`` (n, k >= 1), rows ``rows`` of the run's dataset (or None)."""
    P = np.asarray(points, dtype=np.float32)
    P = P[:, :2] if P.shape[1] >= 2 else np.concatenate([P, np.zeros_like(P)], axis=1)
    out = panel(run, "embedding", title, points=P, axes=list(axes)[:2], dataset=None, rows=None)
    if run.data is not None and rows is not None:
        key = table.key(run.info["dataset"], run.data)
        out.update(dataset=key, rows=table.use(key, rows))
    out["id"] += suffix
    return out


def curves_panel(run: Run) -> dict | None:
    """Every numeric column of the training history as a series (per stage for staged histories)."""
    history = run.history or getattr(run.estimator, "history_", None)
    stages = _stages(history)
    series = []
    for stage, rows in stages:
        x_key = next((k for k in ("epoch", "step") if all(k in r for r in rows)), None)
        x = [float(r[x_key]) if x_key else float(i + 1) for i, r in enumerate(rows)]
        keys: list[str] = []
        for r in rows:
            keys.extend(k for k, v in r.items() if k != x_key and k not in keys and _is_number(v))
        for k in keys:
            y = [float(r[k]) if _is_number(r.get(k)) and math.isfinite(r[k]) else None for r in rows]
            series.append({"name": f"{stage}: {k}" if stage else k, "x": x, "y": y,
                           "visible": k not in HIDDEN_SERIES})
    if not series:
        return None
    x_label = "epoch" if any("epoch" in r for _, rows in stages for r in rows) else "step"
    return panel(run, "curves", f"training curves of {run.name}", series=series, x_label=x_label)


# bookkeeping columns, shown only when ticked
HIDDEN_SERIES = {"learning_rate", "epoch_time", "n_samples", "sigma"}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _stages(history) -> list:
    """``[(stage name, list of per-epoch dicts)]`` from a history list or a dict of stages."""
    if isinstance(history, list) and history and all(isinstance(r, dict) for r in history):
        return [("", history)]
    out = []
    if isinstance(history, dict):
        for stage, value in history.items():
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                out.append((stage, value))
            elif isinstance(value, list):  # one history per layer (greedy pretraining)
                out += [(f"{stage} layer {i + 1}", v) for i, v in enumerate(value)
                        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
    return out


def _layer_dict(layer: _mlp.Dense) -> dict:
    return {"weight": layer.weight, "transpose_of": layer.transpose_of, "bias": Exact(layer.bias),
            "activation": dict(layer.activation), "offset": None if layer.offset is None else Exact(layer.offset)}


def autoencoder_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    """The draw-and-reconstruct panel, the embedding of the codes and the curves of an MLP autoencoder."""
    mlp = _mlp.describe(run.estimator)
    d, m = mlp.n_features, mlp.n_components
    shape = _image_shape(run.data, d) or _square_shape(d)
    panels = []
    X = run.X
    codes = rows = None
    if X is not None:
        rows = _subsample(X.shape[0], max_points)
        codes, _ = _mlp.forward(mlp, X[rows], dtype=np.float32)
    directions = None if codes is None else _directions(codes)
    name = type(run.estimator).__name__
    if shape is None:
        run.notes.append(f"the model's {d} inputs are not an image, so there is no drawing panel")
    else:
        corruption = None
        if mlp.corruption is not None:  # canonical: one of the page's kinds (see _mlp.input_corruption)
            corruption = {"kind": mlp.corruption.kind, "level": float(mlp.corruption.level),
                          "source": mlp.corruption_source}
        lo, hi = (float(X.min()), float(X.max())) if X is not None else (0.0, 1.0)
        out = panel(
            run, "autoencoder", f"{name} {d}-{'-'.join(str(l.bias.shape[0]) for l in mlp.encoder)}: draw and reconstruct",
            model=name, image_shape=shape, encoder=[_layer_dict(l) for l in mlp.encoder],
            decoder=[_layer_dict(l) for l in mlp.decoder], corruption=corruption, input_range=[lo, hi],
            first_layer_code=mlp.first_layer_code,
        )
        rho = float(np.linalg.norm(X, axis=1).mean()) if X is not None else math.sqrt(d) * 0.5 * (lo + hi)
        out["units"] = _unit_views(run, table, mlp, codes, rows, rho)
        out["samples"] = _samples(run, table)
        out["directions"] = directions
        panels.append(out)
    if codes is not None:
        P = (codes - directions["mean"]) @ directions["vectors"][:2].T
        panels.append(embedding_panel(run, table, P, rows, title=f"{name} codes: the first two principal directions",
                                      axes=["code direction 1", "code direction 2"], suffix="-codes"))
    return panels


def _unit_views(run: Run, table: DatasetTable, mlp, codes, rows, rho: float) -> dict:
    """Per code unit: its top-activating training images and, for deep codes, its maximizing input."""
    out = {"norm": rho}
    if not mlp.first_layer_code:
        out["preferred_inputs"] = _deep_preferred_inputs(mlp, rho)
    if codes is not None:
        k = min(TOP_IMAGES, codes.shape[0])
        top = np.argsort(-codes, axis=0, kind="stable")[:k].T  # (m, k) positions in rows
        key = table.key(run.info["dataset"], run.data)
        out.update(dataset=key, top_rows=table.use(key, rows[top]).reshape(top.shape),
                   top_values=np.take_along_axis(codes.T, top, axis=1).astype(np.float32),
                   mean=codes.mean(axis=0).astype(np.float32), max=codes.max(axis=0).astype(np.float32))
    return out


def _deep_preferred_inputs(mlp, rho: float) -> dict:
    """Activation maximization of the code units' pre-activations on ``||x|| = rho`` (uint8 per unit)."""
    from aekit.inspection import activation_maximization

    result = activation_maximization(_mlp.torch_pre_code(mlp), mlp.n_features, n_starts=AM_STARTS, norm=rho,
                                     max_steps=AM_STEPS, random_state=0)
    best = result.best_inputs.reshape(mlp.n_components, -1)
    lo, hi = best.min(axis=1, keepdims=True), best.max(axis=1, keepdims=True)
    images = np.rint((best - lo) / np.where(hi > lo, hi - lo, 1.0) * 255).astype(np.uint8)
    return {"images": images, "mean_cosine": np.nan_to_num(result.mean_cosine, nan=1.0).astype(np.float32)}


def _directions(codes: np.ndarray) -> dict:
    """Mean code and the leading principal directions of the codes, with their standard deviations.

    A randomized SVD (scikit-learn's): only the first few directions are needed,
    and a full SVD of 10 000 codes of 1000 units takes most of a minute.
    """
    from sklearn.utils.extmath import randomized_svd

    C = codes.astype(np.float64)
    mean = C.mean(axis=0)
    p = min(N_DIRECTIONS, C.shape[0] - 1, C.shape[1])
    _, s, Vt = randomized_svd(C - mean, p, n_iter=7, random_state=0)
    Vt = Vt * np.where(Vt.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # sign: mostly positive
    return {"mean": mean.astype(np.float32), "vectors": Vt.astype(np.float32),
            "std": (s / math.sqrt(max(1, C.shape[0] - 1))).astype(np.float32)}


def _samples(run: Run, table: DatasetTable) -> dict | None:
    """Images offered as inputs: rows after the training rows when the dataset has them, else training rows."""
    if run.data is None:
        return None
    n_train, n_all = run.X.shape[0], run.data.X.shape[0]
    held_out = n_all - n_train >= N_SAMPLES
    pool = np.arange(n_train, n_all) if held_out else np.arange(n_train)
    pick = pool[np.linspace(0, len(pool) - 1, min(N_SAMPLES, len(pool))).astype(int)]
    key = table.key(run.info["dataset"], run.data)
    return {"dataset": key, "rows": table.use(key, pick), "inputs": Exact(run.data.X[pick].astype(np.float32)),
            "held_out": bool(held_out)}


def transform_panels(run: Run, table: DatasetTable, *, max_points: int, axes) -> list:
    """A linear decomposition (PCA, ICA, SFA): the training rows through ``transform``."""
    if run.X is None:
        raise UnsupportedRun(_no_data(run))
    rows = _subsample(run.X.shape[0], max_points)
    points = run.estimator.transform(run.X[rows])
    title = f"{type(run.estimator).__name__} of {run.info.get('dataset')}"
    return [embedding_panel(run, table, points, rows, title=title, axes=axes)]


def pca_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    ratio = getattr(run.estimator, "explained_variance_ratio_", np.zeros(2))
    axes = [f"component {i + 1} ({100 * r:.1f} % of the variance)" for i, r in enumerate(ratio[:2])]
    return transform_panels(run, table, max_points=max_points, axes=axes + ["component 2"][len(axes) - 1:])


def source_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    return transform_panels(run, table, max_points=max_points, axes=["output 1", "output 2"])


def fitted_embedding_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    """Isomap, LLE, kernel PCA, CCA: the stored embedding of the training rows."""
    Y = np.asarray(run.estimator.embedding_)
    rows = _subsample(Y.shape[0], max_points)
    if run.X is not None and Y.shape[0] != run.X.shape[0]:
        run.notes.append(f"the embedding has {Y.shape[0]} rows but the data {run.X.shape[0]}: no labels or images")
        run.data = run.X = None
    title = f"{type(run.estimator).__name__} of {run.info.get('dataset')}"
    return [embedding_panel(run, table, Y[rows], rows, title=title, axes=["dimension 1", "dimension 2"])]


def som_panels(run: Run, table: DatasetTable, *, max_points: int) -> list:
    """The map: U-matrix, prototypes, hits and the images each unit wins."""
    som = run.estimator
    out = panel(run, "som", f"SOM {som.grid_shape[0]} x {som.grid_shape[1]} of {run.info.get('dataset')}",
                grid_shape=[int(s) for s in som.grid_shape], topology=som.topology,
                positions=np.asarray(som.positions_, dtype=np.float32), u_matrix=som.u_matrix().astype(np.float32),
                codebook=np.asarray(som.codebook_, dtype=np.float32), hit_map=None, dataset=None, winners=None,
                image_shape=_image_shape(run.data, som.codebook_.shape[1]) or _square_shape(som.codebook_.shape[1]))
    if run.X is not None:
        X = run.X
        bmu = som.predict(X)
        dist = np.linalg.norm(X - som.codebook_[bmu], axis=1)
        n_units = len(som.positions_)
        winners = np.full((n_units, TOP_IMAGES), -1, dtype=np.int64)
        order = np.lexsort((dist, bmu))  # by unit, then closest first
        starts = np.searchsorted(bmu[order], np.arange(n_units))
        for u in range(n_units):
            mine = order[starts[u]:starts[u] + TOP_IMAGES]
            mine = mine[bmu[mine] == u]
            winners[u, :len(mine)] = mine
        key = table.key(run.info["dataset"], run.data)
        out.update(hit_map=som.hit_map(X).astype(np.int32), dataset=key,
                   winners=table.use(key, winners).reshape(winners.shape))
    return [out]


def _no_data(run: Run) -> str:
    reasons = "; ".join(run.notes) or "no dataset"
    return f"{run.path}: the {type(run.estimator).__name__} panel needs the run's training data ({reasons})."


# ------------------------------------------------------------------ the registry of panel builders
class PanelBuilder(Protocol):
    """``builder(run, table, *, max_points) -> list of panels``: see the module docstring."""

    def __call__(self, run: Run, table: DatasetTable, *, max_points: int) -> list: ...


_REGISTRY: dict[type, PanelBuilder] = {}
_BUILTINS_REGISTERED = False


def register_panels(cls: type, builder: PanelBuilder | None = None, *, replace: bool = False):
    """Register ``builder`` as the maker of the panels of fitted ``cls`` estimators (and of subclasses
    that have no builder of their own).

    Usable as a decorator: ``@register_panels(MyEstimator)``. Registering a
    class twice raises unless ``replace=True``. Returns the builder.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_panels takes an estimator class, got {cls!r}.")

    def add(fn):
        if not callable(fn):
            raise TypeError(f"a panel builder must be callable (run, table, *, max_points), got {fn!r}.")
        _register_builtins()
        if cls in _REGISTRY and _REGISTRY[cls] is not fn and not replace:
            raise ValueError(f"{cls.__name__} already has a panel builder ({_REGISTRY[cls].__name__}); "
                             "pass replace=True to replace it.")
        _REGISTRY[cls] = fn
        return fn

    return add if builder is None else add(builder)


def panel_builder(estimator) -> PanelBuilder | None:
    """The builder of the most specific registered class in ``type(estimator).__mro__``, or None."""
    _register_builtins()
    return next((_REGISTRY[c] for c in type(estimator).__mro__ if c in _REGISTRY), None)


def supported_models() -> list[str]:
    """The estimator class names the explorer shows (and their subclasses, such as the presets)."""
    _register_builtins()
    return [cls.__name__ for cls in _REGISTRY]


def _register_builtins() -> None:
    """aekit's own models, registered on first use (importing every family waits for a page)."""
    global _BUILTINS_REGISTERED
    if _BUILTINS_REGISTERED:
        return
    _BUILTINS_REGISTERED = True
    from aekit.autoencoders import Autoencoder, SparseDictionary, StackedAutoencoder, StackedAutoencoderClassifier
    from aekit.decomposition import PCA, SFA, FastICA
    from aekit.manifold import SOM, CurvilinearComponentAnalysis, Isomap, KernelPCA, LocallyLinearEmbedding
    from aekit.viz.explorer._latents import latent_panels

    builtins: dict[type, Callable] = {
        Autoencoder: autoencoder_panels,
        StackedAutoencoder: autoencoder_panels,
        StackedAutoencoderClassifier: autoencoder_panels,
        PCA: pca_panels,
        FastICA: source_panels,
        SFA: source_panels,
        Isomap: fitted_embedding_panels,
        LocallyLinearEmbedding: fitted_embedding_panels,
        KernelPCA: fitted_embedding_panels,
        CurvilinearComponentAnalysis: fitted_embedding_panels,
        SOM: som_panels,
        SparseDictionary: latent_panels,
    }
    for cls, builder in builtins.items():
        _REGISTRY.setdefault(cls, builder)  # a builder registered before first use wins


def run_panels(run: Run, table: DatasetTable, *, max_points: int = 10_000) -> list:
    """Every panel of one run: its model's panels, then its training curves."""
    builder = panel_builder(run.estimator)
    if builder is None:
        raise UnsupportedRun(
            f"{run.path} holds a {type(run.estimator).__name__}, which the explorer does not show. "
            f"It shows {', '.join(supported_models())} (and the autoencoder presets); "
            "leave this folder out of `aekit explore` (its figures are in its report.html)."
        )
    try:
        panels = builder(run, table, max_points=max_points)
    except _mlp.UnsupportedModel as exc:
        raise UnsupportedRun(f"{run.path}: {exc}") from None
    curves = curves_panel(run)
    return panels + ([curves] if curves is not None else [])

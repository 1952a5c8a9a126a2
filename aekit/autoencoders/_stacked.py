"""Stacked autoencoders: greedy layer-wise pretraining, then fine-tuning of the whole stack.

Composition only: each layer is an autoencoder estimator of this package
(:class:`Autoencoder` or a preset, used as a template and cloned), trained by
its own ``_fit_tensor`` on the clean codes of the layer below; the trained
:class:`AutoencoderModule` objects are stacked into a
:class:`~aekit.autoencoders._stacked_module.StackedModule`, which the same
generic :class:`aekit.training.Trainer` fine-tunes.

Why a list of estimators (``layers``) rather than ``hidden_layer_sizes`` plus
per-layer options: every autoencoder variant, and every combination of
regularizers, is already an estimator with validated parameters; a stack of
them needs no second copy of those ~40 parameters, layers can differ in kind
(a denoising layer over a sparse one), and nested parameters
(``layer2__corruption``) work with ``get_params(deep=True)``, ``set_params``
and :class:`~sklearn.model_selection.GridSearchCV`, as for a Pipeline's steps.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit._torch import as_tensor, resolve_device, seed_from, to_numpy
from aekit.autoencoders._autoencoder import Autoencoder
from aekit.autoencoders._stacked_module import SoftmaxModule, StackedModule, accuracy, encode_in_chunks
from aekit.training import Trainer

__all__ = ["StackedAutoencoder", "StackedAutoencoderClassifier"]

_LAYER_NAME = re.compile(r"layer([1-9][0-9]*)")
_CHUNK = 8192

_COMMON_CONSTRAINTS: dict = {
    "layers": [list, tuple, None],
    "fine_tune": ["boolean"],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "optimizer": [StrOptions({"adam", "sgd"})],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "nesterov": ["boolean"],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 0, None, closed="left")],
    "lr_schedule": [str, callable],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "precision": [StrOptions({"float32", "bfloat16", "auto"}), None],
    "compile": ["boolean"],
    "warm_start": ["boolean"],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "verbose": ["verbose"],
}


def default_layers() -> list[Autoencoder]:
    """The layers used when ``layers=None``: two sigmoid autoencoders of 100 units (squared error)."""
    return [Autoencoder(100), Autoencoder(100)]


class _Stack(BaseEstimator):
    """What both stacked estimators share: nested layer parameters, pretraining, trainers, persistence."""

    # ------------------------------------------------------------ nested parameters
    def get_params(self, deep=True):
        """Parameters; with ``deep``, also ``layerN`` (1-based) and ``layerN__<param>`` of each template."""
        params = super().get_params(deep=False)
        if deep and isinstance(self.layers, (list, tuple)):
            for i, layer in enumerate(self.layers, 1):
                params[f"layer{i}"] = layer
                if hasattr(layer, "get_params") and not isinstance(layer, type):
                    params.update({f"layer{i}__{k}": v for k, v in layer.get_params(deep=True).items()})
        return params

    def set_params(self, **params):
        """Set parameters; ``layerN=est`` replaces template N, ``layerN__p=v`` sets ``p`` on it."""
        own, replace, nested = {}, {}, {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            match = _LAYER_NAME.fullmatch(name)
            if match is None:
                own[key] = value
            elif sep:
                nested.setdefault(int(match.group(1)) - 1, {})[sub] = value
            else:
                replace[int(match.group(1)) - 1] = value
        if own:
            super().set_params(**own)
        if replace or nested:
            layers = self.layers
            if not isinstance(layers, (list, tuple)) or not layers:
                raise ValueError(
                    f"cannot set {sorted(k for k in params if _LAYER_NAME.match(k))}: the stack has no explicit "
                    "layers; pass layers=[...] (a list of autoencoder estimators) first."
                )
            valid = ", ".join(f"layer{i}" for i in range(1, len(layers) + 1))
            for idx in [*replace, *nested]:
                if not 0 <= idx < len(layers):
                    raise ValueError(f"the stack has {len(layers)} layers: use {valid}, not layer{idx + 1}.")
            if replace:
                layers = list(layers)
                for idx, est in replace.items():
                    layers[idx] = est
                self.layers = layers
            for idx, sub in nested.items():
                self.layers[idx].set_params(**sub)
        return self

    # ------------------------------------------------------------ building blocks
    def _templates(self) -> list[Autoencoder]:
        """The layer templates (validated), ``default_layers()`` for None."""
        if self.layers is None:
            return default_layers()
        if len(self.layers) == 0:
            raise ValueError("layers is empty; pass a list of autoencoder estimators, e.g. [Autoencoder(200), Autoencoder(200)].")
        for i, layer in enumerate(self.layers, 1):
            if not isinstance(layer, Autoencoder):
                raise TypeError(
                    f"layer{i} must be an aekit autoencoder estimator (Autoencoder, SparseAutoencoder, "
                    f"KSparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder), got {type(layer).__name__}."
                )
        return list(self.layers)

    def _layer_estimator(self, template: Autoencoder, seed: int | None = None) -> Autoencoder:
        """A clone of ``template`` with the stack's device and verbosity (and ``seed`` as random_state)."""
        est = clone(template).set_params(device=self.device, verbose=self.verbose)
        if seed is not None:
            est.set_params(random_state=seed)
        return est

    def _seeds(self, n_layers: int) -> dict:
        """Independent seeds of every random step of one fit, drawn from ``random_state``."""
        rng = np.random.default_rng(seed_from(self.random_state))
        draws = [int(s) for s in rng.integers(0, 2**32 - 1, size=n_layers + 3)]  # sklearn seeds are 32-bit
        return {"layers": draws[:n_layers], "split": draws[-3], "head": draws[-2], "fine_tune": draws[-1]}

    def _make_trainer(self, seed: int, max_epochs: int, optimizer=None, learning_rate=None, monitor="loss") -> Trainer:
        """The fine-tuning trainer (another ``optimizer`` / ``learning_rate`` for the softmax head)."""
        options = dict(
            monitor=monitor,
            optimizer=self.optimizer if optimizer is None else optimizer,
            learning_rate=self.learning_rate if learning_rate is None else learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
            batch_size=self.batch_size,
            max_epochs=max_epochs,
            lr_schedule=self.lr_schedule,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            compile=self.compile,
            device=self.device,
            random_state=seed,
            verbose=bool(self.verbose),
        )
        if self.precision is not None:
            options["precision"] = self.precision
        return Trainer(**options)

    def _split(self, data: tuple, val: tuple | None, seed: int) -> tuple[tuple, tuple | None]:
        """(training data, validation data): ``val`` when given, else a random
        ``validation_fraction`` held out when early stopping, else none."""
        if val is not None or not self.early_stopping:
            return data, val
        n = data[0].shape[0]
        n_val = int(math.ceil(self.validation_fraction * n))
        if n - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training samples out of {n}; "
                "pass more data, lower validation_fraction or set early_stopping=False."
            )
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(data[0].device)
        return tuple(t[perm[n_val:]] for t in data), tuple(t[perm[:n_val]] for t in data)

    def _pretrain(self, X: torch.Tensor, X_val: torch.Tensor | None, seeds: list[int]):
        """Greedy layer-wise pretraining.

        Layer 1 is fitted on ``X``, layer l on the clean codes of layer l − 1
        (its feature form, exactly what ``transform`` gives); any corruption of
        a layer applies only inside its own fit. A layer with
        ``early_stopping=True`` stops on the codes of the validation rows when
        there are some. Returns the trained modules, their histories and the
        deepest codes of ``X`` and ``X_val``.
        """
        modules, histories = [], []
        H, H_val = X, X_val
        for i, (template, seed) in enumerate(zip(self._templates(), seeds), 1):
            est = self._layer_estimator(template, seed)
            est._validate_params()
            try:
                est._fit_tensor(H, H_val if (est.early_stopping and H_val is not None) else None)
            except ValueError as exc:
                what = "the data" if i == 1 else f"the codes of layer{i - 1}"
                raise ValueError(f"layer{i} ({type(template).__name__}, trained on {what}): {exc}") from exc
            module = est.module_.eval()
            modules.append(module)
            histories.append(est.history_)
            H = encode_in_chunks(lambda t, m=module: m.encode(t, extract=True), H)
            if H_val is not None:
                H_val = encode_in_chunks(lambda t, m=module: m.encode(t, extract=True), H_val)
        return modules, histories, H, H_val

    def _build_layers(self, n_features: int) -> list:
        """Untrained layer modules with the fitted stack's structure (for :func:`aekit.io.load`)."""
        modules, n_in = [], n_features
        for template in self._templates():
            module = self._layer_estimator(template)._build_module(n_in).eval()
            modules.append(module)
            n_in = module.n_components
        return modules

    # ------------------------------------------------------------ fitted maps
    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def _validated(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return as_tensor(X, device=self._device())

    @torch.no_grad()
    def _map(self, fn, T: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        parts = [to_numpy(fn(T[s : s + _CHUNK]).float()) for s in range(0, T.shape[0], _CHUNK)]
        return np.concatenate(parts, axis=0)

    def transform(self, X):
        """Deepest codes ``hᴸ(x)`` (n_samples, n_components of the last layer)."""
        T = self._validated(X)
        return self._map(self.module_.encode, T)

    @property
    def filters_(self) -> np.ndarray:
        """The first layer's encoder weights (n_units, n_features) as float32: its filters."""
        check_is_fitted(self)
        return to_numpy(self.module_.layers[0].encoder_weights[0].detach().float())

    @property
    def n_components_(self) -> int:
        """Code size of the deepest layer."""
        check_is_fitted(self)
        return self.module_.n_components

    def _validation_tensors(self, X_val, y_val=None):
        if X_val is None:
            if y_val is not None:
                raise ValueError("y_val was given without X_val; pass both or neither.")
            return None, None
        X_val = validate_data(self, X_val, dtype=np.float32, reset=False)
        return as_tensor(X_val, device=resolve_device(self.device)), y_val


class StackedAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Stack):
    """Stacked autoencoder: greedy layer-wise pretraining, optional fine-tuning of the unrolled network.

    Layer 1 learns ``h¹ = f¹(x)`` from the data, layer l learns
    ``hˡ = fˡ(hˡ⁻¹)`` from the clean codes of layer l − 1 (each with its own
    variant and regularizers; a denoising layer corrupts only its own input,
    only while it is pretrained). ``transform`` gives the deepest codes
    ``hᴸ``; ``inverse_transform`` decodes through the unrolled decoders
    ``x̂ = g¹(g²(... gᴸ(hᴸ)))``. With ``fine_tune`` the unrolled deep
    autoencoder is then trained end to end on

        layer 1's reconstruction loss of x̂(x) against x  +  λ · ½ Σ W²

    (encoder and decoder weights; no corruption and no sparsity penalties in
    this pass) by the same :class:`~aekit.training.Trainer`.

    Parameters
    ----------
    layers : list of autoencoder estimators or None, default=None
        Templates of the layers, bottom first (:class:`Autoencoder` or a preset);
        each is cloned, and its clone's ``random_state``, ``device`` and
        ``verbose`` are replaced by the stack's. Layer l's input size is layer
        l − 1's ``n_components``. Each layer is pretrained with its own
        optimizer, epochs, early stopping and precision. None means
        ``[Autoencoder(100), Autoencoder(100)]``. Nested parameters are
        ``layer1__n_components``, ``layer2__corruption``, ...
    fine_tune : bool, default=False
        Fine-tune the unrolled deep autoencoder after pretraining.
    weight_decay : float, default=0.0
        λ of the fine-tuning pass.
    optimizer, learning_rate, momentum, nesterov, batch_size, max_epochs, lr_schedule :
        Settings of the fine-tuning :class:`~aekit.training.Trainer`.
    early_stopping : bool, default=False
        Stop fine-tuning on the validation loss (``X_val`` if given to ``fit``,
        else a random ``validation_fraction`` of ``X`` held out from every phase)
        and keep the best epoch's weights. Layers with ``early_stopping=True``
        stop their pretraining on the same validation rows.
    validation_fraction, n_iter_no_change, tol :
        As in :class:`~aekit.training.Trainer`.
    precision : {"float32", "bfloat16", "auto"} or None, default=None
        Fine-tuning precision (None: the Trainer's default).
    compile : bool, default=False
    warm_start : bool, default=False
        When fitted already, keep the pretrained (and fine-tuned) weights and
        only run (more) fine-tuning.
    random_state : int, numpy Generator or None, default=None
        Seeds every layer, the validation split and the fine-tuning.
    device : str, default="cpu"
    verbose : bool, default=False

    Attributes
    ----------
    module_ : StackedModule
        The trained stack (``encode`` / ``decode`` / ``reconstruct``).
    history_ : dict
        ``{"pretraining": [history of layer 1, ...], "fine_tuning": [...]}``,
        each history a list of per-epoch dicts from the trainer.
    n_iter_ : int
        Fine-tuning epochs run.
    n_features_in_ : int

    References
    ----------
    Bengio, Lamblin, Popovici & Larochelle, "Greedy layer-wise training of
    deep networks", NIPS (2007); Hinton & Salakhutdinov, Science 313 (2006);
    Vincent et al., "Stacked denoising autoencoders", JMLR 11 (2010).

    Examples
    --------
    >>> from aekit.autoencoders import Autoencoder, DenoisingAutoencoder, StackedAutoencoder
    >>> from aekit.datasets import load_digits
    >>> X = load_digits().X
    >>> layers = [DenoisingAutoencoder(32, loss="cross_entropy", max_epochs=3), Autoencoder(8, max_epochs=3)]
    >>> StackedAutoencoder(layers, random_state=0).fit(X).transform(X).shape
    (1797, 8)
    """

    _parameter_constraints: dict = dict(_COMMON_CONSTRAINTS)

    def __init__(
        self,
        layers=None,
        *,
        fine_tune=False,
        weight_decay=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        nesterov=False,
        batch_size=128,
        max_epochs=20,
        lr_schedule="constant",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        precision=None,
        compile=False,
        warm_start=False,
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.layers = layers
        self.fine_tune = fine_tune
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, X_val=None):
        """Pretrain the layers greedily on ``X`` (n_samples, n_features), then fine-tune if asked.

        ``y`` is ignored. ``X_val`` (optional) is the validation data of early
        stopping (fine-tuning, and layers with ``early_stopping=True``).
        """
        warm = self.warm_start and hasattr(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=not warm)
        templates = self._templates()
        seeds = self._seeds(len(templates))
        X_val, _ = self._validation_tensors(X_val)
        (X_t,), val = self._split((as_tensor(X, device=resolve_device(self.device)),),
                                   None if X_val is None else (X_val,), seeds["split"])
        if not warm:
            modules, pretraining, _, _ = self._pretrain(X_t, None if val is None else val[0], seeds["layers"])
            self.module_ = StackedModule(modules, None, weight_decay=self.weight_decay)
            self.history_ = {"pretraining": pretraining, "fine_tuning": []}
        self.module_.weight_decay = float(self.weight_decay)
        if self.fine_tune:
            trainer = self._make_trainer(seeds["fine_tune"], self.max_epochs)
            self.history_["fine_tuning"] = [*self.history_["fine_tuning"], *trainer.fit(self.module_, (X_t,), val)]
        self.module_.eval()
        self.n_iter_ = len(self.history_["fine_tuning"])
        return self

    def _make_module(self, name: str) -> StackedModule:
        """Rebuild the fitted stack's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        return StackedModule(self._build_layers(self.n_features_in_), None, weight_decay=self.weight_decay).eval()

    def inverse_transform(self, X):
        """Decode deepest codes (n_samples, n_components) through the unrolled decoders to (n_samples, n_features)."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32)
        if Z.shape[1] != self.module_.n_components:
            raise ValueError(
                f"inverse_transform takes codes with {self.module_.n_components} columns (the last layer's "
                f"n_components), got {Z.shape[1]}."
            )
        return self._map(self.module_.decode, as_tensor(Z, device=self._device()))

    def predict(self, X):
        """Reconstructions ``x̂ = g¹(...gᴸ(fᴸ(...f¹(x))))`` (n_samples, n_features)."""
        T = self._validated(X)
        return self._map(self.module_.reconstruct, T)

    @torch.no_grad()
    def score(self, X, y=None):
        """Negative mean reconstruction loss per sample of the unrolled network (layer 1's loss); higher is better."""
        T = self._validated(X)
        self.module_.eval()
        first = self.module_.layers[0]
        total = 0.0
        for s in range(0, T.shape[0], _CHUNK):
            xb = T[s : s + _CHUNK]
            total += float(first.reconstruction_loss(self.module_.decode_logits(self.module_.encode(xb)), xb)) * xb.shape[0]
        return -total / T.shape[0]

    @property
    def _n_features_out(self):
        return self.module_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags


class StackedAutoencoderClassifier(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, _Stack):
    """Stacked autoencoder classifier: greedy pretraining, a softmax layer, supervised fine-tuning.

    A classifier (``predict``, ``predict_proba``, ``score``) and, like
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis`, a
    transformer: ``transform`` gives the deepest (fine-tuned) codes.

    1. Greedy layer-wise pretraining exactly as in :class:`StackedAutoencoder`
       (labels unused).
    2. A softmax output layer ``p(c | x) = softmax(V hᴸ(x) + c)`` is trained on
       the frozen deepest codes (``head_max_epochs``): the classifier *before*
       fine-tuning, whose accuracy is kept in ``stage_accuracy_["softmax"]``.
    3. With ``fine_tune``, the whole network (encoders and softmax) is trained
       by the same :class:`~aekit.training.Trainer` on

           −(1/n) Σₛ log p(yₛ | xₛ)  +  λ · ½ Σ W²      (terms "classification", "weight_decay")

       with SGD or Adam, optionally stopping early on a validation split.

    Parameters
    ----------
    layers : list of autoencoder estimators or None, default=None
        Layer templates, as in :class:`StackedAutoencoder`.
    fine_tune : bool, default=True
        Run step 3. False leaves the softmax on frozen features.
    head_max_epochs : int, default=30
        Epochs of step 2 (same batch size, schedule and early stopping as step 3).
    head_optimizer : {"adam", "sgd"} or None, default=None
        Optimizer of step 2; None: ``optimizer``.
    head_learning_rate : float or None, default=None
        Learning rate of step 2; None: ``learning_rate``. (A softmax trained
        gently, e.g. Adam 1e-3 for a few epochs, then fine-tuned by fast
        momentum SGD generalized better on MNIST than one driven to large
        weights by the fine-tuning rate.)
    weight_decay : float, default=0.0
        λ of steps 2 and 3 (on the softmax weights, and in step 3 also on the encoder weights).
    optimizer, learning_rate, momentum, nesterov, batch_size, max_epochs, lr_schedule :
        Settings of the :class:`~aekit.training.Trainer` of steps 2 and 3
        (``max_epochs`` is step 3's).
    early_stopping : bool, default=False
        Stop steps 2 and 3 on the validation loss and keep the best epoch's
        weights. The validation rows are ``X_val, y_val`` when given to ``fit``,
        else a random ``validation_fraction`` of the training data held out from
        every step (pretraining included).
    monitor : {"loss", "error"}, default="loss"
        What early stopping minimizes on the validation rows (steps 2 and 3):
        the cross-entropy loss, or the classification error rate (ties broken by
        the loss; the papers select on validation error, and the loss often
        bottoms out epochs before the error does).
    validation_fraction, n_iter_no_change, tol : as in :class:`~aekit.training.Trainer`.
    precision : {"float32", "bfloat16", "auto"} or None, default=None
    compile : bool, default=False
    warm_start : bool, default=False
        When fitted already, keep the pretrained stack and softmax and only run
        (more) fine-tuning: ``fit`` with ``fine_tune=False``, score, then
        ``set_params(fine_tune=True, warm_start=True).fit`` measures the same
        model before and after fine-tuning.
    random_state : int, numpy Generator or None, default=None
    device : str, default="cpu"
    verbose : bool, default=False

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; any hashable labels (strings included).
    module_ : StackedModule
        The network; ``module_.logits(x)`` gives class scores.
    history_ : dict
        ``{"pretraining": [per layer], "softmax": [...], "fine_tuning": [...]}``.
    stage_accuracy_ : dict
        ``{"softmax": {"train": a, "validation": a or None}, "fine_tuned": {...} or None}``:
        accuracy of the softmax on frozen codes and after fine-tuning.
    n_iter_ : int
        Fine-tuning epochs run.
    n_features_in_ : int

    References
    ----------
    Bengio et al., NIPS (2007); Vincent et al., JMLR 11 (2010); the UFLDL
    tutorial, "Stacked autoencoders" and "Fine-tuning stacked AEs" (Ng et al., 2011).
    """

    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "head_max_epochs": [Interval(Integral, 0, None, closed="left")],
        "head_optimizer": [StrOptions({"adam", "sgd"}), None],
        "head_learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "monitor": [StrOptions({"loss", "error"})],
    }

    def __init__(
        self,
        layers=None,
        *,
        fine_tune=True,
        head_max_epochs=30,
        head_optimizer=None,
        head_learning_rate=None,
        weight_decay=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        nesterov=False,
        batch_size=128,
        max_epochs=30,
        lr_schedule="constant",
        early_stopping=False,
        monitor="loss",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        precision=None,
        compile=False,
        warm_start=False,
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.layers = layers
        self.fine_tune = fine_tune
        self.head_max_epochs = head_max_epochs
        self.head_optimizer = head_optimizer
        self.head_learning_rate = head_learning_rate
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.monitor = monitor
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _encode_labels(self, y, fitted: bool) -> np.ndarray:
        if not fitted:
            self.classes_, idx = np.unique(y, return_inverse=True)
            if self.classes_.shape[0] < 2:
                raise ValueError(
                    f"StackedAutoencoderClassifier needs samples of at least 2 classes; y holds only one class "
                    f"({self.classes_[0]!r})."
                )
            return idx
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {unseen.tolist()} not seen in the first fit (classes_={self.classes_.tolist()}).")
        return np.searchsorted(self.classes_, y)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None):
        """Pretrain on ``X`` (n_samples, n_features), train the softmax on the codes, fine-tune with ``y``.

        ``X_val, y_val`` (optional) are the validation rows of early stopping
        and of ``stage_accuracy_``.
        """
        warm = self.warm_start and hasattr(self, "module_")
        X, y = validate_data(self, X, y, dtype=np.float32, reset=not warm)
        check_classification_targets(y)
        y_idx = self._encode_labels(y, warm)
        templates = self._templates()
        seeds = self._seeds(len(templates))
        device = resolve_device(self.device)
        X_val, y_val = self._validation_tensors(X_val, y_val)
        val = None
        if X_val is not None:
            if y_val is None:
                raise ValueError("X_val was given without y_val; pass both or neither.")
            y_val = np.asarray(y_val).ravel()
            if y_val.shape[0] != X_val.shape[0]:
                raise ValueError(f"X_val has {X_val.shape[0]} rows but y_val has {y_val.shape[0]} labels.")
            val = (X_val, torch.as_tensor(self._encode_labels(y_val, True), device=device))
        data = (as_tensor(X, device=device), torch.as_tensor(y_idx, dtype=torch.int64, device=device))
        data, val = self._split(data, val, seeds["split"])

        if not warm:
            modules, pretraining, Z, Z_val = self._pretrain(data[0], None if val is None else val[0], seeds["layers"])
            head = SoftmaxModule(
                modules[-1].n_components, len(self.classes_), weight_decay=self.weight_decay,
                generator=torch.Generator().manual_seed(seeds["head"]), device=device,
            )
            trainer = self._make_trainer(seeds["head"], self.head_max_epochs, self.head_optimizer, self.head_learning_rate,
                                         self.monitor)
            softmax = trainer.fit(head, (Z, data[1]), None if val is None else (Z_val, val[1]))
            self.module_ = StackedModule(modules, head.linear, weight_decay=self.weight_decay)
            self.history_ = {"pretraining": pretraining, "softmax": softmax, "fine_tuning": []}
            self.stage_accuracy_ = {"softmax": self._stage_accuracy(data, val), "fine_tuned": None}
        self.module_.weight_decay = float(self.weight_decay)
        if self.fine_tune:
            trainer = self._make_trainer(seeds["fine_tune"], self.max_epochs, monitor=self.monitor)
            self.history_["fine_tuning"] = [*self.history_["fine_tuning"], *trainer.fit(self.module_, data, val)]
            self.stage_accuracy_["fine_tuned"] = self._stage_accuracy(data, val)
        self.module_.eval()
        self.n_iter_ = len(self.history_["fine_tuning"])
        return self

    @torch.no_grad()
    def _stage_accuracy(self, data, val) -> dict:
        self.module_.eval()
        logits = self.module_.logits
        return {"train": accuracy(logits, *data, rows=None),
                "validation": None if val is None else accuracy(logits, *val, rows=None)}

    def _make_module(self, name: str) -> StackedModule:
        """Rebuild the fitted network's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        layers = self._build_layers(self.n_features_in_)
        head = torch.nn.Linear(layers[-1].n_components, len(self.classes_), device=resolve_device(self.device))
        return StackedModule(layers, head, weight_decay=self.weight_decay).eval()

    def _logits(self, X) -> np.ndarray:
        """Class scores ``V hᴸ(x) + c`` (n_samples, n_classes) as float64."""
        T = self._validated(X)
        return self._map(self.module_.logits, T).astype(np.float64)

    def decision_function(self, X):
        """Class scores: logits (n_samples, n_classes); for two classes the logit difference (n_samples,).

        The two-class form is scikit-learn's convention: positive means ``classes_[1]``.
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Class probabilities ``softmax(V hᴸ(x) + c)`` (n_samples, n_classes); rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X):
        """``log softmax(V hᴸ(x) + c)`` (n_samples, n_classes), computed stably in float64."""
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict(self, X):
        """The most probable class of each row, as labels of ``classes_``."""
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    @property
    def _n_features_out(self):
        return self.module_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags

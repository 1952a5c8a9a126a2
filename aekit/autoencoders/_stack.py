"""What both stacked estimators share: nested layer parameters, greedy pretraining, the fine-tuning trainer.

Composition only: each layer is an autoencoder estimator of this package
(:class:`Autoencoder` or a preset, used as a template and cloned), trained by
its :meth:`~aekit.autoencoders.Autoencoder.fit_tensor` on the clean codes of
the layer below; the trained :class:`AutoencoderModule` objects are stacked
into one module, which the same generic :class:`aekit.training.Trainer`
fine-tunes.

Why a list of estimators (``layers``) rather than ``hidden_layer_sizes`` plus
per-layer options: every autoencoder variant, and every combination of
regularizers, is already an estimator with validated parameters; a stack of
them needs no second copy of those parameters, layers can differ in kind (a
denoising layer over a sparse one), and nested parameters
(``layer2__corruption``) work with ``get_params(deep=True)``, ``set_params``
and :class:`~sklearn.model_selection.GridSearchCV`, as for a Pipeline's steps.
"""

from __future__ import annotations

import re
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from aekit._params import Option, option_values
from aekit._torch import as_tensor, map_rows, resolve_device, seed_from
from aekit.autoencoders._autoencoder import Autoencoder
from aekit.training import CHECKPOINT_OPTIONS, TRAINING_OPTIONS, Trainer, split_rows

__all__ = ["STACK_OPTIONS", "Stack", "default_layers"]

_LAYER_NAME = re.compile(r"layer([1-9][0-9]*)")

#: The options of both stacked estimators beyond the fine-tuning trainer's.
STACK_OPTIONS: dict[str, Option] = {
    "layers": Option(
        None, [list, tuple, None], "list of autoencoder estimators or None",
        "Templates of the layers, bottom first (:class:`Autoencoder` or a preset); each is cloned, and its\n"
        "clone's ``random_state``, ``device`` and ``verbose`` are replaced by the stack's. Layer l's input\n"
        "size is layer l − 1's ``n_components``; each layer is pretrained with its own optimizer, epochs,\n"
        "early stopping and precision. None means ``[Autoencoder(100), Autoencoder(100)]``. Nested\n"
        "parameters are ``layer1__n_components``, ``layer2__corruption``, ...", [],
    ),
    "fine_tune": Option(False, ["boolean"], "bool", "Fine-tune the whole stack after pretraining.", True),
    "weight_decay": Option(
        0.0, [Interval(Real, 0, None, closed="left")], "float",
        "λ of ``½ Σ W²`` in the supervised and fine-tuning passes (over the weights each objective uses).", 1e-4,
    ),
    "warm_start": Option(
        False, ["boolean"], "bool",
        "When fitted already, keep the pretrained (and fine-tuned) weights and only run (more) fine-tuning.", True,
    ),
}


def default_layers() -> list[Autoencoder]:
    """The layers used when ``layers=None``: two sigmoid autoencoders of 100 units (squared error)."""
    return [Autoencoder(100), Autoencoder(100)]


class Stack(BaseEstimator):
    """Nested layer parameters, pretraining, trainers and fitted maps of the stacked estimators."""

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

    def make_trainer(self, seed: int, **overrides) -> Trainer:
        """The fine-tuning trainer; ``overrides`` replace settings (the softmax head's epochs, optimizer, ...)."""
        options = {**option_values(self, TRAINING_OPTIONS), **overrides}
        options.update({k: o.default for k, o in CHECKPOINT_OPTIONS.items()})  # one run per phase: no checkpoints
        return Trainer(**options, device=self.device, random_state=seed, verbose=bool(self.verbose))

    def _split(self, data: tuple, val: tuple | None, seed: int) -> tuple[tuple, tuple | None]:
        """(training data, validation data): ``val`` when given, else a random
        ``validation_fraction`` held out when early stopping, else none."""
        if val is not None or not self.early_stopping:
            return data, val
        return split_rows(data, self.validation_fraction, torch.Generator().manual_seed(seed),
                          hint=" or set early_stopping=False")

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
            try:
                est.fit_tensor(H, H_val if (est.early_stopping and H_val is not None) else None)
            except ValueError as exc:
                what = "the data" if i == 1 else f"the codes of layer{i - 1}"
                raise ValueError(f"layer{i} ({type(template).__name__}, trained on {what}): {exc}") from exc
            module = est.module_.eval()
            modules.append(module)
            histories.append(est.history_)
            H = map_rows(module.features, H)
            if H_val is not None:
                H_val = map_rows(module.features, H_val)
        return modules, histories, H, H_val

    def _build_layers(self, n_features: int) -> list:
        """Untrained layer modules with the fitted stack's structure (for :func:`aekit.io.load`)."""
        modules, n_in = [], n_features
        for template in self._templates():
            module = self._layer_estimator(template).build_module(n_in).eval()
            modules.append(module)
            n_in = module.n_components
        return modules

    def _validation_tensors(self, X_val, y_val=None):
        if X_val is None:
            if y_val is not None:
                raise ValueError("y_val was given without X_val; pass both or neither.")
            return None, None
        X_val = validate_data(self, X_val, dtype=np.float32, reset=False)
        return as_tensor(X_val, device=resolve_device(self.device)), y_val

    def input_corruption(self):
        """The corruption of the first layer's pretraining (what the stack's inputs saw), or None."""
        return self._templates()[0].corruption

    def _bottom_autoencoder(self):
        return self.module_.layers[0]

    @property
    def n_components_(self) -> int:
        """Code size of the deepest layer."""
        return self.module_.n_components

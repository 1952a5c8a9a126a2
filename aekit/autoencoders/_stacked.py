"""The stacked autoencoder: greedy layer-wise pretraining, then optional fine-tuning of the unrolled network."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import validate_data

from aekit._params import make_init, parameter_constraints, parameters_doc
from aekit._torch import as_tensor, resolve_device
from aekit.autoencoders._autoencoder import AutoencoderMaps
from aekit.autoencoders._stack import STACK_OPTIONS, Stack
from aekit.autoencoders._stacked_module import StackedModule
from aekit.training import RUN_OPTIONS, TRAINING_OPTIONS

__all__ = ["StackedAutoencoder"]

_PARAMETERS = (STACK_OPTIONS, TRAINING_OPTIONS, RUN_OPTIONS)
_DEFAULTS = {"max_epochs": 20}


class StackedAutoencoder(AutoencoderMaps, ClassNamePrefixFeaturesOutMixin, TransformerMixin, Stack):
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
    this pass) by the same :class:`~aekit.training.Trainer`, whose settings
    are the training options below. With ``early_stopping`` the validation rows
    are ``X_val`` when given to ``fit``, else a random ``validation_fraction``
    of ``X`` held out from every phase; layers with ``early_stopping=True``
    stop their pretraining on the same rows.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    module_ : StackedModule
        The trained stack (``encode`` / ``decode`` / ``reconstruct``).
    filters_ : ndarray of shape (n_units, n_features)
        The first layer's encoder weights.
    filter_biases_ : ndarray of shape (n_units,)
        Their biases, for raw inputs (as :attr:`Autoencoder.filter_biases_`).
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

    _parameter_constraints: dict = parameter_constraints(*_PARAMETERS)
    __init__ = make_init(*_PARAMETERS, positional=("layers",), defaults=_DEFAULTS)

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
            self.module_ = StackedModule(modules, weight_decay=self.weight_decay)
            self.history_ = {"pretraining": pretraining, "fine_tuning": []}
        self.module_.weight_decay = float(self.weight_decay)
        if self.fine_tune:
            trainer = self.make_trainer(seeds["fine_tune"])
            self.history_["fine_tuning"] = [*self.history_["fine_tuning"], *trainer.fit(self.module_, (X_t,), val)]
        self.module_.eval()
        self.n_iter_ = len(self.history_["fine_tuning"])
        return self

    def rebuild_module(self, name: str) -> StackedModule:
        """Rebuild the fitted stack's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        return StackedModule(self._build_layers(self.n_features_in_), weight_decay=self.weight_decay).eval()


StackedAutoencoder.__doc__ = StackedAutoencoder.__doc__.replace(
    "{parameters}", parameters_doc(*_PARAMETERS, defaults=_DEFAULTS)
)

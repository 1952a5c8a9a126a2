"""The scikit-learn estimator around :class:`AutoencoderModule`.

``Autoencoder`` stores its arguments, builds the module at ``fit`` and hands
it to the generic :class:`aekit.training.Trainer`; everything model-specific
lives in the module. ``transform`` gives codes, ``inverse_transform`` decodes
codes, ``predict`` reconstructs, ``score`` is the negative reconstruction loss.
The same four maps serve every estimator whose ``module_`` is an autoencoder
module (one layer or a stack): :class:`AutoencoderMaps`.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit._params import make_init, option_values, parameter_constraints, parameters_doc
from aekit._torch import as_tensor, map_rows, resolve_device, seed_from, to_numpy
from aekit.autoencoders._module import AutoencoderModule, mean_reconstruction_loss
from aekit.autoencoders._options import ESTIMATOR_OPTIONS, MODEL_OPTIONS
from aekit.io import TorchModuleEstimator
from aekit.training import CHECKPOINT_OPTIONS, RUN_OPTIONS, TRAINING_OPTIONS, Trainer

__all__ = ["Autoencoder", "AutoencoderMaps", "EncoderEstimator"]

#: Every parameter of :class:`Autoencoder` (and its presets), in signature order.
AUTOENCODER_PARAMETERS = (ESTIMATOR_OPTIONS, MODEL_OPTIONS, TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS)


class EncoderEstimator(TorchModuleEstimator):
    """What other packages may ask of a fitted autoencoder-family estimator (one layer, a stack, a classifier).

    Its fitted ``module_`` has ``features(x)``: the codes ``transform`` returns,
    as a torch function of a batch, and ``first_layer_weights()``. Every
    concrete estimator also defines ``input_corruption()``: the corruption
    applied to the inputs while it trained (a stack: its first layer's), or
    None; and ``_bottom_autoencoder()``: the fitted
    :class:`AutoencoderModule` whose first layer the filters are (itself, or a
    stack's first layer). With ``torch_encoder`` and ``input_corruption`` it
    is a :class:`aekit.metrics.TorchEncoder`.

    It also writes, once for all of them, the scikit-learn side of the codes:
    ``transform``, the output feature count and the dtype tags (list it before
    scikit-learn's mixins, so that its tags are applied last).
    """

    def _module_device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def _validated(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return as_tensor(X, device=self._module_device())

    def _map(self, fn, T: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        return to_numpy(map_rows(fn, T))

    def transform(self, X):
        """Codes (n_samples, n_components): the feature form of the fitted module (``module_.features``).

        k-sparse codes keep ``ceil(k_alpha·k)`` units; a stack gives its deepest (fine-tuned) codes.
        """
        T = self._validated(X)
        return self._map(self.module_.features, T)

    @property
    def _n_features_out(self):
        return self.module_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # computed in float32 whatever the input
        tags.non_deterministic = False
        return tags

    def torch_encoder(self):
        """``x (n, d) -> codes (n, m)`` as a torch callable of the fitted module, in eval mode."""
        check_is_fitted(self)
        self.module_.eval()
        return self.module_.features

    @property
    def filters_(self) -> np.ndarray:
        """First-layer encoder weights (n_units, n_features) as float32: the filters the figures show."""
        check_is_fitted(self)
        return to_numpy(self.module_.first_layer_weights().detach().float())

    @property
    def filter_biases_(self) -> np.ndarray:
        """First-layer encoder biases (n_units,) as float32, for raw inputs.

        Unit ``i`` of the first encoder layer computes ``f(filters_[i] @ x + filter_biases_[i])``
        of an input ``x``: a centred model's input offset is folded in (``b - W @ offset``).
        """
        check_is_fitted(self)
        layer = self._bottom_autoencoder()
        W, b = layer.first_layer_weights(), layer.encoder_biases[0]
        if layer.centered:
            b = b - W @ layer.input_offset
        return to_numpy(b.detach().float())


class AutoencoderMaps(EncoderEstimator):
    """The maps of an estimator whose ``module_`` is an autoencoder (one layer or a stack): codes and back."""

    def reconstruct(self, X):
        """Reconstructions (n_samples, n_features) of ``X`` through the training-time code, without corruption.

        What the model was trained to output: k-sparse models keep ``k`` units here
        where ``transform`` keeps ``ceil(k_alpha·k)`` (a :class:`aekit.metrics.Reconstructor`).
        """
        T = self._validated(X)
        return self._map(self.module_.reconstruct, T)

    def inverse_transform(self, X):
        """Decode codes ``X`` (n_samples, n_components) to inputs (n_samples, n_features)."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32)
        m = self.module_.n_components
        if Z.shape[1] != m:
            raise ValueError(f"inverse_transform takes codes with n_components={m} columns, got {Z.shape[1]}.")
        return self._map(self.module_.decode, as_tensor(Z, device=self._module_device()))

    def predict(self, X):
        """The reconstructions of ``X``: :meth:`reconstruct`."""
        return self.reconstruct(X)

    def score(self, X, y=None):
        """Negative mean reconstruction loss per sample (the training loss's convention); higher is better."""
        T = self._validated(X)
        self.module_.eval()
        return -mean_reconstruction_loss(self.module_, T)


class Autoencoder(AutoencoderMaps, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Autoencoder with composable regularizers (sparse, k-sparse, denoising, contractive).

    Learns an encoder ``h = f(x)`` (n_features -> n_components) and a decoder
    ``y = g(h)`` minimizing, over minibatches,

        (1/n) Σₛ ℓ(g(f(x̃ₛ)), xₛ) + λ_wd ½‖W‖² + λ₁ ‖W‖₁ + β Σⱼ KL(ρ₀ ‖ ρ̂ⱼ)
        − λ_κ log kurt(h) + λ_a (1/n) Σₛ ‖hₛ‖₁ + λ_c (1/n) Σₛ ‖J_f(x̃ₛ)‖²_F

    with ``x̃`` the corrupted input while training (denoising) and ``ℓ`` the
    squared error or the cross-entropy, emphasized by α / β on corrupted /
    other dimensions. With ``encoder_activation="topk"`` the code layer is
    linear followed by the k-sparse selection. See
    :class:`~aekit.autoencoders.AutoencoderModule` for the model and the exact
    definition of every term.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    module_ : AutoencoderModule
        The trained torch module (``encode`` / ``features`` / ``decode`` / ``reconstruct``).
    filters_ : ndarray of shape (n_units, n_features)
        The first encoder layer's weights (one row per unit), as an array.
    filter_biases_ : ndarray of shape (n_units,)
        Its biases, for raw inputs: unit i computes ``f(filters_[i] @ x + filter_biases_[i])``.
    history_ : list of dict
        Per-epoch loss terms and metrics from the trainer.
    n_iter_ : int
        Epochs run.
    precision_ : str
        The precision it trained in (``"float32"`` or ``"bfloat16"``, ``precision="auto"`` resolved).
    fused_step_ : bool
        Whether it trained with the module's hand-written step (else the generic autograd path).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    References
    ----------
    Vincent et al., "Stacked denoising autoencoders", JMLR 11 (2010);
    Ng, "Sparse autoencoder", CS294A notes (2011); Rifai et al., "Contractive
    auto-encoders", ICML (2011); Makhzani & Frey, "k-Sparse autoencoders", ICLR (2014).

    Examples
    --------
    >>> from aekit.autoencoders import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> X = load_digits().X
    >>> ae = Autoencoder(32, loss="cross_entropy", corruption="masking:0.25", max_epochs=5, random_state=0)
    >>> ae.fit(X).transform(X).shape
    (1797, 32)
    """

    _parameter_constraints: dict = parameter_constraints(*AUTOENCODER_PARAMETERS)
    __init__ = make_init(*AUTOENCODER_PARAMETERS, positional=("n_components",))

    # ------------------------------------------------------------ building blocks
    def build_module(self, n_features: int, generator: torch.Generator | None = None,
                     input_offset: torch.Tensor | None = None) -> AutoencoderModule:
        """The untrained :class:`AutoencoderModule` these parameters describe, on ``device``.

        With ``center``, ``input_offset`` is the training-data mean (zeros, a
        placeholder that a loaded state overwrites, when not given).
        """
        if self.center and input_offset is None:
            input_offset = torch.zeros(n_features)
        elif not self.center:
            input_offset = None
        options = option_values(self, MODEL_OPTIONS)
        options["hidden_layer_sizes"] = tuple(options["hidden_layer_sizes"])
        return AutoencoderModule(n_features, self.n_components, input_offset=input_offset, generator=generator,
                                 device=resolve_device(self.device), **options)

    def make_trainer(self, random_state) -> Trainer:
        """The :class:`~aekit.training.Trainer` these parameters describe, seeded by ``random_state``."""
        return Trainer(**option_values(self, TRAINING_OPTIONS, CHECKPOINT_OPTIONS), device=self.device,
                       random_state=random_state, verbose=bool(self.verbose))

    def input_corruption(self):
        """The corruption applied to the inputs while training (``corruption``), or None."""
        return self.corruption

    def _bottom_autoencoder(self) -> AutoencoderModule:
        return self.module_

    def rebuild_module(self, name: str) -> AutoencoderModule:
        """Rebuild a fitted module's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        # the initial weights are overwritten by the saved ones; a private generator keeps
        # loading from drawing on torch's global random state
        return self.build_module(self.n_features_in_, generator=torch.Generator().manual_seed(0)).eval()

    def fit_tensor(self, X: torch.Tensor, val_X: torch.Tensor | None = None):
        """Train on a float32 tensor ``X`` (n, d) already validated (and ``val_X`` for early stopping).

        The training path of :meth:`fit`, for callers that hold tensors
        already (greedy layer-wise stacks train each layer on the codes of
        the one below, on the device). Sets ``module_``, ``history_``,
        ``n_iter_`` and ``n_features_in_``.
        """
        self._validate_params()
        if self.loss == "cross_entropy" and (float(X.min()) < 0.0 or float(X.max()) > 1.0):
            raise ValueError(
                f"loss='cross_entropy' needs inputs in [0, 1], got values in [{float(X.min()):.3g}, "
                f"{float(X.max()):.3g}]; scale the data (e.g. MinMaxScaler) or use loss='squared_error'."
            )
        seed = seed_from(self.random_state)
        init = torch.Generator().manual_seed(seed_from(np.random.default_rng(seed)))
        self.n_features_in_ = int(X.shape[1])
        offset = X.mean(dim=0, dtype=torch.float64).float() if self.center else None
        module = self.build_module(self.n_features_in_, generator=init, input_offset=offset)
        # random_state=None lets a resumed trainer take the checkpoint's seed
        trainer = self.make_trainer(None if self.random_state is None else seed)
        self.history_ = trainer.fit(module, (X,), None if val_X is None else (val_X,))
        self.module_ = module.eval()
        self.n_iter_ = len(self.history_)
        self.precision_, self.fused_step_ = trainer.precision_, trainer.fused_
        return self

    # ------------------------------------------------------------ scikit-learn API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` (n_samples, n_features); ``y`` is ignored."""
        X = validate_data(self, X, dtype=np.float32)
        return self.fit_tensor(torch.from_numpy(np.ascontiguousarray(X)))


Autoencoder.__doc__ = Autoencoder.__doc__.replace("{parameters}", parameters_doc(*AUTOENCODER_PARAMETERS))

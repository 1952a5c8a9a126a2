"""The scikit-learn estimator around :class:`AutoencoderModule`.

``Autoencoder`` stores its arguments, builds the module at ``fit`` and hands
it to the generic :class:`aekit.training.Trainer`; everything model-specific
lives in the module. ``transform`` gives codes, ``inverse_transform`` decodes
codes, ``predict`` reconstructs, ``score`` is the negative reconstruction loss.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit._torch import as_tensor, resolve_device, seed_from, to_numpy
from aekit.autoencoders._activations import ACTIVATIONS
from aekit.autoencoders._module import CONTRACTIVE_METHODS, LOSSES, SPARSITY_ESTIMATES, AutoencoderModule
from aekit.autoencoders._topk import TopK
from aekit.training import Trainer

__all__ = ["Autoencoder"]

# Rows per forward pass in transform / predict / score.
_CHUNK = 8192
_ENCODER_ACTIVATIONS = {*ACTIVATIONS, "topk"}


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    n_components : int, default=100
        Code size ``m``; larger than ``n_features`` gives an overcomplete code.
    hidden_layer_sizes : tuple of int, default=()
        Extra encoder layers before the code, mirrored in the decoder.
    encoder_activation : str or callable, default="sigmoid"
        Code-layer activation: a name in :data:`aekit.autoencoders.ACTIVATIONS`,
        ``"topk"`` (k-sparse, linear + selection; needs ``k``), or a callable.
    hidden_activation : str or callable, default="sigmoid"
        Activation of the extra hidden layers.
    decoder_activation : str, callable or None, default=None
        Output activation; None: linear for squared error, sigmoid for cross-entropy.
    loss : {"squared_error", "cross_entropy"}, default="squared_error"
        Cross-entropy needs inputs in [0, 1].
    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights.
    weight_decay : float, default=0.0
        λ_wd of ``½ Σ W²`` over all weight matrices.
    l1_weights : float, default=0.0
        λ₁ of ``Σ |W|``.
    sparsity_weight : float, default=0.0
        β of the KL average-activation penalty (sigmoid encoders only).
    sparsity_target : float, default=0.05
        ρ₀.
    sparsity_estimate : {"batch", "running", "full"}, default="batch"
        How ρ̂ is estimated (see :class:`AutoencoderModule` for the trade-off).
    sparsity_momentum : float, default=0.9
        Momentum of the running estimate.
    kurtosis_weight : float, default=0.0
        λ_κ of ``−log kurt(h)``.
    activity_l1 : float, default=0.0
        λ_a of the L1 penalty on codes.
    k : int or None, default=None
        Units kept per sample with ``encoder_activation="topk"``.
    k_alpha : float, default=1.0
        ``transform`` keeps ``ceil(k_alpha · k)`` units (α >= 1, Makhzani & Frey).
    k_start : int or None, default=None
        Units kept in the first epoch (None: ``4 k``), annealed linearly to ``k``.
    k_anneal : float, default=0.5
        Fraction of ``max_epochs`` over which k anneals.
    contraction : float, default=0.0
        λ_c of the contractive penalty.
    contractive_method : {"auto", "closed_form", "jacobian"}, default="auto"
        Closed form (single elementwise layer) or exact Jacobian; auto picks.
    corruption : str or None, default=None
        Denoising corruption spec, e.g. ``"masking:0.25"``, ``"gaussian:0.3"``,
        ``"salt_and_pepper:0.1"`` (:func:`aekit.datasets.make_corruption`).
    corrupted_weight, uncorrupted_weight : float, default=1.0
        Emphasis α / β of the reconstruction loss on corrupted / other dimensions.
    center : bool, default=False
        Subtract the training-data mean before encoding (a pre-encoder offset
        kept in the module, see ``input_offset`` of :class:`AutoencoderModule`);
        the output bias starts at the mean. Default of the k-sparse preset.
    optimizer : {"adam", "sgd"}, default="adam"
    learning_rate : float, default=1e-3
    momentum : float, default=0.9
        SGD momentum.
    nesterov : bool, default=False
    batch_size : int, default=128
    max_epochs : int, default=50
        Passes over the data; 0 keeps the initial weights (an untrained control
        with the same ``random_state`` and architecture).
    lr_schedule : str, default="constant"
        A schedule of :class:`aekit.training.Trainer` (``"cosine"``, ``"step:10:0.5"``, ...).
    early_stopping : bool, default=False
        Stop on a validation split's loss and keep the best epoch's weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    precision : {"float32", "bfloat16", "auto"} or None, default=None
        Training precision; None: the Trainer's default. Codes are computed in float32.
    compile : bool, default=False
        ``torch.compile`` the training step.
    checkpoint_dir : str or None, default=None
        Checkpoint folder (written every epoch); with ``resume`` training continues from it.
    resume : bool, default=False
    random_state : int, numpy Generator or None, default=None
        Seeds the initial weights and the trainer (shuffling, noise).
    device : str, default="cpu"
        "cpu", "cuda", "cuda:N" or "auto".
    verbose : bool, default=False
        Progress bar.

    Attributes
    ----------
    module_ : AutoencoderModule
        The trained torch module (``encode`` / ``decode`` / ``reconstruct``).
    filters_ : ndarray of shape (n_units, n_features)
        The first encoder layer's weights (one row per unit), as an array.
    history_ : list of dict
        Per-epoch loss terms and metrics from the trainer.
    n_iter_ : int
        Epochs run.
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

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "encoder_activation": [StrOptions(_ENCODER_ACTIVATIONS), callable],
        "hidden_activation": [StrOptions(set(ACTIVATIONS)), callable],
        "decoder_activation": [StrOptions(set(ACTIVATIONS)), callable, None],
        "loss": [StrOptions(set(LOSSES))],
        "tied_weights": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "l1_weights": [Interval(Real, 0, None, closed="left")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_estimate": [StrOptions(set(SPARSITY_ESTIMATES))],
        "sparsity_momentum": [Interval(Real, 0, 1, closed="left")],
        "kurtosis_weight": [Interval(Real, 0, None, closed="left")],
        "activity_l1": [Interval(Real, 0, None, closed="left")],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "k_alpha": [Interval(Real, 1, None, closed="left")],
        "k_start": [Interval(Integral, 1, None, closed="left"), None],
        "k_anneal": [Interval(Real, 0, 1, closed="both")],
        "contraction": [Interval(Real, 0, None, closed="left")],
        "contractive_method": [StrOptions(set(CONTRACTIVE_METHODS))],
        "corruption": [str, None],
        "corrupted_weight": [Interval(Real, 0, None, closed="left")],
        "uncorrupted_weight": [Interval(Real, 0, None, closed="left")],
        "center": ["boolean"],
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
        "checkpoint_dir": [str, os.PathLike, None],
        "resume": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=100,
        *,
        hidden_layer_sizes=(),
        encoder_activation="sigmoid",
        hidden_activation="sigmoid",
        decoder_activation=None,
        loss="squared_error",
        tied_weights=False,
        weight_decay=0.0,
        l1_weights=0.0,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        sparsity_estimate="batch",
        sparsity_momentum=0.9,
        kurtosis_weight=0.0,
        activity_l1=0.0,
        k=None,
        k_alpha=1.0,
        k_start=None,
        k_anneal=0.5,
        contraction=0.0,
        contractive_method="auto",
        corruption=None,
        corrupted_weight=1.0,
        uncorrupted_weight=1.0,
        center=False,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        nesterov=False,
        batch_size=128,
        max_epochs=50,
        lr_schedule="constant",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        precision=None,
        compile=False,
        checkpoint_dir=None,
        resume=False,
        random_state=None,
        device="cpu",
        verbose=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.encoder_activation = encoder_activation
        self.hidden_activation = hidden_activation
        self.decoder_activation = decoder_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.weight_decay = weight_decay
        self.l1_weights = l1_weights
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.sparsity_estimate = sparsity_estimate
        self.sparsity_momentum = sparsity_momentum
        self.kurtosis_weight = kurtosis_weight
        self.activity_l1 = activity_l1
        self.k = k
        self.k_alpha = k_alpha
        self.k_start = k_start
        self.k_anneal = k_anneal
        self.contraction = contraction
        self.contractive_method = contractive_method
        self.corruption = corruption
        self.corrupted_weight = corrupted_weight
        self.uncorrupted_weight = uncorrupted_weight
        self.center = center
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
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------ building blocks (reused by stacks)
    def _build_module(
        self, n_features: int, generator: torch.Generator | None = None, input_offset: torch.Tensor | None = None
    ) -> AutoencoderModule:
        """The untrained :class:`AutoencoderModule` these parameters describe, on ``device``.

        With ``center``, ``input_offset`` is the training-data mean (zeros, a
        placeholder that a loaded state overwrites, when not given).
        """
        if self.center and input_offset is None:
            input_offset = torch.zeros(n_features)
        elif not self.center:
            input_offset = None
        if self.encoder_activation == "topk":
            if self.k is None:
                raise ValueError("encoder_activation='topk' needs k (the number of units kept per sample).")
            f_code = TopK(self.k, alpha=self.k_alpha, k_start=self.k_start, anneal_fraction=self.k_anneal)
        else:
            if self.k is not None:
                raise ValueError(
                    f"k={self.k} applies to the k-sparse autoencoder only; set encoder_activation='topk' or k=None."
                )
            f_code = self.encoder_activation
        return AutoencoderModule(
            n_features,
            self.n_components,
            hidden_layer_sizes=tuple(self.hidden_layer_sizes),
            encoder_activation=f_code,
            hidden_activation=self.hidden_activation,
            decoder_activation=self.decoder_activation,
            loss=self.loss,
            tied_weights=self.tied_weights,
            weight_decay=self.weight_decay,
            l1_weights=self.l1_weights,
            sparsity_weight=self.sparsity_weight,
            sparsity_target=self.sparsity_target,
            sparsity_estimate=self.sparsity_estimate,
            sparsity_momentum=self.sparsity_momentum,
            kurtosis_weight=self.kurtosis_weight,
            activity_l1=self.activity_l1,
            contraction=self.contraction,
            contractive_method=self.contractive_method,
            corruption=self.corruption,
            corrupted_weight=self.corrupted_weight,
            uncorrupted_weight=self.uncorrupted_weight,
            input_offset=input_offset,
            generator=generator,
            device=resolve_device(self.device),
        )

    def _make_trainer(self, random_state) -> Trainer:
        """The :class:`~aekit.training.Trainer` these parameters describe."""
        options = dict(
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            lr_schedule=self.lr_schedule,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            compile=self.compile,
            device=self.device,
            random_state=random_state,
            checkpoint_dir=self.checkpoint_dir,
            resume=self.resume,
            verbose=bool(self.verbose),
        )
        if self.precision is not None:
            options["precision"] = self.precision
        return Trainer(**options)

    def _make_module(self, name: str) -> AutoencoderModule:
        """Rebuild a fitted module's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        # the initial weights are overwritten by the saved ones; a private generator keeps
        # loading from drawing on torch's global random state
        return self._build_module(self.n_features_in_, generator=torch.Generator().manual_seed(0)).eval()

    def _fit_tensor(self, X: torch.Tensor, val_X: torch.Tensor | None = None):
        """Train on a float32 tensor ``X`` (n, d) already validated; sets ``module_`` and ``history_``.

        The training path shared by :meth:`fit` and by estimators that train
        autoencoders on intermediate codes (greedy layer-wise stacks).
        """
        if self.loss == "cross_entropy" and (float(X.min()) < 0.0 or float(X.max()) > 1.0):
            raise ValueError(
                f"loss='cross_entropy' needs inputs in [0, 1], got values in [{float(X.min()):.3g}, "
                f"{float(X.max()):.3g}]; scale the data (e.g. MinMaxScaler) or use loss='squared_error'."
            )
        seed = seed_from(self.random_state)
        init = torch.Generator().manual_seed(seed_from(np.random.default_rng(seed)))
        self.n_features_in_ = int(X.shape[1])
        offset = X.mean(dim=0, dtype=torch.float64).float() if self.center else None
        module = self._build_module(self.n_features_in_, generator=init, input_offset=offset)
        # random_state=None lets a resumed trainer take the checkpoint's seed
        trainer = self._make_trainer(None if self.random_state is None else seed)
        self.history_ = trainer.fit(module, (X,), None if val_X is None else (val_X,))
        self.module_ = module.eval()
        self.n_iter_ = len(self.history_)
        return self

    # ------------------------------------------------------------ scikit-learn API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` (n_samples, n_features); ``y`` is ignored."""
        X = validate_data(self, X, dtype=np.float32)
        return self._fit_tensor(torch.from_numpy(np.ascontiguousarray(X)))

    def _validated(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return as_tensor(X, device=self._module_device())

    def _module_device(self) -> torch.device:
        return self.module_.encoder_biases[0].device

    @torch.no_grad()
    def _map(self, fn, T: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        parts = [to_numpy(fn(T[s : s + _CHUNK]).float()) for s in range(0, T.shape[0], _CHUNK)]
        return np.concatenate(parts, axis=0) if parts else np.empty((0, 0), dtype=np.float32)

    def transform(self, X):
        """Codes ``h = f(x)`` (n_samples, n_components); k-sparse keeps ``ceil(k_alpha·k)`` units."""
        T = self._validated(X)
        return self._map(lambda t: self.module_.encode(t, extract=True), T)

    def inverse_transform(self, X):
        """Decode codes ``X`` (n_samples, n_components) to inputs (n_samples, n_features)."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"inverse_transform takes codes with n_components={self.n_components} columns, got {Z.shape[1]}."
            )
        return self._map(self.module_.decode, as_tensor(Z, device=self._module_device()))

    def predict(self, X):
        """Reconstructions ``g(f(x))`` (n_samples, n_features), without corruption."""
        T = self._validated(X)
        return self._map(self.module_.reconstruct, T)

    @torch.no_grad()
    def score(self, X, y=None):
        """Negative mean reconstruction loss per sample (the training loss's convention); higher is better."""
        T = self._validated(X)
        self.module_.eval()
        total = 0.0
        for s in range(0, T.shape[0], _CHUNK):
            xb = T[s : s + _CHUNK]
            logits = self.module_.decode_logits(self.module_.encode(xb, extract=False))
            total += float(self.module_.reconstruction_loss(logits, xb)) * xb.shape[0]
        return -total / T.shape[0]

    @property
    def filters_(self) -> np.ndarray:
        """First-layer encoder weights (n_units, n_features) as float32: the filters the figures show."""
        check_is_fitted(self)
        return to_numpy(self.module_.encoder_weights[0].detach().float())

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # computed in float32 whatever the input
        tags.non_deterministic = False
        return tags

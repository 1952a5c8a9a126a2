"""``SparseDictionary``: the scikit-learn estimator of a sparse autoencoder on activations.

The name says what is learned: a *dictionary* of ``m`` unit-norm atoms (the
decoder's rows, ``components_`` as in scikit-learn's ``DictionaryLearning``)
and an encoder that writes each input as a *sparse* non-negative combination
of them. "SparseAutoencoder" already names Ng's KL-sparsity autoencoder in
this package; this estimator is the one interpretability work calls a sparse
autoencoder (SAE): trained on a network's activations, ``m`` several times
``d``, with TopK / BatchTopK / ReLU+L1 / JumpReLU / Matryoshka codes.

``fit`` takes an array (n, d) or a :class:`~aekit.training.BatchSource`
(an on-disk activation store streamed out of core). The input scale and the
decoder bias are estimated on the first ``init_rows`` rows; the scale is
folded into the weights after training, so ``module_`` and the saved model
act on raw activations.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit._params import make_init, option_values, parameter_constraints, parameters_doc
from aekit._torch import CHUNK_ROWS, as_device_tensor, as_tensor, resolve_device, seed_from, to_numpy
from aekit.autoencoders._autoencoder import EncoderEstimator
from aekit.autoencoders._sae import SparseDictionaryModule
from aekit.autoencoders._sae_init import geometric_median, input_scale
from aekit.autoencoders._sae_options import SAE_ESTIMATOR_OPTIONS, SAE_OPTIONS
from aekit.autoencoders._sparse_codes import SparseCodes
from aekit.training import CHECKPOINT_OPTIONS, RUN_OPTIONS, TRAINING_OPTIONS, BatchSource, Trainer

__all__ = ["SparseDictionary", "SAE_PARAMETERS"]

#: Every parameter of :class:`SparseDictionary`, in signature order.
SAE_PARAMETERS = (SAE_ESTIMATOR_OPTIONS, SAE_OPTIONS, TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS)

# Training defaults for activations: large batches, one pass, a short warm-up, bfloat16 where native.
_DEFAULTS = {
    "batch_size": 4096,
    "learning_rate": 4e-4,
    "max_epochs": 1,
    "warmup_steps": 100,
    "schedule_per_step": True,
    "precision": "auto",
}


class SparseDictionary(EncoderEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse autoencoder (sparse dictionary) of activations; see :class:`SparseDictionaryModule` for the model.

    Learns atoms ``d_j`` (``components_``, unit norm) and an encoder
    ``h = f((s x − b_dec) W_encᵀ + b_enc)`` with ``x ≈ (h W_dec + b_dec) / s``,
    minimizing the squared reconstruction error plus the architecture's
    sparsity terms (and AuxK for dead latents).

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    module_ : SparseDictionaryModule
        The trained module, acting on raw inputs (input scale folded in).
    components_ : ndarray of shape (n_components_, n_features_in_)
        The atoms (decoder rows).
    n_components_ : int
        Number of latents m.
    input_scale_ : float
        The input scale s used while training (1.0 with ``normalize_inputs=False``).
    history_ : list of dict
    n_iter_ : int
    n_features_in_ : int

    References
    ----------
    Gao et al., "Scaling and evaluating sparse autoencoders" (2024); Bricken et
    al., "Towards Monosemanticity" (2023); Bussmann et al., "BatchTopK Sparse
    Autoencoders" (2024); Rajamanoharan et al., "Jumping Ahead" (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.autoencoders import SparseDictionary
    >>> X = np.random.default_rng(0).standard_normal((512, 16)).astype(np.float32)
    >>> sae = SparseDictionary(64, k=4, batch_size=128, max_epochs=2, random_state=0).fit(X)
    >>> sae.transform(X).shape, int((sae.transform(X[:1]) > 0).sum())
    ((512, 64), 4)
    """

    _parameter_constraints: dict = parameter_constraints(*SAE_PARAMETERS)
    __init__ = make_init(*SAE_PARAMETERS, positional=("n_components",), defaults=_DEFAULTS)

    # ------------------------------------------------------------ building blocks
    def _n_latents(self, n_features: int) -> int:
        return 8 * n_features if self.n_components is None else int(self.n_components)

    def build_module(self, n_features: int, generator: torch.Generator | None = None, scale: float = 1.0,
                     b_dec: torch.Tensor | None = None) -> SparseDictionaryModule:
        """The untrained module these parameters describe, on ``device``."""
        options = option_values(self, SAE_OPTIONS)
        if options["matryoshka_prefixes"] is not None:
            options["matryoshka_prefixes"] = tuple(int(p) for p in options["matryoshka_prefixes"])
        return SparseDictionaryModule(n_features, self._n_latents(n_features), input_scale=scale, b_dec=b_dec,
                                      generator=generator, device=resolve_device(self.device), **options)

    def make_trainer(self, random_state) -> Trainer:
        return Trainer(**option_values(self, TRAINING_OPTIONS, CHECKPOINT_OPTIONS), device=self.device,
                       random_state=random_state, verbose=bool(self.verbose))

    def rebuild_module(self, name: str) -> SparseDictionaryModule:
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        return self.build_module(self.n_features_in_, generator=torch.Generator().manual_seed(0)).eval()

    def input_corruption(self):
        return None

    # ------------------------------------------------------------ data
    def _as_data(self, X, reset: bool):
        """``(training data, first init_rows rows as a float32 CPU tensor)`` for an array or a BatchSource."""
        if isinstance(X, BatchSource):
            parts, n = [], 0
            for (xb, *_rest) in X.chunks(min(self.init_rows, CHUNK_ROWS), self.init_rows):
                parts.append(xb.detach().float().cpu())
                n += xb.shape[0]
            if not parts:
                raise ValueError("the BatchSource has no rows; training needs at least one.")
            sample = torch.cat(parts)
            d = sample.shape[1]
            if reset:
                self.n_features_in_ = d
            elif d != self.n_features_in_:
                raise ValueError(
                    f"the data has {d} features per row but this {type(self).__name__} was fitted on "
                    f"{self.n_features_in_}; train on activations of the same layer."
                )
            return X, sample
        X = validate_data(self, X, dtype=np.float32, reset=reset)
        T = as_device_tensor(X, "cpu")  # a read-only float32 memory map is shared, not copied
        return T, T[: self.init_rows]

    def _initial_state(self, sample: torch.Tensor) -> tuple[float, torch.Tensor | None]:
        scale = input_scale(sample) if self.normalize_inputs else 1.0
        if self.b_dec_init == "zeros":
            return scale, None
        scaled = sample.double() * scale
        centre = geometric_median(scaled) if self.b_dec_init == "geometric_median" else scaled.mean(dim=0)
        return scale, centre.float()

    def _train(self, module: SparseDictionaryModule, data, seed: int) -> None:
        trainer = self.make_trainer(None if self.random_state is None else seed)
        history = trainer.fit(module, data if isinstance(data, BatchSource) else (data,))
        self.input_scale_ = float(module.input_scale)
        module.rescale_inputs(1.0)  # fold s into the weights: the fitted module acts on raw inputs
        module.workspace.clear()
        self.module_ = module.eval()
        self.history_ = [*getattr(self, "history_", []), *history]
        self.n_iter_ = len(self.history_)

    # ------------------------------------------------------------ scikit-learn API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train on ``X``: an array (n_samples, n_features) or a :class:`~aekit.training.BatchSource`."""
        for name in ("module_", "history_"):
            self.__dict__.pop(name, None)
        data, sample = self._as_data(X, reset=True)
        seed = seed_from(self.random_state)
        init = torch.Generator().manual_seed(seed_from(np.random.default_rng(seed)))
        scale, b_dec = self._initial_state(sample)
        module = self.build_module(self.n_features_in_, generator=init, scale=scale, b_dec=b_dec)
        self.n_components_ = module.n_latents
        self._train(module, data, seed)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Continue training the fitted dictionary on ``X`` (``max_epochs`` passes, a fresh optimizer and
        learning-rate warm-up); the first call fits. Dead-latent counts and the sparsity warm-up go on."""
        if not hasattr(self, "module_"):
            return self.fit(X)
        data, _sample = self._as_data(X, reset=False)
        module = self.module_
        module.rescale_inputs(self.input_scale_)  # back to the training units
        self._train(module.train(), data, seed_from(self.random_state))
        return self

    def _validated(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return as_tensor(X, device=self._device())

    def _device(self) -> torch.device:
        return self.module_.W_enc.device

    @torch.no_grad()
    def sparse_codes(self, X) -> list[SparseCodes]:
        """The feature codes of ``X`` as :class:`SparseCodes`, one per chunk of rows."""
        T = self._validated(X)
        self.module_.eval()
        return [self.module_.sparse_features(T[s : s + CHUNK_ROWS]) for s in range(0, T.shape[0], CHUNK_ROWS)]

    def transform(self, X):
        """Codes (n_samples, n_components_): a dense array, or a CSR matrix with ``sparse_output``."""
        parts = self.sparse_codes(X)
        m = self.n_components_
        mats = [
            sp.csr_matrix((to_numpy(c.values.float()), to_numpy(c.indices), to_numpy(c.crow)), shape=(c.n_rows, m))
            for c in parts
        ]
        out = sp.vstack(mats, format="csr") if mats else sp.csr_matrix((0, m), dtype=np.float32)
        out.sort_indices()
        return out if self.sparse_output else out.toarray()

    @torch.no_grad()
    def inverse_transform(self, X):
        """Reconstructions (n_samples, n_features_in_) of codes ``X`` (dense or scipy sparse, n_components_ columns)."""
        check_is_fitted(self)
        m = self.n_components_
        if X.shape[1] != m:
            raise ValueError(f"inverse_transform takes codes with n_components_={m} columns, got {X.shape[1]}.")
        self.module_.eval()
        device, out = self._device(), []
        H = sp.csr_matrix(X, dtype=np.float32)
        for s in range(0, H.shape[0], CHUNK_ROWS):
            part = H[s : s + CHUNK_ROWS]
            codes = SparseCodes(torch.as_tensor(part.data, device=device), torch.as_tensor(part.indices, dtype=torch.int64, device=device),
                                torch.as_tensor(part.indptr, dtype=torch.int64, device=device), m)
            out.append(to_numpy(self.module_.decode(codes)))
        return np.concatenate(out) if out else np.zeros((0, self.n_features_in_), dtype=np.float32)

    def score(self, X, y=None) -> float:
        """Explained variance ``1 − FVU`` on ``X`` (higher is better), with
        ``FVU = Σ ‖x − x̂‖² / Σ ‖x − mean(x)‖²`` over the rows of ``X`` and ``x̂`` the
        reconstruction from the feature codes."""
        X = validate_data(self, X, dtype=np.float32, reset=False)
        X_hat = self.inverse_transform(self.transform(X)).astype(np.float64)
        X = X.astype(np.float64)
        total = float(((X - X.mean(axis=0)) ** 2).sum())
        return 1.0 - float(((X - X_hat) ** 2).sum()) / total if total > 0 else float("nan")

    @property
    def components_(self) -> np.ndarray:
        """The atoms (n_components_, n_features_in_): unit-norm decoder rows, in raw units."""
        check_is_fitted(self)
        return to_numpy(self.module_.W_dec.detach().float())

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags


SparseDictionary.__doc__ = SparseDictionary.__doc__.replace(
    "{parameters}", parameters_doc(*SAE_PARAMETERS, defaults=_DEFAULTS)
)

"""The stacked autoencoder classifier: greedy pretraining, a softmax layer, supervised fine-tuning."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from aekit._params import Option, make_init, parameter_constraints, parameters_doc
from aekit._torch import as_tensor, resolve_device
from aekit.autoencoders._stack import STACK_OPTIONS, Stack
from aekit.autoencoders._stacked_module import SoftmaxModule, StackedClassifierModule, accuracy
from aekit.autoencoders._autoencoder import EncoderEstimator
from aekit.training import RUN_OPTIONS, TRAINING_OPTIONS

__all__ = ["StackedAutoencoderClassifier"]

HEAD_OPTIONS: dict[str, Option] = {
    "head_max_epochs": Option(
        30, [Interval(Integral, 0, None, closed="left")], "int",
        "Epochs of step 2, the softmax on the frozen codes (same batch size, schedule and early stopping\n"
        "as step 3).", 5,
    ),
    "head_optimizer": Option(
        None, [StrOptions({"adam", "sgd"}), None], "{'adam', 'sgd'} or None", "Optimizer of step 2; None: ``optimizer``.",
        "sgd",
    ),
    "head_learning_rate": Option(
        None, [Interval(Real, 0, None, closed="neither"), None], "float or None",
        "Learning rate of step 2; None: ``learning_rate``.", 0.1,
    ),
}
_PARAMETERS = (STACK_OPTIONS, HEAD_OPTIONS, TRAINING_OPTIONS, RUN_OPTIONS)
_DEFAULTS = {"fine_tune": True, "max_epochs": 30}


class StackedAutoencoderClassifier(EncoderEstimator, ClassNamePrefixFeaturesOutMixin, ClassifierMixin,
                                   TransformerMixin, Stack):
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

    The step-2 trainer takes ``head_max_epochs``, ``head_optimizer`` and
    ``head_learning_rate`` and otherwise the same settings as step 3; with
    ``early_stopping`` the validation rows are ``X_val, y_val`` when given to
    ``fit``, else a random ``validation_fraction`` of the training data held
    out from every step (pretraining included), and ``monitor="error"``
    selects on the validation error rate (the papers' rule). ``warm_start``
    keeps the pretrained stack and softmax and only runs (more) fine-tuning:
    ``fit`` with ``fine_tune=False``, score, then
    ``set_params(fine_tune=True, warm_start=True).fit`` measures the same model
    before and after fine-tuning.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; any hashable labels (strings included).
    module_ : StackedClassifierModule
        The network; ``module_.logits(x)`` gives class scores.
    filters_, filter_biases_ : ndarray of shape (n_units, n_features), (n_units,)
        The first layer's (fine-tuned) encoder weights and biases (as in :class:`Autoencoder`).
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

    _parameter_constraints: dict = parameter_constraints(*_PARAMETERS)
    __init__ = make_init(*_PARAMETERS, positional=("layers",), defaults=_DEFAULTS)

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
            trainer = self.make_trainer(
                seeds["head"], max_epochs=self.head_max_epochs, optimizer=self.head_optimizer or self.optimizer,
                learning_rate=self.learning_rate if self.head_learning_rate is None else self.head_learning_rate,
            )
            softmax = trainer.fit(head, (Z, data[1]), None if val is None else (Z_val, val[1]))
            self.module_ = StackedClassifierModule(modules, head.linear, weight_decay=self.weight_decay)
            self.history_ = {"pretraining": pretraining, "softmax": softmax, "fine_tuning": []}
            self.stage_accuracy_ = {"softmax": self._stage_accuracy(data, val), "fine_tuned": None}
        self.module_.weight_decay = float(self.weight_decay)
        if self.fine_tune:
            trainer = self.make_trainer(seeds["fine_tune"])
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

    def rebuild_module(self, name: str) -> StackedClassifierModule:
        """Rebuild the fitted network's structure (for :func:`aekit.io.load`); weights come from the file."""
        if name != "module_":
            raise ValueError(f"{type(self).__name__} has no torch module {name!r}.")
        layers = self._build_layers(self.n_features_in_)
        head = torch.nn.Linear(layers[-1].n_components, len(self.classes_), device=resolve_device(self.device))
        return StackedClassifierModule(layers, head, weight_decay=self.weight_decay).eval()

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


StackedAutoencoderClassifier.__doc__ = StackedAutoencoderClassifier.__doc__.replace(
    "{parameters}", parameters_doc(*_PARAMETERS, defaults=_DEFAULTS)
)

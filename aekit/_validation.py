"""Checks at the boundary: data and parameters get clear errors before any work.

Estimators call :func:`sklearn.utils.validation.validate_data` (which already
refuses NaN/inf, 1-D input, zero samples and a wrong feature count at
``transform`` with messages that name the fix); this module adds the few checks
it does not make, and the mixins that give aekit's transformers scikit-learn's
plumbing (validation in their dtypes, output feature count, dtype tags, ``fit`` /
``fit_transform`` of an embedding) in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.validation import validate_data

__all__ = ["resolve_option", "check_n_components", "check_finite_tensor", "ArrayTransformerMixin", "EmbeddingMixin"]


def resolve_option(name: str, value, options: Mapping[str, object], *, allow_callable: bool = False):
    """Resolve a string option through ``options``; unknown names list the valid ones.

    With ``allow_callable``, a callable passes through unchanged (the
    string-or-callable convention of the activation and schedule options).
    """
    if allow_callable and callable(value) and not isinstance(value, str):
        return value
    if isinstance(value, str) and value in options:
        return options[value]
    valid = ", ".join(repr(k) for k in options)
    extra = " or a callable" if allow_callable else ""
    raise ValueError(f"Unknown {name} {value!r}: use one of {valid}{extra}.")


def check_n_components(n_components: int, limit: int, *, what: str = "min(n_samples, n_features)") -> int:
    """An integer component count in ``[1, limit]``, else a clear error."""
    if not (1 <= n_components <= limit):
        raise ValueError(
            f"n_components={n_components} must be between 1 and {what}={limit}; "
            f"lower n_components or pass more data."
        )
    return int(n_components)


def check_finite_tensor(t, name: str = "X") -> None:
    """Raise if a tensor (or array) holds NaN or inf."""
    import torch

    finite = torch.isfinite(t).all() if isinstance(t, torch.Tensor) else np.isfinite(t).all()
    if not bool(finite):
        raise ValueError(f"{name} contains NaN or infinity; clean or impute the data first.")




class ArrayTransformerMixin:
    """The scikit-learn plumbing of aekit's transformers of float arrays, written once.

    List it first among the bases (before scikit-learn's mixins and
    ``BaseEstimator``) so that its tags are applied last. It gives:

    - ``_validate(X, reset=..., **checks)``: :func:`~sklearn.utils.validation.validate_data`
      in the estimator's float dtypes ``_dtypes`` (other input becomes the first of them),
      with any further options of ``validate_data`` (``ensure_min_samples=2``, ...);
    - ``_n_features_out`` (``n_components_``), which ``get_feature_names_out`` reads;
    - the ``preserves_dtype`` tag: ``_preserves_dtype``, the input dtypes whose outputs keep them.
    """

    _dtypes: tuple = (np.float64, np.float32)
    _preserves_dtype: tuple[str, ...] = ("float64", "float32")

    def _validate(self, X, *, reset: bool, **checks):
        return validate_data(self, X, dtype=list(self._dtypes), reset=reset, **checks)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = list(self._preserves_dtype)
        return tags


class EmbeddingMixin(ArrayTransformerMixin):
    """:class:`ArrayTransformerMixin` for estimators whose ``_fit(X)`` computes the training embedding.

    ``_fit(X)`` validates ``X``, fits and sets ``embedding_`` (n_samples, n_components);
    the mixin makes ``fit`` and ``fit_transform`` of it (``fit_transform`` returns
    ``embedding_`` without a second pass).
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the embedding of ``X`` (n_samples, n_features); ``y`` is ignored. Returns ``self``."""
        return self._fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit and return ``embedding_`` (n_samples, n_components)."""
        return self._fit(X).embedding_

    @property
    def _n_features_out(self):
        return self.embedding_.shape[1]

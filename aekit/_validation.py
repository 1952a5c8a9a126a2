"""Checks at the boundary: data and parameters get clear errors before any work.

Estimators call :func:`sklearn.utils.validation.validate_data` (which already
refuses NaN/inf, 1-D input, zero samples and a wrong feature count at
``transform`` with messages that name the fix); this module adds the few checks
it does not make.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["resolve_option", "check_n_components", "check_finite_tensor"]


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



"""Data-dependent initialization of a sparse dictionary: the input scale and the decoder bias.

    input scale     s = sqrt(d / mean_i ‖x_i‖²)                  so that E‖s x‖² = d
    geometric median  b = argmin_b Σ_i ‖x_i − b‖                  (Weiszfeld iterations)

The geometric median is a robust centre: language-model activations have a
few rows of huge norm (attention sinks, the first position), which drag the
mean but not the median.

References
----------
Weiszfeld, "Sur le point pour lequel la somme des distances de n points
donnés est minimum", Tôhoku Math. J. 43 (1937); Vardi & Zhang, "The
multivariate L1-median and associated data depth", PNAS 97 (2000) (the
iteration's fixed-point form). Conerly et al., "Circuits Updates — April
2024" (the normalization E‖x‖² = d).
"""

from __future__ import annotations

import torch

__all__ = ["input_scale", "geometric_median"]


def input_scale(X: torch.Tensor) -> float:
    """``s = sqrt(d / mean ‖x‖²)`` for rows ``X`` (n, d), computed in float64; 1.0 for all-zero rows."""
    X = X.double()
    mean_sq = float((X * X).sum(dim=1).mean())
    if mean_sq == 0.0:
        return 1.0
    return float((X.shape[1] / mean_sq) ** 0.5)


def geometric_median(X: torch.Tensor, *, max_iter: int = 100, tol: float = 1e-7) -> torch.Tensor:
    """The point minimizing the sum of Euclidean distances to the rows of ``X`` (n, d), float64 iterations.

    Weiszfeld: ``b ← Σ w_i x_i / Σ w_i`` with ``w_i = 1 / max(‖x_i − b‖, δ)``,
    from the mean, until ``‖Δb‖ <= tol · (1 + ‖b‖)`` or ``max_iter`` steps.
    ``δ`` (a tiny multiple of the data's scale) keeps a row that coincides
    with ``b`` from dividing by zero. Returns (d,) in ``X``'s dtype.
    """
    Xd = X.double()
    b = Xd.mean(dim=0)
    scale = float(Xd.abs().max()) or 1.0
    floor = 1e-12 * scale
    for _ in range(max_iter):
        dist = torch.linalg.vector_norm(Xd - b, dim=1).clamp(min=floor)
        w = 1.0 / dist
        new = (w[:, None] * Xd).sum(dim=0) / w.sum()
        moved = float(torch.linalg.vector_norm(new - b))
        b = new
        if moved <= tol * (1.0 + float(torch.linalg.vector_norm(b))):
            break
    return b.to(X.dtype)

"""Activation maximization: the input of bounded norm that a unit responds to most.

For a unit ``i`` of any layer of any differentiable model,

    x* = argmax_x h_i(W, x)   subject to   ||x|| = rho   (or ||x|| <= rho),

found by projected gradient ascent from several random starts. Every unit and
every start is one row of a single batch, so a whole layer is optimized in one
run: each step is one forward pass of a ``(n_units * n_starts, d)`` batch and
one backward pass of the sum over rows of *that row's own unit*. Because rows
do not interact in an ordinary feed-forward model (evaluation mode: no batch
statistics), the gradient of that sum with respect to row ``r`` is exactly the
gradient of row ``r``'s unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aekit._torch import make_generator, resolve_device
from aekit._validation import resolve_option

__all__ = ["ActivationMaximization", "activation_maximization", "project_onto_constraint", "mean_pairwise_cosine"]

_TINY = 1e-12
_MIN_STEP = 1e-6  # an adaptive step below this fraction of rho means no ascent direction is left
_GROW, _SHRINK = 1.2, 0.5
_CONSTRAINTS = {"sphere": "sphere", "ball": "ball"}


@dataclass(frozen=True)
class ActivationMaximization:
    """What :func:`activation_maximization` found, as arrays.

    Attributes
    ----------
    units : ndarray of shape (n_units,)
        The output units that were maximized (flat indices into the output).
    inputs : ndarray of shape (n_units, n_starts, *input_shape)
        The maximizing input reached from each random start.
    activations : ndarray of shape (n_units, n_starts)
        The unit's activation at each of those inputs.
    mean_cosine : ndarray of shape (n_units,)
        Mean pairwise cosine similarity between the starts' solutions of each
        unit (1 = every start found the same pattern; NaN with one start).
    n_iter : ndarray of shape (n_units, n_starts)
        Gradient steps taken (function evaluations after the first).
    converged : ndarray of shape (n_units, n_starts)
        Whether the stopping rule was met before ``max_steps``.
    """

    units: np.ndarray
    inputs: np.ndarray
    activations: np.ndarray
    mean_cosine: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray

    @property
    def best_inputs(self) -> np.ndarray:
        """The best start's input per unit, shape (n_units, *input_shape)."""
        best = np.argmax(self.activations, axis=1)
        return self.inputs[np.arange(len(self.units)), best]

    @property
    def best_activations(self) -> np.ndarray:
        """The highest activation reached per unit, shape (n_units,)."""
        return self.activations.max(axis=1)


# ------------------------------------------------------------------ pure functions
def mean_pairwise_cosine(X) -> np.ndarray:
    """Mean cosine similarity over distinct pairs of starts, per unit.

    Parameters
    ----------
    X : array or tensor of shape (n_units, n_starts, d)

    Returns
    -------
    ndarray of shape (n_units,)
        ``mean_{s != t} <x_s, x_t> / (||x_s|| ||x_t||)``; a zero vector has
        cosine 0 with everything; NaN when ``n_starts == 1``.
    """
    X = torch.as_tensor(X).detach().to(torch.float64).cpu()
    if X.ndim < 3:
        raise ValueError(f"X must have shape (n_units, n_starts, d), got {tuple(X.shape)}.")
    X = X.reshape(X.shape[0], X.shape[1], -1)
    n_units, n_starts = X.shape[:2]
    if n_starts < 2:
        return np.full(n_units, np.nan)
    norms = X.norm(dim=2, keepdim=True)
    Xn = X / norms.clamp_min(_TINY)  # (U, S, d)
    gram = Xn @ Xn.transpose(1, 2)  # (U, S, S)
    off_diagonal = gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)
    return (off_diagonal / (n_starts * (n_starts - 1))).numpy()


def project_onto_constraint(
    x: torch.Tensor, *, norm: float, constraint: str = "sphere", bounds=None, n_bisections: int = 48
) -> torch.Tensor:
    """Euclidean projection of each row of ``x`` onto the feasible set.

    - ``"sphere"``: ``x * rho / ||x||`` (a zero row stays zero).
    - ``"ball"``: ``x * min(1, rho / ||x||)``.
    - ``"ball"`` with ``bounds=(low, high)``: the projection onto the
      intersection of the ball and the box. The problem separates over
      coordinates once the ball constraint is priced by its Lagrange
      multiplier ``lambda >= 0``: ``x(lambda) = clip(y / (1 + lambda), low, high)``,
      whose norm does not increase with ``lambda``. Rows whose clip already
      lies in the ball are done (``lambda = 0``); the others bisect on
      ``s = 1 / (1 + lambda)`` in ``[0, 1]`` for the largest ``s`` with
      ``||x|| <= rho`` (48 halvings: exact to float64 resolution).

    Parameters
    ----------
    x : tensor of shape (n, d)
    norm : float
        The radius ``rho``.
    constraint : {"sphere", "ball"}
    bounds : (low, high) or None
        Box bounds for every coordinate (scalars or tensors of shape (d,));
        only with ``constraint="ball"`` (the sphere cut by a box is not
        convex and has no unique projection). The box's point nearest the
        origin must lie in the ball.

    Returns
    -------
    tensor of shape (n, d)
    """
    constraint = resolve_option("constraint", constraint, _CONSTRAINTS)
    if bounds is None:
        length = x.norm(dim=1, keepdim=True)
        if constraint == "sphere":
            return torch.where(length > 0, x * (norm / length.clamp_min(_TINY)), x)
        return x * (norm / length.clamp_min(_TINY)).clamp(max=1.0)
    if constraint == "sphere":
        raise ValueError("bounds need constraint='ball': the sphere cut by a box is not convex.")
    low, high = bounds
    z = torch.clamp(x, low, high)
    outside = z.norm(dim=1) > norm
    if not bool(outside.any()):
        return z
    y = x[outside]
    s_lo = torch.zeros(y.shape[0], 1, dtype=x.dtype, device=x.device)  # feasible end of the bracket
    s_hi = torch.ones_like(s_lo)  # infeasible end
    for _ in range(n_bisections):
        s_mid = 0.5 * (s_lo + s_hi)
        feasible = torch.clamp(s_mid * y, low, high).norm(dim=1, keepdim=True) <= norm
        s_lo = torch.where(feasible, s_mid, s_lo)
        s_hi = torch.where(feasible, s_hi, s_mid)
    z[outside] = torch.clamp(s_lo * y, low, high)
    return z


# ------------------------------------------------------------------ the optimizer
def activation_maximization(
    model,
    input_shape,
    *,
    units=None,
    n_starts: int = 5,
    norm: float = 1.0,
    constraint: str = "sphere",
    bounds=None,
    learning_rate: float = 0.1,
    max_steps: int = 500,
    tol: float = 1e-5,
    adaptive: bool = True,
    init=None,
    random_state=None,
    device=None,
    dtype=None,
) -> ActivationMaximization:
    """Maximize units' activations over inputs of bounded norm, by projected gradient ascent.

    .. math::

        x^* = \\arg\\max_{\\|x\\| = \\rho} h_i(W, x), \\qquad
        x \\leftarrow \\Pi\\Big(x + \\eta\\,\\rho\\,\\frac{\\nabla_x h_i}{\\|\\nabla_x h_i\\|}\\Big)

    where :math:`\\Pi` projects onto the sphere ``||x|| = rho`` (the lecture's
    constraint; default) or the ball ``||x|| <= rho``, optionally intersected
    with a box ``bounds`` (e.g. ``(0, 1)`` for pixel intensities). The step is
    the normalized gradient scaled by ``eta * rho``, so the learning rate is a
    fraction of the radius whatever the scale of the unit's gradient
    (saturated sigmoids have tiny gradients).

    With ``adaptive=True`` each row keeps its own step ``eta`` (starting at
    ``learning_rate``): a step that raises the activation is accepted and
    ``eta`` grows by 1.2; one that lowers it is rejected and ``eta`` halves.
    The ascent is then monotone. A row stops when an accepted step improves
    its activation by less than ``tol`` relative to the current value
    (``(h_new - h) / |h| < tol``) or its step falls below ``1e-6``. With
    ``adaptive=False`` every step of size ``learning_rate`` is taken and a row
    stops when ``|h_new - h| / |h| < tol``. Rows that stop leave the batch.

    The objective is not concave in general (hidden layers beyond the first):
    several random starts show whether the optimum found is stable, measured
    as the mean pairwise cosine similarity of the solutions per unit. For a
    first-layer unit (any increasing activation) the optimum is unique,
    ``rho * w_i / ||w_i||`` (:func:`aekit.inspection.preferred_inputs`).

    Parameters
    ----------
    model : callable or torch.nn.Module
        Maps a batch ``x`` of shape ``(n, *input_shape)`` to activations of
        shape ``(n, m)`` (or ``(n, ...)``, flattened to ``(n, m)``): an
        encoder (``module.encode``), an encoder truncated at some layer, a
        classifier. It must treat rows independently. If it is (or is a
        method of) an ``nn.Module`` in training mode, it is switched to
        evaluation mode for the run and back afterwards. Only gradients with
        respect to ``x`` are computed; the parameters' ``.grad`` are untouched.
    input_shape : int or tuple of int
        Shape of one input, e.g. ``784`` or ``(1, 28, 28)``.
    units : int, sequence of int or None
        Output units to maximize (flat indices in ``[0, m)``); all by default.
    n_starts : int
        Random starts per unit (>= 1; the cosine similarity needs >= 2).
    norm : float
        The radius ``rho``; the typical norm of a data sample puts the
        results on the data's scale.
    constraint : {"sphere", "ball"}
        ``||x|| = rho`` or ``||x|| <= rho``.
    bounds : (low, high) or None
        Box bounds on every input coordinate; requires ``constraint="ball"``.
    learning_rate : float
        Step size as a fraction of ``rho`` (the initial step when adaptive).
    max_steps : int
        Most gradient steps per row.
    tol : float
        Relative-improvement stopping threshold (>= 0; 0 runs ``max_steps``).
    adaptive : bool
        Per-row step-size adaptation with rejection of bad steps (see above).
    init : array or tensor, optional
        Starting inputs of shape ``(n_starts, *input_shape)`` (shared by every
        unit) or ``(n_units, n_starts, *input_shape)``; projected first.
        Default: random directions (standard normal, normalized) at radius
        ``rho``, or uniform in the box when ``bounds`` are given.
    random_state : int, numpy Generator, torch.Generator or None
        Seeds the random starts (a torch.Generator must live on ``device``).
    device : str, torch.device or None
        Where the inputs live; default the device of the model's parameters
        (the CPU for a parameter-free callable).
    dtype : torch.dtype or None
        Floating type of the inputs; default the model's parameters' type
        (float32 for a parameter-free callable).

    Returns
    -------
    ActivationMaximization
        ``inputs`` (n_units, n_starts, *input_shape), ``activations``
        (n_units, n_starts), ``mean_cosine`` (n_units,), ``n_iter``,
        ``converged`` and ``units``.

    Notes
    -----
    Saturating units: a sigmoid unit whose output is already within float
    resolution of 1 shows no relative improvement, so the stopping rule ends
    its ascent long before the argmax. As the output non-linearity of the
    unit is increasing, its pre-activation ``z_i`` has the same maximizer
    and never saturates: pass a callable that returns the layer's
    pre-activations (e.g. ``F.linear(h_prev, W_L, b_L)``) to study trained
    sigmoid layers at the scale of the data. Likewise a unit that is exactly
    zero at a start (a ReLU below threshold, a unit not selected by a top-k
    code) has no gradient there and stops at once (``n_iter == 1``): its
    pre-activation is the quantity to maximize.

    References
    ----------
    Erhan, Bengio, Courville & Vincent, "Visualizing Higher-Layer Features of
    a Deep Network", Technical Report 1341, Universite de Montreal, 2009.
    Erhan, Courville & Bengio, "Understanding Representations Learned in Deep
    Architectures", Technical Report 1355, Universite de Montreal, 2010.
    """
    if not callable(model):
        raise TypeError(f"model must be a callable or torch.nn.Module, got {type(model).__name__}.")
    input_shape = _check_input_shape(input_shape)
    n_starts = _check_int("n_starts", n_starts, 1)
    max_steps = _check_int("max_steps", max_steps, 0)
    for name, value in (("norm", norm), ("learning_rate", learning_rate)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}.")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number, got {tol!r}.")
    constraint = resolve_option("constraint", constraint, _CONSTRAINTS)

    owner = _owning_module(model)
    params = [] if owner is None else [p for p in owner.parameters() if p.is_floating_point()]
    if device is None:
        device = params[0].device if params else torch.device("cpu")
    else:
        device = resolve_device(device)
    if dtype is None:
        dtype = params[0].dtype if params else torch.float32
    elif not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch.dtype such as torch.float32, got {dtype!r}.")
    n_features = int(np.prod(input_shape))
    bounds = _check_bounds(bounds, constraint, norm, n_features, device, dtype)

    was_training = owner is not None and owner.training
    if was_training:
        owner.eval()
    try:
        n_outputs = _count_outputs(model, input_shape, device, dtype)
        units_t = _check_units(units, n_outputs, device)
        n_units = units_t.numel()
        row_unit = units_t.repeat_interleave(n_starts)  # (R,) unit of each row
        x0 = _initial_inputs(init, n_units, n_starts, input_shape, norm, bounds, random_state, device, dtype)

        def project(v):
            return project_onto_constraint(v, norm=norm, constraint=constraint, bounds=bounds)

        def value_and_grad(v, unit):
            return _value_and_grad(model, v, unit, input_shape)

        x, h, g, n_iter, converged = _ascend(
            project(x0), row_unit, value_and_grad, project,
            rho=norm, learning_rate=learning_rate, max_steps=max_steps, tol=tol, adaptive=adaptive,
        )
    finally:
        if was_training:
            owner.train()

    inputs = x.reshape((n_units, n_starts) + input_shape)
    return ActivationMaximization(
        units=units_t.cpu().numpy(),
        inputs=inputs.detach().cpu().numpy(),
        activations=h.reshape(n_units, n_starts).cpu().numpy(),
        mean_cosine=mean_pairwise_cosine(inputs.reshape(n_units, n_starts, -1)),
        n_iter=n_iter.reshape(n_units, n_starts).cpu().numpy(),
        converged=converged.reshape(n_units, n_starts).cpu().numpy(),
    )


def _ascend(x, row_unit, value_and_grad, project, *, rho, learning_rate, max_steps, tol, adaptive):
    """Projected (normalized-)gradient ascent on the rows of ``x`` (R, d), batched."""
    n_rows = x.shape[0]
    dev = x.device
    h, g = value_and_grad(x, row_unit)  # (R,), (R, d)
    eta = torch.full((n_rows,), float(learning_rate), device=dev, dtype=x.dtype)
    active = torch.ones(n_rows, dtype=torch.bool, device=dev)
    converged = torch.zeros(n_rows, dtype=torch.bool, device=dev)
    n_iter = torch.zeros(n_rows, dtype=torch.int64, device=dev)
    max_eta = max(1.0, float(learning_rate))
    for _ in range(max_steps):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        g_a, eta_a, h_a = g[idx], eta[idx], h[idx]
        direction = g_a / g_a.norm(dim=1, keepdim=True).clamp_min(_TINY)
        x_c = project(x[idx] + (eta_a * rho)[:, None] * direction)
        h_c, g_c = value_and_grad(x_c, row_unit[idx])
        n_iter[idx] += 1
        gain = h_c - h_a
        relative = gain / h_a.abs().clamp_min(_TINY)
        if adaptive:
            accept = gain >= 0
            done = torch.where(accept, relative < tol, eta_a * _SHRINK < _MIN_STEP)
            eta[idx] = torch.where(accept, (eta_a * _GROW).clamp(max=max_eta), eta_a * _SHRINK)
        else:
            accept = torch.ones_like(gain, dtype=torch.bool)
            done = relative.abs() < tol
        keep = idx[accept]
        x[keep], h[keep], g[keep] = x_c[accept], h_c[accept], g_c[accept]
        converged[idx[done]] = True
        active[idx[done]] = False
    return x, h, g, n_iter, converged


def _value_and_grad(model, x, unit, input_shape):
    """Each row's own unit activation (R,) and its gradient w.r.t. that row (R, d)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = model(x.reshape((x.shape[0],) + input_shape))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model must return a tensor of activations, got {type(out).__name__}.")
        out = out.reshape(out.shape[0], -1)
        h = out.gather(1, unit[:, None]).squeeze(1)  # (R,)
        if not h.requires_grad:
            raise ValueError(
                "the model's output does not depend on its input through autograd; "
                "pass a differentiable torch callable (no numpy, no torch.no_grad inside)."
            )
        (grad,) = torch.autograd.grad(h.sum(), x)
    if not bool(torch.isfinite(h).all()) or not bool(torch.isfinite(grad).all()):
        raise ValueError("the activation or its gradient became NaN/inf; lower norm or learning_rate.")
    return h.detach(), grad


# ------------------------------------------------------------------ argument checks
def _owning_module(model):
    if isinstance(model, nn.Module):
        return model
    owner = getattr(model, "__self__", None)  # a bound method such as module.encode
    return owner if isinstance(owner, nn.Module) else None


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_input_shape(input_shape):
    shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be a positive int or a tuple of positive ints, got {input_shape!r}.")
    return tuple(int(s) for s in shape)


def _check_bounds(bounds, constraint, norm, n_features, device, dtype):
    if bounds is None:
        return None
    if constraint != "ball":
        raise ValueError(
            "bounds need constraint='ball': the sphere cut by a box is not convex; "
            "use constraint='ball' (||x|| <= norm) with bounds."
        )
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high), got {bounds!r}.") from None
    low = torch.as_tensor(low, dtype=dtype, device=device)
    high = torch.as_tensor(high, dtype=dtype, device=device)
    if low.ndim > 1 or high.ndim > 1 or (low.ndim == 1 and low.numel() != n_features) or (
        high.ndim == 1 and high.numel() != n_features
    ):
        raise ValueError(f"bounds must be scalars or vectors of length {n_features}.")
    if not bool((low < high).all()):
        raise ValueError(f"bounds must satisfy low < high everywhere, got {bounds!r}.")
    nearest = torch.clamp(torch.zeros(n_features, device=device, dtype=dtype), low, high)
    if float(nearest.norm()) > norm:
        raise ValueError(
            f"no input satisfies both bounds and ||x|| <= {norm}: the box's point nearest the origin "
            f"has norm {float(nearest.norm()):.4g}; raise norm or widen the bounds."
        )
    return low, high


@torch.no_grad()
def _count_outputs(model, input_shape, device, dtype):
    out = model(torch.zeros((1,) + input_shape, device=device, dtype=dtype))
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != 1:
        raise ValueError(
            "model must map a batch of shape (n, *input_shape) to a tensor of shape (n, m); "
            f"for one input it returned {getattr(out, 'shape', type(out).__name__)}."
        )
    return int(out[0].numel())


def _check_units(units, n_outputs, device):
    if units is None:
        return torch.arange(n_outputs, device=device)
    arr = np.atleast_1d(np.asarray(units))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"units must be an int or a non-empty 1-D sequence of ints, got {units!r}.")
    bad = arr[(arr < 0) | (arr >= n_outputs)]
    if bad.size:
        raise ValueError(
            f"units {bad.tolist()} out of range: the model has {n_outputs} output units, "
            f"valid indices are 0..{n_outputs - 1}."
        )
    return torch.as_tensor(arr, dtype=torch.int64, device=device)


def _initial_inputs(init, n_units, n_starts, input_shape, norm, bounds, random_state, device, dtype):
    """Starting rows (n_units * n_starts, d), not yet projected."""
    d = int(np.prod(input_shape))
    if init is not None:
        x0 = torch.as_tensor(init).to(device=device, dtype=dtype)
        if tuple(x0.shape) == (n_starts,) + input_shape:
            x0 = x0.reshape(1, n_starts, d).expand(n_units, n_starts, d)
        elif tuple(x0.shape) == (n_units, n_starts) + input_shape:
            x0 = x0.reshape(n_units, n_starts, d)
        else:
            raise ValueError(
                f"init must have shape {(n_starts,) + input_shape} or {(n_units, n_starts) + input_shape}, "
                f"got {tuple(x0.shape)}."
            )
        if not bool(torch.isfinite(x0).all()):
            raise ValueError("init contains NaN or infinity.")
        return x0.reshape(n_units * n_starts, d).clone()
    if isinstance(random_state, torch.Generator):
        gen = random_state
        if gen.device.type != torch.device(device).type:
            raise ValueError(f"the torch.Generator lives on {gen.device} but the inputs on {device}.")
    else:
        gen = make_generator(random_state, device)
    shape = (n_units * n_starts, d)
    if bounds is None:
        return torch.randn(shape, generator=gen, device=device, dtype=dtype)
    low, high = bounds
    return low + (high - low) * torch.rand(shape, generator=gen, device=device, dtype=dtype)

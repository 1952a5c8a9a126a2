"""Kohonen self-organizing map: online and batch training on a rectangular or hexagonal grid.

The map is a grid of units ``j = 0 .. rows*cols - 1`` (numbered row by row) with
positions ``r_j`` in the plane and prototypes (the codebook) ``w_j`` in data
space. The best-matching unit (BMU) of a sample is ``c(x) = argmin_j ||x - w_j||``.

Online rule (Kohonen 1982), one sample ``x(t)`` at a time::

    w_j <- w_j + eta(t) theta(||r_c - r_j||^2, sigma(t)) (x(t) - w_j)

with ``theta`` the neighbourhood function (gaussian, bubble, mexican hat).
Batch map (Kohonen 2013): every epoch, with ``S_c`` the sum and ``N_c`` the count
of the samples whose BMU is ``c``::

    w_j <- sum_c theta_jc S_c / sum_c theta_jc N_c,      theta_jc = theta(||r_c - r_j||^2, sigma(epoch))

i.e. the neighbourhood-weighted mean of the data: one matrix product for the
BMUs and two small ones for the update, per epoch.

The math lives in small pure functions (neighbourhoods, decays, one online
step, the batch map; the grid, the best-matching-unit search and the quality
measures in :mod:`aekit.manifold._som_kernels`); :class:`SOM` owns the codebook
and the loops: one online pass and one batch-map step, which ``fit`` and
``partial_fit`` share.

References
----------
Kohonen, T. (1982). Self-organized formation of topologically correct feature maps.
*Biological Cybernetics*, 43, 59-69.
Kohonen, T. (2013). Essentials of the self-organizing map. *Neural Networks*, 37, 52-65.
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit._torch import as_device_tensor, leading_axes, make_generator, one_cpu_thread, resolve_device, to_numpy
from aekit._validation import resolve_option
from aekit.manifold._som_kernels import (
    best_matching_units,
    grid_adjacency,
    grid_positions,
    match_scores,
    quantization_error,
    row_norms_sq,
    squared_distances,
    topographic_error,
    unit_sums,
)

__all__ = [
    "SOM",
    "gaussian_neighborhood",
    "bubble_neighborhood",
    "mexican_hat_neighborhood",
    "inverse_decay",
    "linear_decay",
    "exponential_decay",
    "constant_decay",
    "online_step",
    "batch_map",
]


# ---------------------------------------------------------------------------- neighbourhoods
# Each maps squared grid distances d2 = ||r_c - r_j||^2 (a tensor) and a width sigma to weights theta.
def gaussian_neighborhood(d2: torch.Tensor, sigma: float) -> torch.Tensor:
    """``theta = exp(-d2 / (2 sigma^2))``."""
    return torch.exp(d2 * (-0.5 / (sigma * sigma)))


def bubble_neighborhood(d2: torch.Tensor, sigma: float) -> torch.Tensor:
    """``theta = 1`` for units within grid distance ``sigma`` of the winner (``d2 <= sigma^2``), else 0."""
    return (d2 <= sigma * sigma * (1 + 1e-9)).to(d2.dtype)


def mexican_hat_neighborhood(d2: torch.Tensor, sigma: float) -> torch.Tensor:
    """``theta = exp(-d2 / (2 sigma^2)) (1 - d2 / sigma^2)``: excitatory centre, inhibitory ring."""
    q = d2 * (1.0 / (sigma * sigma))
    return torch.exp(-0.5 * q) * (1.0 - q)


NEIGHBORHOODS = {
    "gaussian": gaussian_neighborhood,
    "bubble": bubble_neighborhood,
    "mexican_hat": mexican_hat_neighborhood,
}


# ---------------------------------------------------------------------------- decay schedules
# p(u) for progress u = t / T in [0, 1], from p(0) = start towards p(1) = end (floats or arrays).
def inverse_decay(start, end, u):
    """``start / (1 + (start / end - 1) u)``. With ``end = start / 3`` this is MiniSom's ``asymptotic_decay``
    (``start / (1 + t / (T / 2))``); with ``end = 1``, its ``inverse_decay_to_one``."""
    return start / (1.0 + (start / end - 1.0) * u)


def linear_decay(start, end, u):
    """``start + (end - start) u``."""
    return start + (end - start) * u


def exponential_decay(start, end, u):
    """``start (end / start)^u``."""
    return start * (end / start) ** u


def constant_decay(start, end, u):
    """``start`` throughout (``end`` is ignored)."""
    return start + 0.0 * u


DECAYS = {
    "inverse": inverse_decay,
    "linear": linear_decay,
    "exponential": exponential_decay,
    "constant": constant_decay,
}


# ---------------------------------------------------------------------------- training steps
def online_step(W: torch.Tensor, x: torch.Tensor, grid_d2: torch.Tensor, sigma: float, learning_rate: float, neighborhood) -> torch.Tensor:
    """One Kohonen update of the codebook ``W`` (``(n_units, n_features)``) in place; returns the BMU.

    ``x`` is one sample ``(n_features,)``, ``grid_d2`` the ``(n_units, n_units)``
    squared grid distances: ``c = argmin_j ||w_j||^2 - 2 w_j.x`` (one
    matrix-vector product, :func:`match_scores`), then
    ``w_j += eta theta(grid_d2[c, j], sigma) (x - w_j)`` (one fused
    interpolation). No host synchronisation: the BMU stays a tensor.
    """
    c = match_scores(x, W).argmin()
    theta = neighborhood(grid_d2[c], sigma).mul_(learning_rate)  # (U,)
    W.lerp_(x.expand_as(W), theta.unsqueeze(1))
    return c


def batch_map(W: torch.Tensor, S: torch.Tensor, N: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Kohonen's batch map: ``w_j = sum_c theta_jc S_c / sum_c theta_jc N_c``.

    ``theta`` ``(n_units, n_units)`` holds non-negative neighbourhood weights; a
    unit whose weighted count is zero (no data near it) keeps its prototype.
    """
    num = theta @ S  # (U, D)
    den = theta @ N  # (U,)
    keep = den <= torch.finfo(den.dtype).tiny
    new = num / torch.where(keep, torch.ones_like(den), den).unsqueeze(1)
    return torch.where(keep.unsqueeze(1), W, new)


# ---------------------------------------------------------------------------- initialization
def _pca_codebook(X: torch.Tensor, positions: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Units laid out on the plane of the first two principal components, ``mean +- 2 sd`` along each.

    The longer grid axis follows the first component.
    """
    mean = X.mean(0)
    k = min(2, X.shape[1])
    axes, var = leading_axes(X - mean, k, generator)
    P = positions - positions.mean(0)
    half = (P.amax(0) - P.amin(0)) / 2
    order = torch.argsort(half, descending=True, stable=True)
    coords = P[:, order] / half[order]  # (U, 2) in [-1, 1], longest grid axis first
    scale = 2.0 * var.sqrt()
    return mean + (coords[:, :k] * scale) @ axes


def _prepare(x: torch.Tensor, bf16: bool):
    """Search copy of a chunk: ``(x, x_search, ||x_search||^2, center)``; bf16 data are centred first
    (smaller dot products lose less to bf16 rounding) and matched against the codebook less ``center``."""
    if not bf16:
        return x, x, row_norms_sq(x), None
    center = x.mean(0)
    xc = x - center
    return x, xc.to(torch.bfloat16), row_norms_sq(xc), center


# ---------------------------------------------------------------------------- estimator
class SOM(TransformerMixin, BaseEstimator):
    """Kohonen self-organizing map with online or batch training, in torch on CPU or CUDA.

    Units sit on a ``grid_shape`` grid; their prototypes ``codebook_`` are fitted
    so that neighbouring units hold similar prototypes (see the module
    docstring for both update rules). The neighbourhood width ``sigma`` and the
    online learning rate decay from their start to their final values.

    Parameters
    ----------
    grid_shape : tuple of int, default=(10, 10)
        ``(rows, cols)``, each at least 2.
    sigma : float, default=None
        Initial neighbourhood width in grid units; None means ``max(grid_shape) / 2``.
    learning_rate : float, default=0.5
        Initial learning rate ``eta`` of online updates and of ``partial_fit``
        steps; the batch map (``fit`` with "batch" or "minibatch") has none.
    neighborhood : {"gaussian", "bubble", "mexican_hat"}, default="gaussian"
        ``theta(d^2, sigma)``; "mexican_hat" has negative weights and is online only.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
    algorithm : {"minibatch", "batch", "online"}, default="minibatch"
        "minibatch": one pass over a random permutation of the data in
        ``max_iter`` consecutive mini-batches of doubling size (the last holds
        about half of the data, the first at least ``n_units`` samples, so small
        data sets take fewer steps), each replaced by its batch map at the
        step's sigma: every sample is used once, like one epoch of online
        training, at the cost of about one epoch of the batch map (its
        comparison with MiniSom: ``benchmarks/results/som.md``).
        "batch": the batch map over all the data, ``max_iter`` epochs, sigma
        decaying per epoch (the last epoch runs at ``sigma_final``).
        "online": ``max_iter * n_samples`` single-sample updates in random
        order, sigma and eta decaying per update (one epoch equals MiniSom's
        ``train_random(X, n_samples)``).
    max_iter : int, default=10
        Epochs ("batch", "online"), mini-batch steps ("minibatch"), or, for
        ``partial_fit``, the number of calls over which sigma and eta decay
        (they stay at their final values afterwards).
    sigma_final : float, default=None
        End value of sigma; None means ``min(0.5, sigma / 3)`` (a third of the
        start as in MiniSom's default decay, but no wider than half a unit,
        where a unit's grid neighbours still get weight ``exp(-2)``).
    learning_rate_final : float, default=None
        End value of eta; None means ``learning_rate / 3`` (MiniSom's default decay).
    sigma_decay, learning_rate_decay : {"inverse", "linear", "exponential", "constant"}, default="inverse"
        Decay schedules. "inverse" with the default end values is MiniSom's
        ``asymptotic_decay``.
    init : {"pca", "random"} or array-like of shape (n_units, n_features), default="pca"
        "pca": the grid spread over the plane of the two leading principal
        components (mean +- 2 standard deviations); "random": prototypes are
        random samples; an array: the initial codebook itself (units numbered
        row by row), e.g. to start two implementations from the same map.
    batch_size : int, default=None
        Rows moved to the device and searched at once. None keeps all of ``X``
        on the device; an int streams ``X`` (a numpy array or memory map larger
        than device memory) chunk by chunk, epoch by epoch, with the same result.
    precision : {"float32", "bfloat16"}, default="float32"
        Precision of the BMU search product of "batch" and "minibatch" training
        ("bfloat16" is 2-3x faster on CPUs with bf16 units and on GPUs; the data
        are centred first, and the codebook and its update stay float32).
    transform_mode : {"distances", "coordinates"}, default="distances"
        ``transform`` returns the distances to every unit ``(n, n_units)`` or the
        map position of the BMU ``(n, 2)``.
    random_state : int, numpy Generator or None, default=None
    device : str, default="cpu"

    Attributes
    ----------
    codebook_ : ndarray (n_units, n_features), float32
    positions_ : ndarray (n_units, 2)
        Unit positions on the map (see :func:`grid_positions`).
    n_iter_ : int
        Epochs or mini-batch steps run by ``fit`` (``partial_fit`` calls made).
    history_ : list of dict
        Per epoch or step: ``sigma``; ``learning_rate`` (online); ``n_samples``
        and the quantization error of the codebook entering the step over those
        samples (batch map).
    n_features_in_ : int

    References
    ----------
    Kohonen, T. (1982). Self-organized formation of topologically correct feature maps.
    *Biological Cybernetics*, 43, 59-69. Kohonen, T. (2013). Essentials of the
    self-organizing map. *Neural Networks*, 37, 52-65.
    """

    _parameter_constraints = {
        "grid_shape": [tuple, list],
        "sigma": [Interval(Real, 0, None, closed="neither"), None],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "neighborhood": [StrOptions(set(NEIGHBORHOODS))],
        "topology": [StrOptions({"rectangular", "hexagonal"})],
        "algorithm": [StrOptions({"batch", "minibatch", "online"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "sigma_final": [Interval(Real, 0, None, closed="neither"), None],
        "learning_rate_final": [Interval(Real, 0, 1, closed="right"), None],
        "sigma_decay": [StrOptions(set(DECAYS))],
        "learning_rate_decay": [StrOptions(set(DECAYS))],
        "init": [StrOptions({"pca", "random"}), "array-like"],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "transform_mode": [StrOptions({"distances", "coordinates"})],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
    }

    def __init__(
        self,
        grid_shape=(10, 10),
        *,
        sigma=None,
        learning_rate=0.5,
        neighborhood="gaussian",
        topology="rectangular",
        algorithm="minibatch",
        max_iter=10,
        sigma_final=None,
        learning_rate_final=None,
        sigma_decay="inverse",
        learning_rate_decay="inverse",
        init="pca",
        batch_size=None,
        precision="float32",
        transform_mode="distances",
        random_state=None,
        device="cpu",
    ):
        self.grid_shape = grid_shape
        self.sigma = sigma
        self.learning_rate = learning_rate
        self.neighborhood = neighborhood
        self.topology = topology
        self.algorithm = algorithm
        self.max_iter = max_iter
        self.sigma_final = sigma_final
        self.learning_rate_final = learning_rate_final
        self.sigma_decay = sigma_decay
        self.learning_rate_decay = learning_rate_decay
        self.init = init
        self.batch_size = batch_size
        self.precision = precision
        self.transform_mode = transform_mode
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------ settings
    def _check_settings(self):
        shape = tuple(self.grid_shape)
        if len(shape) != 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
            raise ValueError(f"grid_shape must be two integers (rows, cols), got {self.grid_shape!r}.")
        if min(shape) < 2:
            raise ValueError(
                f"grid_shape={shape} is smaller than 2 x 2; a map needs at least 2 rows and 2 columns "
                "(use grid_shape=(2, 2) or larger)."
            )
        if self.neighborhood == "mexican_hat" and self.algorithm != "online":
            raise ValueError(
                "neighborhood='mexican_hat' has negative weights, so the batch map (a weighted mean) is "
                "undefined; use algorithm='online' or neighborhood='gaussian'."
            )
        sigma = max(shape) / 2.0 if self.sigma is None else float(self.sigma)
        sigma_final = min(0.5, sigma / 3.0) if self.sigma_final is None else float(self.sigma_final)
        lr_final = self.learning_rate / 3.0 if self.learning_rate_final is None else float(self.learning_rate_final)
        return (
            tuple(int(s) for s in shape),
            (sigma, sigma_final, DECAYS[self.sigma_decay]),
            (float(self.learning_rate), lr_final, DECAYS[self.learning_rate_decay]),
            resolve_option("neighborhood", self.neighborhood, NEIGHBORHOODS),
        )

    def _grid(self, device):
        """Unit positions and squared grid distances as tensors on ``device``."""
        P = torch.as_tensor(self.positions_, dtype=torch.float32, device=device)
        return P, torch.cdist(P, P, compute_mode="donot_use_mm_for_euclid_dist").square_()

    # ------------------------------------------------------------ data movement
    def _source(self, X: np.ndarray, device):
        """All of ``X`` as one float32 tensor on ``device`` (no copy on the CPU), or ``X`` itself when streaming."""
        if self.batch_size is not None:
            return X
        return as_device_tensor(X, device, torch.float32)

    def _chunks(self, source, device, rows=None):
        """Rows ``rows`` (all when None) of ``source`` as device tensors of at most ``batch_size`` rows."""
        if isinstance(source, torch.Tensor):
            if rows is None:
                yield source
            elif source.device.type == "cpu":  # numpy's row gather is ~2x faster than torch's on the CPU
                yield torch.from_numpy(np.take(source.numpy(), rows, axis=0))
            else:
                yield source[torch.as_tensor(rows, device=source.device)]
            return
        n = source.shape[0] if rows is None else len(rows)
        for start in range(0, n, int(self.batch_size)):
            part = slice(start, start + int(self.batch_size))
            yield as_device_tensor(source[part] if rows is None else source[np.sort(rows[part])], device, torch.float32)

    def _init_codebook(self, X: np.ndarray, device, generator) -> torch.Tensor:
        n, n_units = X.shape[0], len(self.positions_)
        if not isinstance(self.init, str):
            W0 = np.array(self.init, dtype=np.float32)  # a copy: the online rule updates the codebook in place
            if W0.shape != (n_units, X.shape[1]) or not np.isfinite(W0).all():
                raise ValueError(
                    f"init must be an initial codebook of shape (n_units, n_features) = ({n_units}, {X.shape[1]}) "
                    f"with finite values, got shape {W0.shape}; pass one prototype per unit, units numbered row by row."
                )
            return torch.as_tensor(W0, device=device)
        if self.init == "random":  # prototypes drawn from the data, with replacement
            return as_device_tensor(X[torch.randint(n, (n_units,), generator=generator, device=device).cpu().numpy()], device, torch.float32)
        m = min(n, 4096)  # the PCA plane from a random subsample: enough to place the initial grid
        rows = np.sort(torch.randperm(n, generator=generator, device=device)[:m].cpu().numpy())
        P = torch.as_tensor(self.positions_, dtype=torch.float32, device=device)
        return _pca_codebook(as_device_tensor(X[rows], device, torch.float32), P, generator)

    # ------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the map on ``X`` ``(n_samples, n_features)``; returns ``self``."""
        shape, sigma_sched, lr_sched, neighborhood = self._check_settings()
        X = self._validate(X, reset=True)
        device = resolve_device(self.device)
        generator = make_generator(self.random_state, device)
        self.positions_ = grid_positions(shape, self.topology)
        W = self._init_codebook(X, device, generator)
        source = self._source(X, device)
        if self.algorithm == "online":
            W, history = self._fit_online(source, W, sigma_sched, lr_sched, neighborhood, device, generator)
        else:
            W, history = self._fit_batch(source, W, sigma_sched, neighborhood, device, generator)
        self.codebook_ = to_numpy(W).astype(np.float32)
        self.history_ = history
        self.n_iter_ = len(history)
        self.n_steps_ = 0
        return self

    def _steps(self, n: int, device, generator):
        """Rows of each batch-map step: all rows every epoch ("batch"), or consecutive slices of one
        random permutation with doubling sizes ("minibatch"; the first holds at least n_units rows)."""
        if self.algorithm == "batch":
            return [None] * int(self.max_iter)
        n_units = len(self.positions_)
        K = max(1, min(int(self.max_iter), int(math.log2(n / n_units + 1))))
        ends = np.rint(n * (2.0 ** np.arange(1, K + 1) - 1) / (2**K - 1)).astype(np.int64)
        perm = torch.randperm(n, generator=generator, device=device).cpu().numpy()
        return [np.sort(rows) for rows in np.split(perm, ends[:-1])]  # sorted: a faster gather, same batch map

    def _fit_batch(self, source, W, sigma_sched, neighborhood, device, generator):
        _, G = self._grid(device)
        s0, s1, decay = sigma_sched
        steps = self._steps(source.shape[0], device, generator)
        resident = None
        if isinstance(source, torch.Tensor) and steps[0] is None:  # whole data every epoch: prepare it once
            resident = [_prepare(source, self.precision == "bfloat16")]
        history = []
        for k, rows in enumerate(steps):
            sigma = float(decay(s0, s1, k / (len(steps) - 1) if len(steps) > 1 else 1.0))
            W, qe = self._batch_step(resident or self._prepared(source, device, rows), W, neighborhood(G, sigma))
            n_rows = source.shape[0] if rows is None else len(rows)
            history.append({"step": k + 1, "sigma": sigma, "n_samples": n_rows, "quantization_error": qe})
        return W, history

    def _prepared(self, source, device, rows=None):
        """Chunks of ``source`` (rows ``rows``) with their search copies, see :func:`_prepare`."""
        bf16 = self.precision == "bfloat16"
        return (_prepare(chunk, bf16) for chunk in self._chunks(source, device, rows))

    @staticmethod
    def _batch_step(chunks, W, theta):
        """One batch map of ``W`` over prepared ``chunks`` with neighbourhood weights ``theta`` ``(U, U)``.

        Returns the new codebook and the quantization error of ``W`` over the chunks' rows.
        """
        S = torch.zeros_like(W)
        N = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
        dist_sum = torch.zeros((), dtype=torch.float64, device=W.device)
        n_rows = 0
        for x, x_search, x_sq, center in chunks:
            bmu, d2 = best_matching_units(x_search, W if center is None else W - center, X_sq=x_sq)
            s, cnt = unit_sums(bmu[:, 0], x, W.shape[0])
            S += s
            N += cnt
            dist_sum += d2.sqrt_().sum(dtype=torch.float64)
            n_rows += x.shape[0]
        return batch_map(W, S, N, theta), float(dist_sum) / n_rows

    def _fit_online(self, source, W, sigma_sched, lr_sched, neighborhood, device, generator):
        _, G = self._grid(device)
        n = source.shape[0]
        T = int(self.max_iter) * n
        u = np.arange(T, dtype=np.float64) / T
        sigmas = sigma_sched[2](sigma_sched[0], sigma_sched[1], u).tolist()
        rates = lr_sched[2](lr_sched[0], lr_sched[1], u).tolist()
        schedule = zip(sigmas, rates)
        history = []
        for epoch in range(int(self.max_iter)):
            self._online_pass(source, W, G, schedule, neighborhood, device, generator)
            t = (epoch + 1) * n
            history.append({"step": epoch + 1, "sigma": sigmas[t - 1], "learning_rate": rates[t - 1]})
        return W, history

    def _online_pass(self, source, W, G, schedule, neighborhood, device, generator):
        """Single-sample updates of ``W`` in place over all rows of ``source`` in random order.

        ``schedule`` yields one ``(sigma, eta)`` per update (it is shared across passes).
        """
        order = torch.randperm(source.shape[0], generator=generator, device=device).cpu().numpy()
        for chunk in self._chunks(source, device, order):
            if not isinstance(source, torch.Tensor):  # streamed chunks come back sorted: reshuffle inside
                chunk = chunk[torch.randperm(len(chunk), generator=generator, device=device)]
            with one_cpu_thread(device):
                for x, (sigma, rate) in zip(chunk, schedule):
                    online_step(W, x, G, sigma, rate, neighborhood)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One streaming step on the chunk ``X``; sigma and eta follow their decays over ``max_iter`` calls.

        Batch algorithms: ``W <- W + eta (batch_map(W; chunk) - W)``. Online
        algorithm: single-sample updates over the chunk in random order at this
        step's sigma and eta. The first call initializes the map from its chunk.
        """
        shape, (s0, s1, s_decay), (l0, l1, l_decay), neighborhood = self._check_settings()
        first = not hasattr(self, "codebook_")
        X = self._validate(X, reset=first)
        device = resolve_device(self.device)
        if first or not hasattr(self, "_generator"):
            self._generator = make_generator(self.random_state, device)
        if first:
            self.positions_ = grid_positions(shape, self.topology)
            W = self._init_codebook(X, device, self._generator)
            self.n_steps_, self.history_ = 0, []
        else:
            W = torch.as_tensor(self.codebook_, device=device)
        u = min(self.n_steps_ / self.max_iter, 1.0)
        sigma, rate = float(s_decay(s0, s1, u)), float(l_decay(l0, l1, u))
        _, G = self._grid(device)
        source = self._source(X, device)
        if self.algorithm == "online":
            self._online_pass(source, W, G, itertools.repeat((sigma, rate)), neighborhood, device, self._generator)
        else:
            new, _ = self._batch_step(self._prepared(source, device), W, neighborhood(G, sigma))
            W = W + rate * (new - W)
        self.codebook_ = to_numpy(W).astype(np.float32)
        self.n_steps_ += 1
        self.n_iter_ = self.n_steps_
        self.history_.append({"step": self.n_steps_, "sigma": sigma, "learning_rate": rate, "n_samples": X.shape[0]})
        return self

    # ------------------------------------------------------------ data checks
    def _validate(self, X, *, reset: bool):
        return validate_data(self, X, reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1)

    def _codebook(self, device):
        return torch.as_tensor(self.codebook_, dtype=torch.float32, device=device)

    # ------------------------------------------------------------ inference
    def _bmus(self, X, k: int = 1):
        check_is_fitted(self, "codebook_")
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        W = self._codebook(device)
        parts = [best_matching_units(chunk, W, k) for chunk in self._chunks(self._source(X, device), device)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def predict(self, X):
        """Index of the best-matching unit of each sample, ``(n_samples,)`` int64."""
        return to_numpy(self._bmus(X)[0][:, 0]).astype(np.int64)

    def transform(self, X):
        """Distances to every unit ``(n, n_units)`` or BMU map positions ``(n, 2)`` (see ``transform_mode``)."""
        check_is_fitted(self, "codebook_")
        X = self._validate(X, reset=False)
        if self.transform_mode == "coordinates":
            return self.positions_[self.predict(X)].astype(np.float32)
        device = resolve_device(self.device)
        W = self._codebook(device)
        parts = [squared_distances(chunk, W).sqrt_() for chunk in self._chunks(self._source(X, device), device)]
        return to_numpy(torch.cat(parts)).astype(np.float32)

    def quantization_error(self, X) -> float:
        """Mean distance of the samples to their BMU (see :func:`aekit.metrics.quantization_error`)."""
        check_is_fitted(self, "codebook_")
        X = self._validate(X, reset=False)
        return quantization_error(X, self.codebook_)

    def topographic_error(self, X) -> float:
        """Fraction of samples whose two best units are not grid neighbours (4 or 6 neighbours)."""
        check_is_fitted(self, "codebook_")
        X = self._validate(X, reset=False)
        return topographic_error(X, self.codebook_, self.positions_)

    def score(self, X, y=None) -> float:
        """Negative quantization error (higher is better)."""
        return -self.quantization_error(X)

    def u_matrix(self) -> np.ndarray:
        """Mean distance of each prototype to its grid neighbours' prototypes, shape ``grid_shape``."""
        check_is_fitted(self, "codebook_")
        A = grid_adjacency(self.positions_)
        W = self.codebook_.astype(np.float64)
        D = np.sqrt(np.maximum(((W[:, None, :] - W[None, :, :]) ** 2).sum(-1), 0.0))
        return ((D * A).sum(1) / A.sum(1)).reshape(self._shape())

    def hit_map(self, X) -> np.ndarray:
        """Number of samples whose BMU is each unit, shape ``grid_shape``."""
        bmu = self.predict(X)
        return np.bincount(bmu, minlength=len(self.positions_)).reshape(self._shape())

    def _shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.grid_shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

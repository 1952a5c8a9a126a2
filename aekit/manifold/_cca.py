"""Curvilinear component analysis (CCA): keep short distances, let long ones stretch.

Given input distances ``X_ij = ||x_i - x_j||`` and output distances
``Y_ij = ||y_i - y_j||``, CCA minimizes

    E = 1/2 sum_{i != j} (X_ij - Y_ij)^2 F(Y_ij, lambda)

where ``F`` is a decreasing weight of the *output* distance with radius
``lambda``: only pairs that are close in the embedding must keep their input
distance, so a curved manifold can unfold by tearing or stretching its long
distances. Demartines & Hérault's stochastic rule picks a pivot ``i`` and moves
every other point ``j`` along ``y_j - y_i``::

    y_j <- y_j + alpha(t) F(Y_ij, lambda(t)) (X_ij - Y_ij) (y_j - y_i) / Y_ij

with ``alpha`` and ``lambda`` shrinking over time. Here each step takes a small
batch of pivots and adds their moves (for a batch of one, exactly the rule
above); a handful of pivots per step keeps the rule's behaviour while making
each step a few matrix products.

For many samples, CCA runs on prototypes (a k-means codebook or a random
subset), as in the original paper; every other sample, and every new one, is
then placed by interpolating the embeddings of its nearest prototypes
(:func:`place_points`).

References
----------
Demartines, P. & Hérault, J. (1997). Curvilinear component analysis: a
self-organizing neural network for nonlinear mapping of data sets. *IEEE
Transactions on Neural Networks*, 8(1), 148-154.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from aekit._torch import (
    as_device_tensor,
    leading_axes,
    make_generator,
    map_rows,
    one_cpu_thread,
    resolve_device,
    to_numpy,
)
from aekit._validation import ArrayTransformerMixin
from aekit.manifold._som_kernels import best_matching_units, unit_sums

__all__ = [
    "CurvilinearComponentAnalysis",
    "step_weight",
    "exponential_weight",
    "cca_step",
    "anneal",
    "cca_stress",
    "place_points",
    "geodesic_distances",
    "kmeans_prototypes",
]


# ---------------------------------------------------------------------------- weights F(Y, lambda)
def step_weight(Y: torch.Tensor, radius: float) -> torch.Tensor:
    """``F = 1`` for output distances ``Y <= radius``, else 0 (Demartines & Hérault's Heaviside)."""
    return (Y <= radius).to(Y.dtype)


def exponential_weight(Y: torch.Tensor, radius: float) -> torch.Tensor:
    """``F = exp(-Y / radius)``: a smooth neighbourhood of width ``radius``."""
    return torch.exp(Y * (-1.0 / radius))


WEIGHTS = {"step": step_weight, "exponential": exponential_weight}


# ---------------------------------------------------------------------------- kernels
def cca_step(Y: torch.Tensor, pivots: torch.Tensor, D_pivots: torch.Tensor, alpha: float, radius: float, weight) -> None:
    """Move every point by the CCA rule for each pivot and add the moves (``Y`` changed in place).

    ``Y`` is ``(m, k)``; ``pivots`` ``(p,)`` indices; ``D_pivots`` ``(p, m)`` their
    input distances. With ``C_ij = alpha F(Y_ij) (X_ij - Y_ij) / Y_ij`` (0 for
    ``Y_ij = 0``), the move of point ``j`` is ``sum_i C_ij (y_j - y_i)``
    ``= y_j sum_i C_ij - (C^T Y_pivots)_j``.
    """
    Yp = Y[pivots]  # (p, k)
    Dy = torch.cdist(Yp, Y, compute_mode="donot_use_mm_for_euclid_dist")  # (p, m)
    tiny = torch.finfo(Y.dtype).eps
    C = weight(Dy, radius) * (D_pivots - Dy) / Dy.clamp_min(tiny)
    C = torch.where(Dy > tiny, C, torch.zeros_like(C)).mul_(alpha)
    Y.add_(Y * C.sum(0).unsqueeze(1) - C.T @ Yp)


def cca_stress(Y: torch.Tensor, D: torch.Tensor, radius: float, weight) -> float:
    """Mean weighted stress over pairs, ``sum_{i != j} (X_ij - Y_ij)^2 F(Y_ij) / (m (m - 1))``."""
    Dy = torch.cdist(Y, Y, compute_mode="donot_use_mm_for_euclid_dist")
    m = Y.shape[0]
    return float(((D - Dy) ** 2 * weight(Dy, radius)).sum()) / max(m * (m - 1), 1)


def place_points(D_new: torch.Tensor, P_embedding: torch.Tensor, *, n_neighbors: int = 5) -> torch.Tensor:
    """Embed points from their input distances ``D_new`` ``(n, m)`` to prototypes with embedding ``P_embedding`` ``(m, k)``.

    Shepard interpolation over the ``n_neighbors`` nearest prototypes ``j``::

        y = sum_j w_j y_j / sum_j w_j,    w_j = 1 / X_j^2

    so a point on a prototype gets that prototype's embedding. (Refining ``y``
    further by minimizing its own stress against these few prototypes places
    held-out points less trustworthily: the prototypes' local distortions are
    averaged out here; see benchmarks/results/notes.md.)
    Returns ``(n, k)``.
    """
    k = min(n_neighbors, D_new.shape[1])
    Dk, idx = torch.topk(D_new, k, dim=1, largest=False)  # (n, k) nearest prototypes and their distances
    Yk = P_embedding[idx]  # (n, k, d)
    tiny = torch.finfo(D_new.dtype).tiny
    exact = Dk[:, :1] <= 0
    w = torch.where(exact, (Dk <= 0).to(Dk.dtype), 1.0 / Dk.square().clamp_min(tiny))
    return (w.unsqueeze(2) * Yk).sum(1) / w.sum(1, keepdim=True)


def geodesic_distances(P: torch.Tensor, n_neighbors: int) -> torch.Tensor:
    """Shortest-path distances ``(m, m)`` in the (undirected) ``n_neighbors``-nearest-neighbour graph of ``P`` ``(m, d)``.

    Composed from the Isomap building blocks (:mod:`aekit.manifold._graph`:
    scikit-learn neighbours, SciPy Dijkstra or Floyd-Warshall, in torch on a
    GPU); a disconnected graph is an error that names the fix.
    """
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors

    from aekit.manifold._graph import geodesic_distances as graph_geodesics
    from aekit.manifold._graph import neighborhood_graph

    m = P.shape[0]
    if n_neighbors >= m:
        raise ValueError(f"graph_neighbors={n_neighbors} must be below the number of prototypes ({m}).")
    graph = neighborhood_graph(NearestNeighbors().fit(to_numpy(P).astype(np.float64)), n_neighbors=n_neighbors)
    n_parts, _ = connected_components(graph, directed=False)
    if n_parts > 1:
        raise ValueError(
            f"the {n_neighbors}-nearest-neighbour graph of the prototypes has {n_parts} disconnected parts, so "
            "geodesic distances between them are undefined; raise graph_neighbors or use metric='euclidean'."
        )
    return graph_geodesics(graph, device=P.device).to(P.dtype)


def kmeans_prototypes(X: torch.Tensor, n_prototypes: int, generator: torch.Generator, n_iter: int = 20) -> torch.Tensor:
    """Vector quantization of ``X`` ``(n, d)`` by Lloyd's k-means; returns ``(n_prototypes, d)``.

    Seeded by k-means++ (each new centre drawn with probability proportional to
    the squared distance to the nearest centre so far; Arthur & Vassilvitskii
    2007); an empty cluster keeps its previous centre.
    """
    n = X.shape[0]
    first = int(torch.randint(n, (1,), generator=generator, device=X.device))
    chosen = [first]
    d2 = torch.linalg.vector_norm(X - X[first], dim=1).square_()
    for _ in range(1, n_prototypes):
        nxt = int(torch.multinomial(d2 + 1e-30, 1, generator=generator))
        chosen.append(nxt)
        d2 = torch.minimum(d2, torch.linalg.vector_norm(X - X[nxt], dim=1).square_())
    C = X[torch.tensor(chosen, device=X.device)].clone()
    for _ in range(n_iter):
        bmu, _ = best_matching_units(X, C)
        S, N = unit_sums(bmu[:, 0], X, n_prototypes)
        C = torch.where(N.unsqueeze(1) > 0, S / N.clamp_min(1).unsqueeze(1), C)
    return C


def anneal(Y: torch.Tensor, D: torch.Tensor, weight, *, radii: tuple[float, float], learning_rates: tuple[float, float],
           max_iter: int, pivots_per_step: int, generator: torch.Generator) -> list[dict]:
    """Run CCA's rule on the embedding ``Y`` ``(m, k)`` in place, for input distances ``D`` ``(m, m)``.

    Each epoch visits every point once as a pivot, ``pivots_per_step`` at a
    time in a random order (:func:`cca_step`). The learning rate and the radius
    decay geometrically over all steps ``t / T`` from the first to the second
    value of ``learning_rates`` and ``radii``. Returns the per-epoch history
    (epoch, learning rate, radius at its last step).
    """
    (a0, a1), (r0, r1) = learning_rates, radii
    m = Y.shape[0]
    p = min(int(pivots_per_step), m)
    steps = -(-m // p)
    T = int(max_iter) * steps
    history, t = [], 0
    with one_cpu_thread(Y.device):  # thousands of tiny steps: threads cost more than they save
        for epoch in range(int(max_iter)):
            order = torch.randperm(m, generator=generator, device=Y.device)
            for s in range(steps):
                u = t / T
                alpha = a0 * (a1 / a0) ** u
                lam = r0 * (r1 / r0) ** u
                pivots = order[s * p : (s + 1) * p]
                cca_step(Y, pivots, D[pivots], alpha, lam, weight)
                t += 1
            history.append({"epoch": epoch + 1, "learning_rate": alpha, "radius": lam})
    return history


# ---------------------------------------------------------------------------- estimator
class CurvilinearComponentAnalysis(ArrayTransformerMixin, TransformerMixin, BaseEstimator):
    """Curvilinear component analysis (Demartines & Hérault 1997), in torch on CPU or CUDA.

    Minimizes ``E = 1/2 sum_ij (X_ij - Y_ij)^2 F(Y_ij, lambda)`` between input
    distances ``X_ij`` and embedding distances ``Y_ij`` by the stochastic pivot
    rule ``y_j += alpha F(Y_ij) (X_ij - Y_ij) (y_j - y_i) / Y_ij`` (module
    docstring), with the learning rate ``alpha`` and the radius ``lambda``
    decaying exponentially from their start to their final values.

    Parameters
    ----------
    n_components : int, default=2
    neighborhood : {"exponential", "step"}, default="exponential"
        ``F(Y, lambda) = exp(-Y / lambda)`` or the Heaviside ``Y <= lambda``.
    max_iter : int, default=30
        Epochs; in each, every prototype is a pivot once.
    learning_rate, learning_rate_final : float, default=0.5, 0.01
        ``alpha`` at the start and at the end.
    radius, radius_final : float, default=None
        ``lambda`` at the start (None: the largest distance of the initial
        embedding, so every pair counts at first) and at the end (None: twice
        the median distance of a prototype to its 8th-nearest prototype in input space).
    pivots_per_step : int, default=4
        Pivots whose moves are added in one step (1 is the original sequential
        rule; large batches with a large ``learning_rate`` overshoot early on).
    metric : {"euclidean", "geodesic"}, default="euclidean"
        Input distances ``X_ij``: straight lines (CCA) or shortest paths in the
        ``graph_neighbors``-nearest-neighbour graph of the prototypes
        (curvilinear distance analysis, Lee et al. 2000), which lets a rolled
        sheet unroll flat instead of tearing.
    graph_neighbors : int, default=10
        Neighbours per prototype in the graph of ``metric="geodesic"``.
    n_prototypes : int, default=2000
        With more samples than this, CCA runs on ``n_prototypes`` prototypes
        (memory ``O(n_prototypes^2)``) and the samples are placed by
        :func:`place_points`.
    quantizer : {"kmeans", "random"}, default="kmeans"
        Prototypes: k-means centres or a random subset of the samples.
    n_neighbors : int, default=5
        Nearest prototypes (in input space) whose embeddings are interpolated
        to place a point in ``transform`` (:func:`place_points`).
    init : {"pca", "random"}, default="pca"
        Start from the leading principal components (padded with small noise
        when ``n_components > n_features``) or uniform noise.
    random_state : int, numpy Generator or None, default=None
    device : str, default="cpu"

    Attributes
    ----------
    prototypes_ : ndarray (n_prototypes, n_features)
    prototype_embedding_ : ndarray (n_prototypes, n_components)
    embedding_ : ndarray (n_samples, n_components)
        ``transform`` of the training data (the prototypes' own embedding when
        the samples are the prototypes).
    radius_final_ : float
    stress_ : float
        Final mean weighted stress of the prototypes at ``radius_final_`` (see :func:`cca_stress`).
    history_ : list of dict
        Per epoch: the ``learning_rate`` and ``radius`` reached.
    n_iter_ : int

    References
    ----------
    Demartines, P. & Hérault, J. (1997). Curvilinear component analysis: a
    self-organizing neural network for nonlinear mapping of data sets. *IEEE
    Transactions on Neural Networks*, 8(1), 148-154.
    """

    # computed in float32 (float64 input too): its outputs are float32
    _dtypes = (np.float32, np.float64)
    _preserves_dtype = ("float32",)

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "neighborhood": [StrOptions(set(WEIGHTS))],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "learning_rate_final": [Interval(Real, 0, 1, closed="right")],
        "radius": [Interval(Real, 0, None, closed="neither"), None],
        "radius_final": [Interval(Real, 0, None, closed="neither"), None],
        "pivots_per_step": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean", "geodesic"})],
        "graph_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_prototypes": [Interval(Integral, 2, None, closed="left")],
        "quantizer": [StrOptions({"kmeans", "random"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"pca", "random"})],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
    }

    def __init__(
        self,
        n_components=2,
        *,
        neighborhood="exponential",
        max_iter=30,
        learning_rate=0.5,
        learning_rate_final=0.01,
        radius=None,
        radius_final=None,
        pivots_per_step=4,
        metric="euclidean",
        graph_neighbors=10,
        n_prototypes=2000,
        quantizer="kmeans",
        n_neighbors=5,
        init="pca",
        random_state=None,
        device="cpu",
    ):
        self.n_components = n_components
        self.neighborhood = neighborhood
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.learning_rate_final = learning_rate_final
        self.radius = radius
        self.radius_final = radius_final
        self.pivots_per_step = pivots_per_step
        self.metric = metric
        self.graph_neighbors = graph_neighbors
        self.n_prototypes = n_prototypes
        self.quantizer = quantizer
        self.n_neighbors = n_neighbors
        self.init = init
        self.random_state = random_state
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Embed ``X`` ``(n_samples, n_features)``; returns ``self``.

        Prototypes (:meth:`_prototypes`) and their input distances, an initial
        embedding (:meth:`_initial_embedding`), the radii of the neighbourhood
        (:meth:`_radii`), then CCA's rule (:func:`anneal`); the other samples are
        placed from the prototypes (:func:`place_points`).
        """
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"CCA needs at least 2 samples to have distances to preserve, got n_samples={n}.")
        device = resolve_device(self.device)
        generator = make_generator(self.random_state, device)
        weight = WEIGHTS[self.neighborhood]
        Xt = as_device_tensor(X, device, torch.float32)
        P = self._prototypes(Xt, generator)
        if self.metric == "geodesic":
            D = geodesic_distances(P, self.graph_neighbors)
        else:
            D = torch.cdist(P, P, compute_mode="donot_use_mm_for_euclid_dist")  # (m, m) input distances
        Y = self._initial_embedding(P, generator)
        radius, radius_final = self._radii(Y, D)
        history = anneal(
            Y, D, weight, radii=(radius, radius_final), generator=generator, max_iter=self.max_iter,
            learning_rates=(float(self.learning_rate), float(self.learning_rate_final)),
            pivots_per_step=self.pivots_per_step,
        )
        if not bool(torch.isfinite(Y).all()):
            raise ValueError(
                "CCA diverged (non-finite embedding); lower learning_rate or pivots_per_step, or scale the data."
            )
        self.prototypes_ = to_numpy(P).astype(np.float32)
        self.prototype_embedding_ = to_numpy(Y).astype(np.float32)
        self.radius_ = radius
        self.radius_final_ = radius_final
        self.stress_ = cca_stress(Y, D, radius_final, weight)
        self.history_ = history
        self.n_iter_ = int(self.max_iter)
        self.embedding_ = self.prototype_embedding_.copy() if P.shape[0] == n else self._place(Xt)
        return self

    def _prototypes(self, Xt: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The points CCA runs on ``(m, d)``: all samples, or a codebook of ``n_prototypes``."""
        n = Xt.shape[0]
        if n <= self.n_prototypes:
            return Xt
        if self.quantizer == "kmeans":
            return kmeans_prototypes(Xt, self.n_prototypes, generator)
        return Xt[torch.randperm(n, generator=generator, device=Xt.device)[: self.n_prototypes]]

    def _radii(self, Y: torch.Tensor, D: torch.Tensor) -> tuple[float, float]:
        """The neighbourhood radius at the start and at the end: ``radius`` / ``radius_final``, or their defaults.

        By default the start is the initial embedding's diameter, the end twice
        the median distance of a point to its 8th nearest prototype.
        """
        radius = float(torch.cdist(Y, Y).max()) if self.radius is None else float(self.radius)
        radius = radius if radius > 0 else 1.0  # all samples identical: nothing to unfold
        if self.radius_final is not None:
            return radius, float(self.radius_final)
        kth = min(8, D.shape[0] - 1)
        radius_final = 2.0 * float(torch.kthvalue(D, kth + 1, dim=1).values.median())  # +1: self at 0
        return radius, radius_final if radius_final > 0 else radius * 1e-2

    def _initial_embedding(self, P: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        m, d = P.shape
        k = int(self.n_components)
        if self.init == "random":
            scale = float(P.std(0).max()) or 1.0
            return (torch.rand(m, k, generator=generator, device=P.device) - 0.5) * (2 * scale)
        Pc = P - P.mean(0)
        axes, var = leading_axes(Pc, min(k, d), generator)
        Y = Pc @ axes.T
        if k > Y.shape[1]:  # more components than features: pad with small noise
            pad = torch.randn(m, k - Y.shape[1], generator=generator, device=P.device)
            Y = torch.cat([Y, pad * (1e-2 * float(var[0].sqrt()) + 1e-6)], dim=1)
        return Y.contiguous()

    def _place(self, Xt: torch.Tensor) -> np.ndarray:
        P = torch.as_tensor(self.prototypes_, device=Xt.device)
        Yp = torch.as_tensor(self.prototype_embedding_, device=Xt.device)

        def place(x: torch.Tensor) -> torch.Tensor:
            D_new = torch.cdist(x, P, compute_mode="donot_use_mm_for_euclid_dist")
            return place_points(D_new, Yp, n_neighbors=self.n_neighbors)

        return to_numpy(map_rows(place, Xt)).astype(np.float32)

    def transform(self, X):
        """Embed points by interpolating their nearest prototypes (:func:`place_points`), ``(n, n_components)``."""
        check_is_fitted(self, "prototype_embedding_")
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        return self._place(as_device_tensor(X, device, torch.float32))

    def fit_transform(self, X, y=None):
        """``fit(X)`` and return the embedding of the training samples ``embedding_``."""
        return self.fit(X).embedding_.copy()

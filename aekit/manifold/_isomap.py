"""Isomap: neighbourhood graph + geodesic distances + classical MDS, and its landmark version."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from aekit._torch import make_numpy_rng, resolve_device, to_numpy
from aekit._validation import EmbeddingMixin, check_n_components
from aekit.manifold._eigen import EIGEN_SOLVERS
from aekit.manifold._graph import (
    LANDMARK_METHODS,
    PATH_METHODS,
    check_connected,
    check_neighbors,
    geodesic_distances,
    min_plus_through,
    neighborhood_graph,
    query_neighbors,
    select_landmarks,
)
from aekit.manifold._mds import classical_mds, landmark_mds, mds_project, mean_square_rows, residual_variance

__all__ = ["Isomap"]


class Isomap(EmbeddingMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Isometric mapping: classical MDS of geodesic distances along a neighbourhood graph.

    1. Connect each point to its ``n_neighbors`` nearest points (or to all
       points within ``radius``), edges weighted by Euclidean distance.
    2. Geodesic distances ``D_G`` = shortest paths in that graph
       (Floyd–Warshall for small n, Dijkstra otherwise).
    3. Classical MDS: ``B = -1/2 J D_G^{∘2} J = V Λ V^T``, embedding
       ``Y = V_k Λ_k^{1/2}`` (``J = I - 11^T / n``).

    With ``n_landmarks = L`` (landmark Isomap), Dijkstra runs only from ``L``
    landmarks (memory ``O(n L)`` instead of ``O(n^2)``), MDS embeds the
    landmarks and every point is placed by distance-based triangulation
    ``y = -1/2 Λ^{-1/2} V^T (δ - \bar δ)`` from its squared geodesic
    distances ``δ`` to the landmarks.

    New points (``transform``) reach the training graph through their
    neighbours, ``g(x, j) = min_c |x - x_c| + D_G(c, j)``, and are placed by
    the same triangulation (for exact Isomap it reproduces ``embedding_`` on
    the training points).

    Parameters
    ----------
    n_neighbors : int or None, default=5
        Neighbours per point in the k-NN graph; None to use ``radius``.
    radius : float or None, default=None
        Radius of the ε-ball graph (set ``n_neighbors=None``).
    n_components : int, default=2
    eigen_solver : {"auto", "dense", "arpack", "randomized"}, default="auto"
        How the top eigenvectors are found (``torch.linalg.eigh`` on the
        device, ARPACK, or a randomized range finder in torch).
    tol : float, default=0
        ARPACK tolerance.
    max_iter : int or None, default=None
        ARPACK iterations (or randomized power iterations).
    path_method : {"auto", "FW", "D"}, default="auto"
        Shortest paths by Floyd–Warshall ("FW", ``O(n^3)``; in torch on a
        GPU) or Dijkstra ("D"); "auto" takes FW for n <= 300 (4000 on a GPU).
        Landmark Isomap always uses Dijkstra from the landmarks.
    neighbors_algorithm : {"auto", "brute", "kd_tree", "ball_tree"}, default="auto"
    n_landmarks : int or None, default=None
        Landmark Isomap with this many landmarks; None for exact Isomap.
    landmark_method : {"maxmin", "random"}, default="maxmin"
        Greedy farthest-point (geodesic) landmarks, or a uniform sample.
    metric : str, default="minkowski"
    p : float, default=2
    metric_params : dict or None, default=None
        Distance of the neighbourhood graph (scikit-learn's names).
    n_jobs : int or None, default=None
        Parallel jobs of the neighbour search.
    random_state : int, numpy Generator or None, default=None
        Landmarks and eigensolver start.
    device : str, default="cpu"
        Torch device for the dense linear algebra (MDS, triangulation).

    Attributes
    ----------
    embedding_ : ndarray (n_samples, n_components)
    dist_matrix_ : ndarray (n_samples, n_samples)
        Geodesic distances (exact Isomap only).
    landmarks_ : ndarray (n_landmarks,)
        Landmark indices (landmark Isomap only).
    landmark_distances_ : ndarray (n_landmarks, n_samples)
        Geodesic distances from the landmarks (landmark Isomap only).
    eigenvalues_ : ndarray (n_components,)
        Top eigenvalues of the double-centred squared geodesic distances.
    eigenvectors_ : ndarray (n_reference, n_components)
        Their eigenvectors; the references are all points or the landmarks.
    mean_sq_distances_ : ndarray (n_reference,)
        Mean squared geodesic distance of each reference to the others.
    X_fit_ : ndarray (n_samples, n_features)
        The training points (neighbours of new points are found among them).
    n_features_in_ : int

    References
    ----------
    Tenenbaum, de Silva & Langford (2000), A global geometric framework for
    nonlinear dimensionality reduction, Science 290. de Silva & Tenenbaum
    (2003), Global versus local methods in nonlinear dimensionality
    reduction, NIPS 15.
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "radius": [Interval(Real, 0, None, closed="neither"), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "eigen_solver": [StrOptions(set(EIGEN_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "path_method": [StrOptions(set(PATH_METHODS))],
        "neighbors_algorithm": [StrOptions({"auto", "brute", "kd_tree", "ball_tree"})],
        "n_landmarks": [Interval(Integral, 2, None, closed="left"), None],
        "landmark_method": [StrOptions(set(LANDMARK_METHODS))],
        "metric": [str, callable],
        "p": [Interval(Real, 1, None, closed="left")],
        "metric_params": [dict, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state", np.random.Generator],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        n_neighbors=5,
        radius=None,
        n_components=2,
        *,
        eigen_solver="auto",
        tol=0,
        max_iter=None,
        path_method="auto",
        neighbors_algorithm="auto",
        n_landmarks=None,
        landmark_method="maxmin",
        metric="minkowski",
        p=2,
        metric_params=None,
        n_jobs=None,
        random_state=None,
        device="cpu",
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.n_components = n_components
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.path_method = path_method
        self.neighbors_algorithm = neighbors_algorithm
        self.n_landmarks = n_landmarks
        self.landmark_method = landmark_method
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ fit
    def _make_neighbors(self) -> NearestNeighbors:
        return NearestNeighbors(
            n_neighbors=self.n_neighbors if self.n_neighbors is not None else 5,
            radius=self.radius if self.radius is not None else 1.0,
            algorithm=self.neighbors_algorithm,
            metric=self.metric,
            p=self.p,
            metric_params=self.metric_params,
            n_jobs=self.n_jobs,
        )

    def _neighbors(self) -> NearestNeighbors:
        """The neighbour index of the training points (rebuilt after loading)."""
        nn = getattr(self, "_nn", None)
        if nn is None:
            nn = self._nn = self._make_neighbors().fit(self.X_fit_)
        return nn

    def _solver_kwargs(self, rng) -> dict:
        return dict(solver=self.eigen_solver, tol=self.tol, max_iter=self.max_iter, random_state=rng)

    def _fit(self, X):
        X = self._validate(X, reset=True, ensure_min_samples=2)
        n = X.shape[0]
        check_neighbors(self.n_neighbors, self.radius, n)
        device = resolve_device(self.device)
        rng = make_numpy_rng(self.random_state)
        self.X_fit_ = X
        self._nn = self._make_neighbors().fit(X)
        graph = neighborhood_graph(self._nn, n_neighbors=self.n_neighbors, radius=self.radius)
        check_connected(graph, n_neighbors=self.n_neighbors, radius=self.radius)
        for name in ("dist_matrix_", "landmarks_", "landmark_distances_"):
            self.__dict__.pop(name, None)
        if self.n_landmarks is None:
            k = check_n_components(self.n_components, n, what="n_samples")
            D = geodesic_distances(graph, method=self.path_method, device=device)
            Y, values, vectors = classical_mds(D, k, **self._solver_kwargs(rng))
            self.dist_matrix_ = to_numpy(D)
            mean_sq = mean_square_rows(D)
        else:
            if self.n_landmarks > n:
                raise ValueError(
                    f"n_landmarks={self.n_landmarks} is larger than n_samples={n}; "
                    "use fewer landmarks (or n_landmarks=None for exact Isomap)."
                )
            k = check_n_components(self.n_components, self.n_landmarks, what="n_landmarks")
            landmarks, D_L = select_landmarks(graph, self.n_landmarks, method=self.landmark_method, random_state=rng)
            D_L_t = torch.from_numpy(D_L).to(device)
            Y, values, vectors, mean_sq = landmark_mds(
                D_L_t, torch.as_tensor(landmarks, device=device), k, **self._solver_kwargs(rng)
            )
            self.landmarks_ = landmarks
            self.landmark_distances_ = D_L
        self.embedding_ = to_numpy(Y).astype(X.dtype, copy=False)
        self.eigenvalues_ = to_numpy(values)
        self.eigenvectors_ = np.ascontiguousarray(to_numpy(vectors))
        self.mean_sq_distances_ = to_numpy(mean_sq)
        return self

    # ------------------------------------------------------------ transform
    def _reference_distances(self, device) -> tuple[torch.Tensor, bool]:
        """Geodesic distances from the training points to the MDS references, and their layout."""
        if hasattr(self, "landmark_distances_"):
            return torch.from_numpy(np.asarray(self.landmark_distances_)).to(device), True
        return torch.from_numpy(np.asarray(self.dist_matrix_)).to(device), False

    def transform(self, X):
        """Embeddings (n_queries, n_components) of new points ``X`` (n_queries, n_features).

        Each point's geodesic distances to the references run through its
        neighbours in the training graph; MDS places it from them.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        device = resolve_device(self.device)
        dist, ind = query_neighbors(self._neighbors(), X, n_neighbors=self.n_neighbors, radius=self.radius)
        D, by_column = self._reference_distances(device)
        dist = torch.as_tensor(dist, dtype=torch.float64, device=device)
        ind = torch.as_tensor(ind, dtype=torch.int64, device=device)
        mean_sq = torch.from_numpy(self.mean_sq_distances_).to(device)
        values = torch.from_numpy(self.eigenvalues_).to(device)
        vectors = torch.from_numpy(self.eigenvectors_).to(device)
        Y = torch.empty(X.shape[0], values.numel(), dtype=torch.float64, device=device)
        chunk = max(1, 2**22 // mean_sq.numel())  # query rows per block: memory O(chunk * n_reference)
        for s in range(0, X.shape[0], chunk):
            g = min_plus_through(dist[s : s + chunk], ind[s : s + chunk], D, columns=by_column)  # (b, n_reference)
            if not bool(torch.isfinite(g).all()):
                raise ValueError("Some points have no path to the training graph; use a larger radius or n_neighbors.")
            Y[s : s + chunk] = mds_project(g * g, mean_sq, values, vectors)
        return to_numpy(Y).astype(X.dtype, copy=False)

    # ------------------------------------------------------------- analysis
    def residual_variance_curve(self, max_components: int = 10) -> np.ndarray:
        r"""Residual variance ``1 - R^2(D_G, D_Y)`` of embeddings of dimension 1 .. ``max_components``.

        The "elbow" of this curve is Tenenbaum et al.'s estimate of the
        intrinsic dimension. For landmark Isomap the pairs are (landmark,
        point). Dimensions beyond the number of positive eigenvalues repeat
        the last value.

        Returns
        -------
        ndarray (max_components,)
        """
        check_is_fitted(self)
        device = resolve_device(self.device)
        D, by_column = self._reference_distances(device)
        limit = D.shape[0]
        max_components = check_n_components(int(max_components), limit, what="the number of MDS references")
        rng = make_numpy_rng(self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if by_column:
                landmarks = torch.as_tensor(self.landmarks_, device=device)
                Y, *_ = landmark_mds(D, landmarks, max_components, **self._solver_kwargs(rng))
            else:
                Y, *_ = classical_mds(D, max_components, **self._solver_kwargs(rng))
        rows = self.landmarks_ if by_column else None
        return np.array(
            [residual_variance(D, Y[:, :d], rows=rows, device=device) for d in range(1, max_components + 1)]
        )

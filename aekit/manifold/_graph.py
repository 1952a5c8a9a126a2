"""Neighbourhood graphs and geodesic (graph shortest-path) distances.

Building blocks of Isomap and LLE: scikit-learn finds the neighbours,
:mod:`scipy.sparse.csgraph` finds connected components and shortest paths
(Floyd–Warshall or Dijkstra); on a GPU, Floyd–Warshall runs in torch.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components, dijkstra, floyd_warshall

from aekit._torch import make_numpy_rng
from aekit._validation import resolve_option

__all__ = [
    "PATH_METHODS",
    "check_neighbors",
    "neighborhood_graph",
    "query_neighbors",
    "check_connected",
    "geodesic_distances",
    "select_landmarks",
    "symmetrize",
    "min_plus_through",
]

PATH_METHODS = ("auto", "FW", "D")
LANDMARK_METHODS = ("maxmin", "random")


def check_neighbors(n_neighbors, radius, n_samples: int) -> None:
    """Exactly one of ``n_neighbors`` / ``radius``, and a neighbour count the data allows."""
    if (n_neighbors is None) == (radius is None):
        raise ValueError(
            "Give exactly one of n_neighbors and radius (set the other to None); "
            f"got n_neighbors={n_neighbors!r}, radius={radius!r}."
        )
    if n_neighbors is not None and n_neighbors > n_samples - 1:
        raise ValueError(
            f"n_neighbors={n_neighbors} is larger than n_samples - 1 = {n_samples - 1}: a point has at most "
            f"n_samples - 1 neighbours. Lower n_neighbors or pass more samples."
        )


def neighborhood_graph(nn, *, n_neighbors=None, radius=None) -> sp.csr_matrix:
    """The k-NN or ε-ball graph of the points ``nn`` was fitted on, edges weighted by distance.

    Parameters
    ----------
    nn : fitted :class:`sklearn.neighbors.NearestNeighbors`
    n_neighbors : int, optional
        Connect each point to its ``n_neighbors`` nearest other points.
    radius : float, optional
        Connect points closer than ``radius``.

    Returns
    -------
    csr_matrix (n, n)
        Directed (a point's k nearest); shortest paths treat it as undirected.
    """
    if n_neighbors is not None:
        return nn.kneighbors_graph(n_neighbors=n_neighbors, mode="distance")
    return nn.radius_neighbors_graph(radius=radius, mode="distance")


def query_neighbors(nn, X, *, n_neighbors=None, radius=None) -> tuple[np.ndarray, np.ndarray]:
    """Training neighbours of new points as padded arrays ``(distances, indices)`` of shape (m, c).

    With a radius the lists have different lengths; they are padded with
    distance ``inf`` (index 0). A point with no training point within the
    radius gets a clear error.
    """
    if n_neighbors is not None:
        dist, ind = nn.kneighbors(X, n_neighbors=n_neighbors)
        return dist, ind
    dist_l, ind_l = nn.radius_neighbors(X, radius=radius)
    counts = np.array([len(i) for i in ind_l])
    if counts.size and counts.min() == 0:
        bad = int(np.argmin(counts))
        raise ValueError(
            f"Sample {bad} has no training point within radius={radius}, so its geodesic distances are "
            "undefined; use a larger radius or n_neighbors."
        )
    width = int(counts.max()) if counts.size else 1
    dist = np.full((len(ind_l), width), np.inf)
    ind = np.zeros((len(ind_l), width), dtype=np.int64)
    for i, (d, j) in enumerate(zip(dist_l, ind_l)):
        dist[i, : len(d)] = d
        ind[i, : len(j)] = j
    return dist, ind


def check_connected(graph, *, n_neighbors=None, radius=None) -> None:
    """Raise a clear error when the (undirected) neighbourhood graph is not connected."""
    n_comp, labels = connected_components(graph, directed=False)
    if n_comp > 1:
        sizes = np.sort(np.bincount(labels))[::-1]
        shown = ", ".join(str(s) for s in sizes[:5]) + (", ..." if n_comp > 5 else "")
        fix = (
            f"increase n_neighbors (now {n_neighbors})" if n_neighbors is not None else f"increase radius (now {radius})"
        )
        raise ValueError(
            f"The neighbourhood graph is disconnected: it has {n_comp} connected components "
            f"(sizes {shown}), so geodesic distances between them are infinite. "
            f"To connect it, {fix}, or embed each component separately."
        )


def symmetrize(graph) -> sp.csr_matrix:
    """The undirected version of a weighted graph: an edge in either direction, at its smaller weight.

    Explicit zero weights (duplicate points) stay edges.
    """
    A = sp.coo_matrix(graph)
    rows = np.concatenate([A.row, A.col]).astype(np.int64)
    cols = np.concatenate([A.col, A.row]).astype(np.int64)
    w = np.concatenate([A.data, A.data]).astype(np.float64)
    n = A.shape[0]
    key = rows * n + cols
    order = np.lexsort((w, key))  # by edge, smallest weight first
    key, w = key[order], w[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w = key[first], w[first]
    return sp.csr_matrix((w, (key // n, key % n)), shape=(n, n))


def _floyd_warshall_torch(graph, device: torch.device) -> torch.Tensor:
    """All-pairs shortest paths by Floyd–Warshall in torch: ``D <- min(D, D[:, m] + D[m, :])``.

    ``n`` rank-one min-plus updates of an (n, n) tensor; worth it on a GPU.
    """
    n = graph.shape[0]
    A = sp.coo_matrix(graph)
    D = torch.full((n, n), float("inf"), dtype=torch.float64, device=device)
    rows = torch.as_tensor(A.row, device=device, dtype=torch.int64)
    cols = torch.as_tensor(A.col, device=device, dtype=torch.int64)
    w = torch.as_tensor(A.data, device=device, dtype=torch.float64)
    # undirected: an edge in either direction, at its smaller weight
    D.index_put_((rows, cols), w)
    D = torch.minimum(D, D.T)
    D.fill_diagonal_(0.0)
    for m in range(n):
        # row and column m do not change in step m (D[m, m] = 0), so in place is safe
        torch.minimum(D, D[:, m : m + 1] + D[m : m + 1, :], out=D)
    return D


def geodesic_distances(graph, *, method: str = "auto", device: torch.device | str = "cpu") -> torch.Tensor:
    """All-pairs shortest-path distances (n, n) on an undirected weighted graph.

    Parameters
    ----------
    graph : sparse matrix (n, n)
        Edge weights (distances); treated as undirected.
    method : {"auto", "FW", "D"}
        "FW": Floyd–Warshall, ``O(n^3)`` (in torch on a GPU, SciPy on the
        CPU); "D": Dijkstra from every node, ``O(n (E + n) log n)``.
        "auto": Floyd–Warshall for n <= 300 on the CPU (n <= 4000 on a GPU),
        Dijkstra beyond.
    device : where the result lives.

    Returns
    -------
    tensor (n, n), float64
    """
    method = resolve_option("path_method", method, dict(zip(PATH_METHODS, PATH_METHODS)))
    device = torch.device(device)
    n = graph.shape[0]
    if method == "auto":
        method = "FW" if n <= (4000 if device.type != "cpu" else 300) else "D"
    if method == "FW" and device.type != "cpu":
        return _floyd_warshall_torch(graph, device)
    if method == "FW":
        D = floyd_warshall(graph, directed=False)
    else:
        D = dijkstra(symmetrize(graph), directed=True)  # one symmetric graph instead of G and G^T per source
    return torch.from_numpy(D).to(device)


def select_landmarks(graph, n_landmarks: int, *, method: str = "maxmin", random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Pick landmark points and their geodesic distances to every point, in ``O(n L)`` memory.

    Parameters
    ----------
    graph : sparse matrix (n, n), connected
    n_landmarks : int
    method : {"maxmin", "random"}
        "random": a uniform sample, then Dijkstra from all of them at once.
        "maxmin": greedy farthest-point selection (de Silva & Tenenbaum):
        start from a random point, then repeatedly add the point whose
        geodesic distance to the nearest landmark is largest; each new
        landmark's Dijkstra row is needed anyway, so it costs no extra search.
    random_state : int, numpy Generator or None

    Returns
    -------
    landmarks : ndarray (L,) int64
    distances : ndarray (L, n) float64, geodesic distance from each landmark to each point
    """
    method = resolve_option("landmark_method", method, dict(zip(LANDMARK_METHODS, LANDMARK_METHODS)))
    n = graph.shape[0]
    if not isinstance(n_landmarks, numbers.Integral) or not (2 <= n_landmarks <= n):
        raise ValueError(f"n_landmarks={n_landmarks!r} must be an integer between 2 and n_samples={n}.")
    rng = make_numpy_rng(random_state)
    L = int(n_landmarks)
    # symmetric once, so that each Dijkstra call runs on a directed graph without re-transposing it
    sym = symmetrize(graph)
    if method == "random":
        landmarks = np.sort(rng.choice(n, size=L, replace=False)).astype(np.int64)
        return landmarks, dijkstra(sym, directed=True, indices=landmarks)
    landmarks = np.empty(L, dtype=np.int64)
    distances = np.empty((L, n), dtype=np.float64)
    nearest = np.full(n, np.inf)
    current = int(rng.integers(n))
    for i in range(L):
        landmarks[i] = current
        distances[i] = dijkstra(sym, directed=True, indices=current)
        np.minimum(nearest, distances[i], out=nearest)
        current = int(np.argmax(nearest))
    return landmarks, distances


def min_plus_through(edge_dist: torch.Tensor, edge_ind: torch.Tensor, D: torch.Tensor, *, columns: bool = False) -> torch.Tensor:
    """Geodesic distances from new points through their training neighbours.

    ``g(x, j) = min_c (e[x, c] + D[ind[x, c], j])``: the shortest path from a
    new point leaves it by an edge to one of its neighbours.

    Parameters
    ----------
    edge_dist : tensor (m, c)   distances to the neighbours (``inf`` pads)
    edge_ind : tensor (m, c)    their training indices
    D : tensor (n, q)           geodesic distances from training points (rows)
        to q targets; with ``columns=True`` D is (q, n) and indexed by column
        (landmark rows).

    Returns
    -------
    tensor (m, q)
    """
    m, c = edge_ind.shape
    q = D.shape[0] if columns else D.shape[1]
    out = torch.empty(m, q, dtype=D.dtype, device=D.device)
    chunk = max(1, 2**24 // max(1, c * q))
    for s in range(0, m, chunk):
        ind = edge_ind[s : s + chunk]
        e = edge_dist[s : s + chunk]
        if columns:
            via = D[:, ind.reshape(-1)].reshape(q, ind.shape[0], c).permute(1, 2, 0)  # (b, c, q)
        else:
            via = D[ind]  # (b, c, q)
        out[s : s + chunk] = (e[:, :, None] + via).amin(dim=1)
    return out

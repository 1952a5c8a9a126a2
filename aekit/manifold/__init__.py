"""Manifold learning: self-organizing maps, curvilinear component analysis, principal curves, ...

Also :func:`residual_variance`, the distance-preservation measure of Isomap's
dimensionality curve (beside MDS; :mod:`aekit.metrics` re-exports it). The
self-organizing map's kernels (grid, best-matching-unit search) and its quality
measures (quantization and topographic error, re-exported by :mod:`aekit.metrics`)
are public here, beside the algorithm.
"""

# First the functions aekit.metrics re-exports from this package: Isomap below imports aekit.metrics.
from aekit.manifold._mds import residual_variance  # isort: skip
from aekit.manifold._som_kernels import (  # isort: skip
    best_matching_units,
    grid_adjacency,
    grid_positions,
    quantization_error,
    squared_distances,
    topographic_error,
)
from aekit.manifold._cca import CurvilinearComponentAnalysis
from aekit.manifold._isomap import Isomap
from aekit.manifold._kernel_pca import KernelPCA
from aekit.manifold._lle import LocallyLinearEmbedding
from aekit.manifold._principal_curve import PrincipalCurve
from aekit.manifold._som import SOM

__all__ = [
    "SOM",
    "CurvilinearComponentAnalysis",
    "PrincipalCurve",
    "Isomap",
    "LocallyLinearEmbedding",
    "KernelPCA",
    "residual_variance",
    "grid_positions",
    "grid_adjacency",
    "squared_distances",
    "best_matching_units",
    "quantization_error",
    "topographic_error",
]

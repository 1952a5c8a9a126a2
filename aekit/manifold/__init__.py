"""Manifold learning: self-organizing maps, curvilinear component analysis, principal curves, ...

The self-organizing map's kernels (grid, best-matching-unit search) and its
quality measures (quantization and topographic error, re-exported by
:mod:`aekit.metrics`) are public here, beside the algorithm.
"""

# The kernels first: aekit.metrics reads them from this package, and Isomap below imports aekit.metrics.
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
    "grid_positions",
    "grid_adjacency",
    "squared_distances",
    "best_matching_units",
    "quantization_error",
    "topographic_error",
]

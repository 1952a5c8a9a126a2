"""Manifold learning: self-organizing maps, curvilinear component analysis, principal curves, ..."""

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
]

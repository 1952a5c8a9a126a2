"""Manifold learning: self-organizing maps, curvilinear component analysis, principal curves, ...

Also :func:`residual_variance`, the distance-preservation measure of Isomap's
dimensionality curve (beside MDS; :mod:`aekit.metrics` re-exports it).
"""

# First: aekit.metrics re-exports residual_variance, and until the SOM kernels move into this
# package, importing them (from _cca and _som below) loads aekit.metrics part-way through this file.
from aekit.manifold._mds import residual_variance
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
]

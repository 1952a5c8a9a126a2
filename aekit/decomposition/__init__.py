"""Linear decompositions: PCA, FastICA and slow feature analysis, computed with torch."""

from aekit.decomposition._fastica import FastICA
from aekit.decomposition._pca import PCA
from aekit.decomposition._sfa import SFA

__all__ = ["PCA", "FastICA", "SFA"]

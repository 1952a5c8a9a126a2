"""Linear decompositions: PCA, FastICA and slow feature analysis, computed with torch."""

from aekit.decomposition._fastica import FastICA, match_sources
from aekit.decomposition._pca import PCA, truncated_reconstruction
from aekit.decomposition._sfa import SFA

__all__ = ["PCA", "FastICA", "SFA", "match_sources", "truncated_reconstruction"]

"""Linear decompositions: PCA, FastICA and slow feature analysis, computed with torch."""

from aekit.decomposition._pca import PCA

__all__ = ["PCA"]

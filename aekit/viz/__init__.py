"""Figures. The only part of aekit that imports matplotlib; everything else returns arrays."""

from aekit.viz._core import image_grid, plot_curves, plot_embedding, save_figure

__all__ = ["save_figure", "image_grid", "plot_embedding", "plot_curves"]

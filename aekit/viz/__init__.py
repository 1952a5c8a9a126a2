"""Figures. The only part of aekit that imports matplotlib; everything else returns arrays."""

from aekit.viz._core import image_grid, plot_curves, plot_embedding, save_figure
from aekit.viz._autoencoders import (
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
)
from aekit.viz._report import write_report
from aekit.viz._latents import render_latent_report, write_latent_report
from aekit.viz._decomposition import (
    plot_eigenimages,
    plot_ica_sources,
    plot_pca_reconstructions,
    plot_scree,
    plot_slow_features,
)

__all__ = ["save_figure", "image_grid", "plot_embedding", "plot_curves"]
__all__ += [
    "plot_filters",
    "plot_reconstructions",
    "plot_history",
    "plot_activation_histogram",
    "plot_activation_maximization",
    "write_report",
    "write_latent_report",
    "render_latent_report",
]
__all__ += ["plot_scree", "plot_eigenimages", "plot_pca_reconstructions", "plot_ica_sources", "plot_slow_features"]
from aekit.viz._som import (  # noqa: E402
    plot_codebook,
    plot_component_planes,
    plot_hit_map,
    plot_principal_curve,
    plot_som_map,
    plot_u_matrix,
)

__all__ += ["plot_som_map", "plot_u_matrix", "plot_hit_map", "plot_codebook", "plot_component_planes", "plot_principal_curve"]

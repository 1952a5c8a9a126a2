"""Evaluation of representations: functions on arrays that return numbers.

- Reconstruction: :func:`reconstruction_error` (MSE, cross-entropy), :func:`psnr`,
  :func:`denoising_error`.
- Label information in codes: :func:`linear_probe_accuracy`, :func:`knn_accuracy`.
- Codes themselves: :func:`sparsity_stats`, :func:`mean_contraction` (``||J||_F``).
- Embeddings: :func:`trustworthiness`, :func:`continuity`, :func:`procrustes_disparity`,
  :func:`residual_variance` (defined in :mod:`aekit.manifold`).
- Self-organizing maps: :func:`quantization_error`, :func:`topographic_error`
  (from :mod:`aekit.manifold`, beside the map's kernels).
- Filters: :func:`fit_gabor` / :func:`gabor_r2` (R² of a 2-D Gabor fit per filter).
- Sparse autoencoders: :func:`l0`, :func:`mse`, :func:`fraction_of_variance_unexplained`,
  :func:`explained_variance`, :func:`reconstruction_cosine`, :func:`firing_frequency`,
  :func:`dead_latents`, :func:`dense_latents`, :func:`feature_density_histogram`,
  :func:`ce_loss_recovered`.
- All that apply to a fitted model on a dataset: :func:`evaluate` (``aekit eval``), which
  reads what a model offers through two small interfaces, :class:`Reconstructor` and
  :class:`TorchEncoder`.
"""

from aekit.manifold import quantization_error, topographic_error  # the SOM's measures live beside it
from aekit.metrics._classification import knn_accuracy, linear_probe_accuracy
from aekit.metrics._contraction import jacobian_norms, mean_contraction
from aekit.metrics._embedding import continuity, procrustes_disparity, trustworthiness, trustworthiness_continuity
from aekit.metrics._evaluate import Reconstructor, TorchEncoder, evaluate
from aekit.metrics._gabor import fit_gabor, gabor_function, gabor_r2
from aekit.metrics._reconstruction import denoising_error, psnr, reconstruction_error
from aekit.metrics._sparsity import kurtosis, sparsity_stats, treves_rolls_sparseness
from aekit.metrics._sae import (
    ce_loss_recovered,
    dead_latents,
    dense_latents,
    explained_variance,
    feature_density_histogram,
    firing_frequency,
    fraction_of_variance_unexplained,
    l0,
    mse,
    reconstruction_cosine,
)
from aekit.manifold import residual_variance  # beside MDS in aekit.manifold; re-exported (last: see there)

__all__ = [
    "reconstruction_error",
    "psnr",
    "denoising_error",
    "linear_probe_accuracy",
    "knn_accuracy",
    "sparsity_stats",
    "treves_rolls_sparseness",
    "kurtosis",
    "mean_contraction",
    "jacobian_norms",
    "quantization_error",
    "topographic_error",
    "trustworthiness",
    "continuity",
    "trustworthiness_continuity",
    "residual_variance",
    "procrustes_disparity",
    "fit_gabor",
    "gabor_r2",
    "gabor_function",
    "evaluate",
    "Reconstructor",
    "TorchEncoder",
    "l0",
    "mse",
    "fraction_of_variance_unexplained",
    "explained_variance",
    "reconstruction_cosine",
    "firing_frequency",
    "dead_latents",
    "dense_latents",
    "feature_density_histogram",
    "ce_loss_recovered",
]

"""Every metric that applies to a fitted model on a dataset, in one dict (what ``aekit eval`` writes).

What is measured, and on which rows (``X`` is the dataset, ``n`` its rows):

- reconstruction (models that reconstruct: a :class:`Reconstructor` through
  its ``reconstruct``, other transformers through ``inverse_transform(transform(X))``),
  on all rows: ``reconstruction_mse`` (mean over entries), and for data and
  reconstructions in [0, 1] ``reconstruction_cross_entropy`` (summed over
  features, mean over samples: the papers' per-example loss); ``psnr`` with
  the data's range (1 for data in [0, 1]);
- ``denoising_mse``, for models trained with a corruption (a :class:`TorchEncoder`
  whose ``input_corruption()`` is a corruption spec): the same
  corruption (seeded) applied to ``X``, the reconstruction of the corrupted
  rows against the clean ones;
- ``classifier_accuracy`` for classifiers with integer or string labels;
- from the codes ``Z = transform(X)``: ``linear_probe_accuracy`` and
  ``knn_accuracy`` (k = 5) when the labels are classes, trained on a
  stratified random ``1 − test_size`` of at most ``max_probe_samples`` rows
  and tested on the rest (``random_state`` fixes the split); sparsity
  statistics of the codes (mean activation, mean lifetime and population
  sparsity, dead and active fractions, kurtosis);
- ``mean_contraction`` ``(1/n) Σ ‖J_f(x)‖_F`` of torch encoders (a :class:`TorchEncoder`)
  on the first ``n_contraction`` rows;
- ``trustworthiness`` and ``continuity`` (k = ``n_neighbors``) when the codes
  have at most 3 dimensions, on the first ``n_neighbourhood`` rows.

What a model offers is read from two small interfaces, :class:`Reconstructor`
and :class:`TorchEncoder`, which the autoencoder family implements; any model
with those methods is measured the same way.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from aekit.metrics._classification import knn_accuracy, linear_probe_accuracy
from aekit.metrics._contraction import mean_contraction
from aekit.metrics._reconstruction import denoising_error, psnr, reconstruction_error
from aekit.metrics._sparsity import sparsity_stats

__all__ = ["evaluate", "Reconstructor", "TorchEncoder"]

_LOW_DIMENSIONAL = 3


@runtime_checkable
class Reconstructor(Protocol):
    """A fitted model that reconstructs its input itself.

    ``reconstruct(X)`` takes ``X`` (n_samples, n_features) and returns the model's
    reconstruction, same shape: what it was trained to output, which can differ
    from ``inverse_transform(transform(X))`` (a k-sparse autoencoder keeps ``k``
    units there and ``ceil(k_alpha·k)`` in ``transform``). The autoencoders and
    stacked autoencoders of :mod:`aekit.autoencoders` implement it.
    """

    def reconstruct(self, X) -> np.ndarray: ...


@runtime_checkable
class TorchEncoder(Protocol):
    """A fitted model whose codes are a torch function of its input.

    - ``torch_encoder()``: a callable ``x (n, n_features) tensor -> codes (n, n_components)``,
      the codes ``transform`` returns (differentiable: the contraction is its Jacobian);
    - ``input_corruption()``: the corruption its inputs got while it trained (a spec
      for :func:`aekit.autoencoders.make_corruption`, such as ``"masking:0.25"``), or None.

    Every estimator of the autoencoder family implements it (:class:`aekit.autoencoders.EncoderEstimator`).
    """

    def torch_encoder(self): ...

    def input_corruption(self): ...


def _is_classifier(model) -> bool:
    from sklearn.base import is_classifier

    return is_classifier(model)


def _reconstructor(model):
    """``X -> X_hat`` for models that reconstruct their input, else None."""
    if isinstance(model, Reconstructor):
        return model.reconstruct
    if not _is_classifier(model) and hasattr(model, "inverse_transform") and hasattr(model, "transform"):
        return lambda X: model.inverse_transform(model.transform(X))
    return None


def _corruption(model):
    """The corruption spec a :class:`TorchEncoder` was trained with, else None."""
    spec = model.input_corruption() if isinstance(model, TorchEncoder) else None
    return spec if isinstance(spec, str) else None


def _encoder(model):
    """A torch callable ``x -> codes`` of a :class:`TorchEncoder` (what ``transform`` uses), else None."""
    return model.torch_encoder() if isinstance(model, TorchEncoder) else None


def _class_labels(y) -> bool:
    from sklearn.utils.multiclass import type_of_target

    return y is not None and type_of_target(y) in ("binary", "multiclass")


def evaluate(
    model,
    X,
    y=None,
    *,
    test_size=0.25,
    max_probe_samples=10_000,
    n_neighbors=12,
    n_contraction=500,
    n_neighbourhood=2_000,
    random_state=0,
) -> dict:
    """Evaluate a fitted model on ``X`` (n_samples, n_features) with optional labels ``y``.

    Parameters
    ----------
    model : fitted estimator
        An aekit transformer (autoencoder, stack, PCA, ...) or classifier.
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or None
        Class labels (probes, classifier accuracy); continuous targets are ignored.
    test_size : float in (0, 1)
        Share of the probe rows held out to test the probes.
    max_probe_samples : int
        Rows (a random subset) used by the probes, which scale badly with n.
    n_neighbors : int
        k of trustworthiness and continuity.
    n_contraction, n_neighbourhood : int
        Rows used by the contraction and by trustworthiness/continuity.
    random_state : int
        Seeds the probe split and the corruption.

    Returns
    -------
    dict of str -> float or int
        The metrics that apply (see the module docstring), plus ``n_samples``
        and ``n_components`` (code size).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty (n_samples, n_features) array, got shape {X.shape}.")
    out: dict = {"n_samples": int(X.shape[0])}
    in_unit = bool(X.min() >= 0.0 and X.max() <= 1.0)

    reconstruct = _reconstructor(model)
    if reconstruct is not None:
        X_hat = reconstruct(X)
        out["reconstruction_mse"] = reconstruction_error(X, X_hat, "mse")
        if in_unit and X_hat.min() >= 0.0 and X_hat.max() <= 1.0:
            out["reconstruction_cross_entropy"] = reconstruction_error(X, X_hat, "cross_entropy", reduction="sum")
        data_range = 1.0 if in_unit else float(X.max() - X.min()) or 1.0
        out["psnr"] = psnr(X, X_hat, data_range=data_range)
        spec = _corruption(model)
        if spec is not None:
            from aekit.autoencoders import make_corruption

            noisy, _ = make_corruption(spec)(torch.from_numpy(X), torch.Generator().manual_seed(int(random_state)))
            out["denoising_mse"] = denoising_error(X, reconstruct(noisy.numpy()))

    labelled = _class_labels(y)
    if labelled and _is_classifier(model):
        out["classifier_accuracy"] = float(model.score(X, y))

    if not hasattr(model, "transform"):
        return out
    Z = np.asarray(model.transform(X), dtype=np.float64)
    out["n_components"] = int(Z.shape[1])
    if labelled:
        out.update(_probes(Z, np.asarray(y), test_size, max_probe_samples, random_state))
    stats = sparsity_stats(Z)
    out.update(
        mean_activation=float(stats["mean_activation"].mean()),
        mean_lifetime_sparsity=stats["mean_lifetime_sparsity"],
        mean_population_sparsity=stats["mean_population_sparsity"],
        dead_fraction=stats["dead_fraction"],
        active_fraction=stats["active_fraction"],
        kurtosis=stats["kurtosis"],
    )
    encoder = _encoder(model)
    if encoder is not None:
        out["mean_contraction"] = mean_contraction(encoder, X[:n_contraction])
    if Z.shape[1] <= _LOW_DIMENSIONAL:
        from aekit.metrics._embedding import trustworthiness_continuity

        m = min(n_neighbourhood, X.shape[0])
        k = min(n_neighbors, max(1, (m - 1) // 2 - 1))
        out["trustworthiness"], out["continuity"] = trustworthiness_continuity(X[:m], Z[:m], k)
        out["neighbourhood_k"] = int(k)
    return out


def _probes(Z, y, test_size, max_samples, random_state) -> dict:
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(random_state)
    rows = np.arange(Z.shape[0]) if Z.shape[0] <= max_samples else np.sort(rng.choice(Z.shape[0], max_samples, replace=False))
    _, counts = np.unique(y[rows], return_counts=True)
    stratify = y[rows] if counts.min() >= 2 else None
    try:
        tr, te = train_test_split(rows, test_size=test_size, random_state=random_state, stratify=stratify)
    except ValueError:  # too few rows of some class for a stratified split
        tr, te = train_test_split(rows, test_size=test_size, random_state=random_state)
    out = {"probe_train_samples": int(tr.size), "probe_test_samples": int(te.size)}
    if np.unique(y[tr]).size >= 2:
        out["linear_probe_accuracy"] = linear_probe_accuracy(Z[tr], y[tr], Z[te], y[te])
    out["knn_accuracy"] = knn_accuracy(Z[tr], y[tr], Z[te], y[te], k=min(5, tr.size))
    return out

"""``aekit fit som|cca|pcurve --dataset NAME [...] --out RUN_DIR``: fit a map, an embedding or a curve.

- ``som``: quantization and topographic errors, label purity of the units when
  the dataset has labels; figures: U-matrix, hit map, codebook (image data) or
  component planes, the samples at their best-matching units coloured by label,
  and the quantization error per training step.
- ``cca``: trustworthiness and continuity (k = 10) and stress; the embedding coloured by label
  or by the position along the manifold.
- ``pcurve``: mean squared distance to the curve against the first principal
  component's; the data with the curve, coloured by the position along it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import typer

from aekit.cli._fit_common import DEVICE, SEED, fit_command

__all__ = ["som_summary", "cca_summary", "pcurve_summary", "unit_label_purity"]

# Trustworthiness is measured on at most this many samples (its cost grows as n^2).
_MAX_TRUST_SAMPLES = 10000


def unit_label_purity(bmu: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose label is the most frequent label of their best-matching unit."""
    bmu, labels = np.asarray(bmu), np.asarray(labels)
    hits = 0
    for unit in np.unique(bmu):
        _, counts = np.unique(labels[bmu == unit], return_counts=True)
        hits += counts.max()
    return hits / len(bmu)


def _labels(data, n: int):
    """Integer labels (colour by class) or a continuous position along the manifold, or None."""
    return None if data.y is None else np.asarray(data.y)[:n]


def _is_classes(y) -> bool:
    return y is not None and np.issubdtype(np.asarray(y).dtype, np.integer)


def som_summary(som, X, data, *, seed: int = 0) -> tuple[dict, dict]:
    """Metrics and figures of a fitted SOM on ``X``."""
    from aekit import viz

    y = _labels(data, X.shape[0])
    bmu = som.predict(X)
    metrics = {
        "quantization_error": som.quantization_error(X),
        "topographic_error": som.topographic_error(X),
        "n_iter": int(som.n_iter_),
        "n_units": int(len(som.positions_)),
        "units_used": int(len(np.unique(bmu))),
    }
    if _is_classes(y):
        metrics["unit_label_purity"] = unit_label_purity(bmu, y)
    figures = {
        "u_matrix": viz.plot_u_matrix(som.u_matrix(), som.positions_),
        "hit_map": viz.plot_hit_map(som.hit_map(X), som.positions_),
    }
    if data.image_shape is not None:
        figures["codebook"] = viz.plot_codebook(som.codebook_, som.grid_shape, data.image_shape)
    else:
        figures["component_planes"] = viz.plot_component_planes(som.codebook_, som.positions_, n=min(9, X.shape[1]))
    jitter = np.random.default_rng(seed).uniform(-0.35, 0.35, size=(len(bmu), 2))
    positions = som.positions_[bmu][:, ::-1] * np.array([1.0, -1.0]) + jitter  # (column, -row): row 0 on top
    figures["embedding"] = viz.plot_embedding(
        positions, y, title="samples at their best-matching unit", cmap="tab10" if _is_classes(y) else "viridis"
    )
    qe = [h["quantization_error"] for h in som.history_ if "quantization_error" in h]
    if qe:
        figures["history"] = viz.plot_curves({"quantization error": qe}, xlabel="step", ylabel="mean distance to BMU")
    return metrics, figures


def _neighbourhood_scores(X, Y, k: int = 10) -> tuple[float, float]:
    """Trustworthiness and continuity at ``k`` (on a random subset of at most 10000 samples)."""
    from aekit.metrics import trustworthiness_continuity

    if X.shape[0] > _MAX_TRUST_SAMPLES:
        rows = np.random.default_rng(0).choice(X.shape[0], _MAX_TRUST_SAMPLES, replace=False)
        X, Y = X[rows], Y[rows]
    return trustworthiness_continuity(X, Y, k)


def cca_summary(cca, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted CCA."""
    from aekit import viz

    Y = cca.embedding_
    y = _labels(data, X.shape[0])
    trust, cont = _neighbourhood_scores(X, Y)
    metrics = {
        "trustworthiness_k10": trust,
        "continuity_k10": cont,
        "stress": float(cca.stress_),
        "n_prototypes": int(cca.prototypes_.shape[0]),
        "radius_final": float(cca.radius_final_),
    }
    figures = {}
    if Y.shape[1] >= 2:
        figures["embedding"] = viz.plot_embedding(
            Y, y, title="CCA embedding", cmap="tab10" if _is_classes(y) else "viridis"
        )
    return metrics, figures


def pcurve_summary(pc, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted principal curve."""
    from aekit import viz

    lam = pc.transform(X)[:, 0]
    metrics = {
        "mean_squared_distance": float(pc.mean_squared_distance_),
        "pca_mean_squared_distance": float(pc.pca_mean_squared_distance_),
        "distance_ratio_to_pca": float(pc.mean_squared_distance_ / max(pc.pca_mean_squared_distance_, 1e-300)),
        "curve_length": float(pc.arc_length_[-1]),
        "n_iter": int(pc.n_iter_),
    }
    y = _labels(data, X.shape[0])
    if y is not None and not _is_classes(y):
        metrics["abs_spearman_position_vs_y"] = abs(float(_spearman(lam, y)))
    figures = {
        "history": viz.plot_curves(
            {"mean squared distance": [h["mean_squared_distance"] for h in pc.history_]},
            x=[h["iteration"] for h in pc.history_], xlabel="iteration (0: first principal component)",
            ylabel="mean squared distance", logy=True,
        )
    }
    if X.shape[1] >= 2:
        figures["curve"] = viz.plot_principal_curve(X, pc.curve_, color=lam)
    return metrics, figures


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return spearmanr(a, b)[0]


# ---------------------------------------------------------------- commands
@fit_command("som")
def fit_som(
    rows: int = typer.Option(10, "--rows", help="Map rows."),
    cols: int = typer.Option(10, "--cols", help="Map columns."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Initial neighbourhood width (default max(rows, cols) / 2)."),
    sigma_final: Optional[float] = typer.Option(None, "--sigma-final", help="Final width (default min(1, sigma / 3))."),
    learning_rate: float = typer.Option(0.5, "--learning-rate", help="Initial learning rate (online training)."),
    neighborhood: str = typer.Option("gaussian", "--neighborhood", help="gaussian | bubble | mexican_hat"),
    topology: str = typer.Option("rectangular", "--topology", help="rectangular | hexagonal"),
    algorithm: str = typer.Option("batch", "--algorithm", help="batch | minibatch | online"),
    max_iter: int = typer.Option(10, "--max-iter", help="Epochs (batch, online) or mini-batch steps."),
    init: str = typer.Option("pca", "--init", help="pca | random"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Stream the data in chunks of this many rows."),
    precision: str = typer.Option("float32", "--precision", help="float32 | bfloat16 (BMU search)"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Self-organizing map: U-matrix, hit map, codebook, quantization and topographic errors."""
    from aekit.manifold import SOM

    som = SOM(
        (rows, cols), sigma=sigma, sigma_final=sigma_final, learning_rate=learning_rate, neighborhood=neighborhood,
        topology=topology, algorithm=algorithm, max_iter=max_iter, init=init, batch_size=batch_size,
        precision=precision, random_state=seed, device=device,
    )
    return som, lambda est, X, data: som_summary(est, X, data, seed=seed)


@fit_command("cca", dataset="swiss-roll")
def fit_cca(
    n_components: int = typer.Option(2, "--n-components", "-k", help="Embedding dimension."),
    neighborhood: str = typer.Option("exponential", "--neighborhood", help="exponential | step"),
    metric: str = typer.Option("euclidean", "--metric", help="euclidean (CCA) | geodesic (curvilinear distance analysis)"),
    graph_neighbors: int = typer.Option(10, "--graph-neighbors", help="Neighbours per prototype in the geodesic graph."),
    max_iter: int = typer.Option(30, "--max-iter", help="Epochs (every prototype a pivot once per epoch)."),
    learning_rate: float = typer.Option(0.5, "--learning-rate", help="Initial alpha."),
    n_prototypes: int = typer.Option(2000, "--n-prototypes", help="Run on this many prototypes when there are more samples."),
    quantizer: str = typer.Option("kmeans", "--quantizer", help="kmeans | random"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Curvilinear component analysis: the embedding and its trustworthiness."""
    from aekit.manifold import CurvilinearComponentAnalysis

    cca = CurvilinearComponentAnalysis(
        n_components, neighborhood=neighborhood, metric=metric, graph_neighbors=graph_neighbors, max_iter=max_iter,
        learning_rate=learning_rate,
        n_prototypes=n_prototypes, quantizer=quantizer, random_state=seed, device=device,
    )
    return cca, cca_summary


@fit_command("pcurve", dataset="s-curve")
def fit_pcurve(
    span: float = typer.Option(0.3, "--span", help="Fraction of samples in each local linear fit."),
    n_nodes: int = typer.Option(100, "--n-nodes", help="Vertices of the polyline."),
    max_iter: int = typer.Option(50, "--max-iter"),
    tol: float = typer.Option(1e-4, "--tol", help="Relative change of the mean squared distance to stop."),
    device: str = DEVICE,
):
    """Principal curve (Hastie & Stuetzle): the curve, and its distance to the data against the first PC's."""
    from aekit.manifold import PrincipalCurve

    pc = PrincipalCurve(span=span, n_nodes=n_nodes, max_iter=max_iter, tol=tol, device=device)
    return pc, pcurve_summary

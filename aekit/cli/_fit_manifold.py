"""``aekit fit isomap|lle|kpca --dataset NAME [...] --out RUN_DIR``: fit a spectral embedding.

Every command measures trustworthiness and continuity (k = 10) of the
embedding and draws it, coloured by label (classes) or by the position along
the manifold (synthetic data); then:

- ``isomap``: residual variance ``1 - R^2`` of geodesic against embedding
  distances, and the residual-variance curve over dimensions 1..10;
- ``lle``: the reconstruction cost of the embedding;
- ``kpca``: the eigenvalues and, with ``--fit-inverse-transform``, the
  pre-image reconstruction error.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import typer

from aekit.cli._fit_common import DEVICE, SEED, fit_command

__all__ = ["embedding_scores", "isomap_summary", "lle_summary", "kpca_summary"]

# Trustworthiness is measured on at most this many random samples: in high dimension
# its neighbour search costs O(n^2 d).
MAX_TRUST_SAMPLES = 10000


def embedding_scores(X, Y, *, k: int = 10, seed: int = 0) -> dict:
    """Trustworthiness and continuity at ``k``; on a random subset when there are many samples."""
    from aekit.metrics import trustworthiness_continuity

    n = X.shape[0]
    if 2 * k >= n:
        return {}
    rows = np.arange(n)
    if n > MAX_TRUST_SAMPLES:
        rows = np.sort(np.random.default_rng(seed).choice(n, MAX_TRUST_SAMPLES, replace=False))
    trust, cont = trustworthiness_continuity(np.asarray(X)[rows], np.asarray(Y)[rows], k)
    return {f"trustworthiness_k{k}": trust, f"continuity_k{k}": cont, "trustworthiness_samples": int(rows.size)}


def _embedding_figure(Y, data, title: str) -> dict:
    from aekit import viz

    if Y.shape[1] < 2:
        return {}
    y = None if data.y is None else np.asarray(data.y)[: Y.shape[0]]
    classes = y is not None and np.issubdtype(y.dtype, np.integer)
    return {"embedding": viz.plot_embedding(Y, y, title=title, cmap="tab10" if classes else "viridis")}


def isomap_summary(iso, X, data) -> tuple[dict, dict]:
    """Metrics (trustworthiness, continuity, residual variance) and figures of a fitted Isomap."""
    from aekit import viz
    from aekit.metrics import residual_variance

    Y = iso.embedding_
    metrics = embedding_scores(X, Y)
    landmark = hasattr(iso, "landmark_distances_")
    if landmark:
        metrics["residual_variance"] = residual_variance(iso.landmark_distances_, Y, rows=iso.landmarks_)
        metrics["n_landmarks"] = int(len(iso.landmarks_))
    else:
        metrics["residual_variance"] = residual_variance(iso.dist_matrix_, Y)
    metrics["eigenvalues"] = [float(v) for v in iso.eigenvalues_]
    n_ref = len(iso.landmarks_) if landmark else X.shape[0]
    curve = iso.residual_variance_curve(min(10, n_ref))
    metrics["residual_variance_curve"] = [float(v) for v in curve]
    figures = _embedding_figure(Y, data, "Isomap" + (" (landmarks)" if landmark else ""))
    figures["residual_variance"] = viz.plot_curves(
        {"residual variance": curve}, xlabel="dimensionality", ylabel="1 - R^2 (geodesic vs embedding distances)",
        title="Isomap residual variance",
    )
    return metrics, figures


def lle_summary(lle, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted locally linear embedding."""
    metrics = embedding_scores(X, lle.embedding_)
    metrics["reconstruction_error"] = float(lle.reconstruction_error_)
    return metrics, _embedding_figure(lle.embedding_, data, f"LLE ({lle.method})")


def kpca_summary(kpca, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted kernel PCA."""
    Y = kpca.embedding_
    metrics = embedding_scores(X, Y)
    metrics["eigenvalues"] = [float(v) for v in kpca.eigenvalues_]
    if hasattr(kpca, "dual_coef_"):
        X_hat = kpca.inverse_transform(Y)
        metrics["pre_image_mse"] = float(np.mean((np.asarray(X, dtype=np.float64) - X_hat) ** 2))
    return metrics, _embedding_figure(Y, data, f"kernel PCA ({kpca.kernel})")


def _check_landmarks(n_landmarks: Optional[int]) -> None:
    if n_landmarks is not None and n_landmarks < 2:
        raise typer.BadParameter(f"--n-landmarks must be >= 2, got {n_landmarks}.")


@fit_command("isomap", dataset="swiss-roll")
def fit_isomap(
    n_components: int = typer.Option(2, "--n-components", "-k", help="Embedding dimension."),
    n_neighbors: Optional[int] = typer.Option(10, "--n-neighbors", help="Neighbours per point in the k-NN graph."),
    radius: Optional[float] = typer.Option(None, "--radius", help="Use an epsilon-ball graph instead of k-NN."),
    n_landmarks: Optional[int] = typer.Option(None, "--n-landmarks", help="Landmark Isomap with this many landmarks."),
    landmark_method: str = typer.Option("maxmin", "--landmark-method", help="maxmin | random"),
    path_method: str = typer.Option("auto", "--path-method", help="auto | FW (Floyd-Warshall) | D (Dijkstra)"),
    eigen_solver: str = typer.Option("auto", "--eigen-solver", help="auto | dense | arpack | randomized"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Isomap (exact or landmark): the embedding, trustworthiness and the residual-variance curve."""
    from aekit.manifold import Isomap

    _check_landmarks(n_landmarks)
    iso = Isomap(
        n_neighbors=None if radius is not None else n_neighbors, radius=radius, n_components=n_components,
        n_landmarks=n_landmarks, landmark_method=landmark_method, path_method=path_method,
        eigen_solver=eigen_solver, random_state=seed, device=device,
    )
    return iso, isomap_summary


@fit_command("lle", dataset="swiss-roll")
def fit_lle(
    n_components: int = typer.Option(2, "--n-components", "-k", help="Embedding dimension."),
    n_neighbors: int = typer.Option(12, "--n-neighbors", help="Neighbours that rebuild each point."),
    reg: float = typer.Option(1e-3, "--reg", help="Regularization relative to the local Gram trace."),
    method: str = typer.Option("standard", "--method", help="standard | modified"),
    eigen_solver: str = typer.Option("auto", "--eigen-solver", help="auto | arpack | dense"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Locally linear embedding: the embedding, its trustworthiness and reconstruction cost."""
    from aekit.manifold import LocallyLinearEmbedding

    lle = LocallyLinearEmbedding(
        n_neighbors=n_neighbors, n_components=n_components, reg=reg, method=method, eigen_solver=eigen_solver,
        random_state=seed, device=device,
    )
    return lle, lle_summary


@fit_command("kpca", dataset="swiss-roll")
def fit_kpca(
    n_components: int = typer.Option(2, "--n-components", "-k", help="Number of kernel principal components."),
    kernel: str = typer.Option("rbf", "--kernel", help="rbf | poly | sigmoid | cosine | linear"),
    gamma: Optional[float] = typer.Option(None, "--gamma", help="Kernel width (default 1 / n_features)."),
    degree: float = typer.Option(3, "--degree", help="Polynomial degree."),
    coef0: float = typer.Option(1.0, "--coef0", help="Offset of poly and sigmoid kernels."),
    n_landmarks: Optional[int] = typer.Option(None, "--n-landmarks", help="Nystrom approximation with this many landmarks."),
    fit_inverse_transform: bool = typer.Option(
        True, "--fit-inverse-transform/--no-fit-inverse-transform", help="Learn the pre-image map."
    ),
    alpha: float = typer.Option(1.0, "--alpha", help="Ridge of the pre-image regression."),
    eigen_solver: str = typer.Option("auto", "--eigen-solver", help="auto | dense | arpack | randomized"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Kernel PCA (exact or Nystrom): the embedding, eigenvalues, trustworthiness and pre-image error."""
    from aekit.manifold import KernelPCA

    _check_landmarks(n_landmarks)
    kpca = KernelPCA(
        n_components, kernel=kernel, gamma=gamma, degree=degree, coef0=coef0, n_landmarks=n_landmarks,
        fit_inverse_transform=fit_inverse_transform, alpha=alpha, eigen_solver=eigen_solver, random_state=seed,
        device=device,
    )
    return kpca, kpca_summary

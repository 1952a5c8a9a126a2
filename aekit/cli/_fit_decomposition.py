"""``aekit fit pca|ica|sfa --dataset NAME [...] --out RUN_DIR``: fit a linear method, write a run folder.

Each command loads the dataset, fits the estimator, measures what the data
allow (explained variance and reconstruction error; source recovery when the
dataset knows its sources; slowness and driving-force recovery for SFA),
draws the figures and writes the run folder (model as safetensors + JSON,
metrics.json, figures/*.png, report.html), then prints where it is.

What every ``aekit fit`` command shares lives in :mod:`aekit.cli._fit_common`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import typer

from aekit.cli._fit_common import DEVICE, SEED, fit_command
from aekit.cli._run import fail

__all__ = ["parse_n_components", "pca_summary", "ica_summary", "sfa_summary"]

_COMPONENTS_HELP = "Number of components (int), or for PCA the fraction of variance to keep (e.g. 0.95)."


def parse_n_components(text: Optional[str], *, allow_fraction: bool):
    """``"50"`` -> 50, ``"0.95"`` -> 0.95 (PCA only), None -> None; anything else is an error."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--n-components {text!r} is not a number.") from None
    if not allow_fraction:
        raise ValueError(f"--n-components {text!r}: give a whole number of components.")
    if not 0.0 < value < 1.0:
        raise ValueError(f"--n-components {text!r}: a fraction of variance must lie strictly between 0 and 1.")
    return value


# ---------------------------------------------------------------- summaries (metrics + figures)
def reconstruction_counts(n_components: int) -> list[int]:
    """A few component counts for reconstruction figures: 1, 2, 5, 10, 20, 50, ... up to the fitted count."""
    counts = [k for k in (1, 2, 5, 10, 20, 50, 100, 200) if k < n_components]
    return (counts[-4:] if len(counts) > 4 else counts) + [n_components]


def pca_summary(pca, X, image_shape, *, n_images: int = 10) -> tuple[dict, dict]:
    """Metrics and figures of a fitted PCA on ``X``."""
    from aekit import viz
    from aekit.decomposition import truncated_reconstruction
    from aekit.metrics import reconstruction_error

    X_hat = pca.inverse_transform(pca.transform(X))
    ratio = pca.explained_variance_ratio_
    metrics = {
        "n_components": int(pca.n_components_),
        "rank": int(pca.rank_),
        "explained_variance_ratio": ratio.tolist(),
        "explained_variance_ratio_total": float(ratio.sum()),
        "explained_variance": pca.explained_variance_.tolist(),
        "noise_variance": float(pca.noise_variance_),
        "reconstruction_mse": float(reconstruction_error(X, X_hat)),
    }
    figures = {"scree": viz.plot_scree(ratio)}
    if image_shape is not None:
        figures["eigenimages"] = viz.plot_eigenimages(pca.components_, image_shape, mean=pca.mean_)
        shown = X[:n_images]
        recs = {}
        for k in reconstruction_counts(pca.n_components_):
            label = f"{k} comp. ({ratio[:k].sum():.0%} var.)"
            recs[label] = truncated_reconstruction(pca, shown, k)
        figures["reconstructions"] = viz.plot_pca_reconstructions(shown, recs, image_shape, n=n_images)
    return metrics, figures


def ica_summary(ica, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted FastICA; source recovery when the dataset knows its sources."""
    from aekit import viz
    from aekit.decomposition import match_sources
    from aekit.metrics import reconstruction_error

    S_hat = ica.transform(X)
    metrics = {
        "n_components": int(ica.n_components_),
        "n_iter": int(ica.n_iter_),
        "reconstruction_mse": float(reconstruction_error(X, ica.inverse_transform(S_hat))),
    }
    figures = {}
    sources = data.extras.get("sources")
    t = data.extras.get("t")
    if sources is not None:
        sources = np.asarray(sources)[: X.shape[0]]
        order, corr = match_sources(sources, S_hat)
        metrics["source_abs_correlation"] = [None if np.isnan(c) else abs(float(c)) for c in corr]
        metrics["source_abs_correlation_min"] = float(np.nanmin(np.abs(corr)))
        metrics["source_match"] = order.tolist()
        figures["sources"] = viz.plot_ica_sources(
            S_hat, sources=sources, order=order, correlations=corr, t=None if t is None else np.asarray(t)[: X.shape[0]]
        )
    elif data.image_shape is not None:
        figures["components"] = viz.plot_filters(ica.components_, data.image_shape, title="independent components")
    else:
        figures["sources"] = viz.plot_ica_sources(S_hat[:, :8])
    return metrics, figures


def sfa_summary(sfa, X, data) -> tuple[dict, dict]:
    """Metrics and figures of a fitted SFA; driving-force recovery when the dataset knows it."""
    from aekit import viz

    Y = sfa.transform(X)
    span = (sfa.embedding_dim - 1) * sfa.delay  # row i of Y belongs to time step i + span
    metrics = {"n_components": int(sfa.n_components_), "delta_values": sfa.delta_values_.tolist()}
    force = data.extras.get("driving_force")
    t = data.extras.get("t")
    t = None if t is None else np.asarray(t)[span : X.shape[0]]
    if force is not None:
        force = np.asarray(force)[span : X.shape[0]]
        corr = [float(np.corrcoef(Y[:, j], force)[0, 1]) for j in range(Y.shape[1])]
        metrics["driving_force_abs_correlation"] = abs(corr[0])
        metrics["driving_force_abs_correlation_per_output"] = [abs(c) for c in corr]
    figures = {
        "slow_features": viz.plot_slow_features(Y, t=t, driving_force=force, delta_values=sfa.delta_values_),
        "delta_values": viz.plot_curves(
            {"delta": sfa.delta_values_}, xlabel="output (slowest first)", ylabel="Δ = <ẏ²>", logy=True,
            title="slowness of each output",
        ),
    }
    return metrics, figures


# ---------------------------------------------------------------- commands
def _components(text: Optional[str], *, allow_fraction: bool):
    try:
        return parse_n_components(text, allow_fraction=allow_fraction)
    except ValueError as exc:
        fail(str(exc))


@fit_command("pca")
def fit_pca(
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help=_COMPONENTS_HELP),
    whiten: bool = typer.Option(False, "--whiten", help="Scale the projections to unit variance."),
    device: str = DEVICE,
):
    """Principal component analysis: scree plot, eigen-images, reconstructions, explained variance."""
    from aekit.decomposition import PCA

    pca = PCA(_components(n_components, allow_fraction=True), whiten=whiten, device=device)
    return pca, lambda est, X, data: pca_summary(est, X, data.image_shape)


@fit_command("ica", dataset="ica-mixture")
def fit_ica(
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help="Number of sources."),
    algorithm: str = typer.Option("parallel", "--algorithm", help="parallel | deflation"),
    fun: str = typer.Option("logcosh", "--fun", help="Contrast: logcosh | exp | cube"),
    max_iter: int = typer.Option(200, "--max-iter"),
    tol: float = typer.Option(1e-4, "--tol"),
    seed: int = SEED,
    device: str = DEVICE,
):
    """Independent component analysis (FastICA): sources, and their recovery when the truth is known."""
    from aekit.decomposition import FastICA

    ica = FastICA(_components(n_components, allow_fraction=False), algorithm=algorithm, fun=fun,
                  max_iter=max_iter, tol=tol, random_state=seed, device=device)
    return ica, ica_summary


@fit_command("sfa", dataset="sfa-signal")
def fit_sfa(
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help="Number of slow features."),
    degree: int = typer.Option(2, "--degree", help="1: linear SFA, 2: quadratic expansion."),
    embedding_dim: int = typer.Option(3, "--embedding-dim", help="Time frames stacked by the delay embedding."),
    delay: int = typer.Option(1, "--delay", help="Steps between stacked frames."),
    device: str = DEVICE,
):
    """Slow feature analysis: slowest outputs, their Δ values, and the driving force when it is known."""
    from aekit.decomposition import SFA

    sfa = SFA(_components(n_components, allow_fraction=False), degree=degree, embedding_dim=embedding_dim,
              delay=delay, device=device)
    return sfa, sfa_summary

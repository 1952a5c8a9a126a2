"""``aekit fit pca|ica|sfa --dataset NAME [...] --out RUN_DIR``: fit a linear method, write a run folder.

Each command loads the dataset, fits the estimator, measures what the data
allow (explained variance and reconstruction error; source recovery when the
dataset knows its sources; slowness and driving-force recovery for SFA),
draws the figures and writes the run folder (model as safetensors + JSON,
metrics.json, figures/*.png, report.html), then prints where it is.

The helpers here (:func:`steps`, :class:`StepError`, ``_load``, ``_fit``,
``_finish``, :func:`run_fit` and the shared options) serve the other
``aekit fit`` commands too.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from aekit.cli._app import fit_app
from aekit.cli._run import default_run_dir, fail, write_run

__all__ = ["parse_n_components", "pca_summary", "ica_summary", "sfa_summary", "steps", "StepError", "run_fit"]

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


class StepError(Exception):
    """A user-facing failure inside :func:`steps`: reported once the progress bar is gone."""


@contextlib.contextmanager
def steps(names: list[str], *, quiet: bool):
    """A progress bar over the named stages of a command; yields ``advance(name)``.

    A :class:`StepError` raised inside closes the bar, then exits with its
    message (no traceback).
    """
    from tqdm.auto import tqdm

    bar = None if quiet else tqdm(total=len(names), unit="step", leave=False)
    done = -1

    def advance(name: str) -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.update(done - bar.n)
            bar.set_description_str(name)

    try:
        yield advance
    except StepError as exc:
        if bar is not None:
            bar.close()
            bar = None
        fail(str(exc))
    finally:
        if bar is not None:
            bar.update(len(names) - bar.n)
            bar.close()


def _load(dataset: str, data_home: Optional[Path], n_samples: Optional[int]):
    from aekit.datasets import get_dataset

    try:
        data = get_dataset(dataset, **({} if data_home is None else {"data_home": data_home}))
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        raise StepError(str(exc)) from None
    if n_samples is not None and n_samples < 1:
        raise StepError(f"--n-samples must be >= 1, got {n_samples}.")
    X = data.X if n_samples is None else data.X[:n_samples]
    return data, X


def _fit(estimator, X):
    t0 = time.perf_counter()
    try:
        estimator.fit(X)
    except (ValueError, TypeError) as exc:
        raise StepError(str(exc)) from None
    return time.perf_counter() - t0


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
_DATASET = typer.Option("digits", "--dataset", help="Dataset name (see `aekit datasets`) or a file path.")
_DATA_HOME = typer.Option(None, "--data-home", help="Dataset cache root (MNIST).")
_N_SAMPLES = typer.Option(None, "--n-samples", help="Fit on the first N samples only.")
_DEVICE = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
_OUT = typer.Option(None, "--out", "-o", help="Run folder (default runs/fit-METHOD-<time>).")


def _finish(out, method, dataset, estimator, metrics, figures, fit_seconds, X, started) -> None:
    """Add the fit's size and time to ``metrics``, write the run folder, print where it is."""
    metrics.update(fit_seconds=round(fit_seconds, 4), n_samples=int(X.shape[0]), n_features=int(X.shape[1]))
    write_run(out, command=f"fit {method}", dataset=dataset, estimator=estimator, metrics=metrics,
              figures=figures, started=started)
    typer.echo(f"run folder: {out}")


def run_fit(method: str, estimator, summarize, *, dataset, data_home, n_samples, quiet, out) -> None:
    """Load, fit, summarise (``summarize(estimator, X, data) -> (metrics, figures)``), write the run folder."""
    started = time.perf_counter()
    out = out if out is not None else default_run_dir(f"fit-{method}")
    name = type(estimator).__name__
    with steps(["loading data", f"fitting {name}", "measuring and drawing", "writing run folder"], quiet=quiet) as step:
        step("loading data")
        data, X = _load(dataset, data_home, n_samples)
        step(f"fitting {name}")
        seconds = _fit(estimator, X)
        step("measuring and drawing")
        metrics, figures = summarize(estimator, X, data)
        step("writing run folder")
        _finish(out, method, dataset, estimator, metrics, figures, seconds, X, started)


def _components(text: Optional[str], *, allow_fraction: bool):
    try:
        return parse_n_components(text, allow_fraction=allow_fraction)
    except ValueError as exc:
        fail(str(exc))


@fit_app.command("pca")
def fit_pca(
    dataset: str = _DATASET,
    data_home: Optional[Path] = _DATA_HOME,
    n_samples: Optional[int] = _N_SAMPLES,
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help=_COMPONENTS_HELP),
    whiten: bool = typer.Option(False, "--whiten", help="Scale the projections to unit variance."),
    device: str = _DEVICE,
    quiet: bool = _QUIET,
    out: Optional[Path] = _OUT,
) -> None:
    """Principal component analysis: scree plot, eigen-images, reconstructions, explained variance."""
    from aekit.decomposition import PCA

    pca = PCA(_components(n_components, allow_fraction=True), whiten=whiten, device=device)
    run_fit("pca", pca, lambda est, X, data: pca_summary(est, X, data.image_shape), dataset=dataset,
            data_home=data_home, n_samples=n_samples, quiet=quiet, out=out)


@fit_app.command("ica")
def fit_ica(
    dataset: str = typer.Option("ica-mixture", "--dataset", help="Dataset name (see `aekit datasets`) or a file path."),
    data_home: Optional[Path] = _DATA_HOME,
    n_samples: Optional[int] = _N_SAMPLES,
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help="Number of sources."),
    algorithm: str = typer.Option("parallel", "--algorithm", help="parallel | deflation"),
    fun: str = typer.Option("logcosh", "--fun", help="Contrast: logcosh | exp | cube"),
    max_iter: int = typer.Option(200, "--max-iter"),
    tol: float = typer.Option(1e-4, "--tol"),
    seed: int = typer.Option(0, "--seed", help="random_state."),
    device: str = _DEVICE,
    quiet: bool = _QUIET,
    out: Optional[Path] = _OUT,
) -> None:
    """Independent component analysis (FastICA): sources, and their recovery when the truth is known."""
    from aekit.decomposition import FastICA

    ica = FastICA(_components(n_components, allow_fraction=False), algorithm=algorithm, fun=fun,
                  max_iter=max_iter, tol=tol, random_state=seed, device=device)
    run_fit("ica", ica, ica_summary, dataset=dataset, data_home=data_home, n_samples=n_samples, quiet=quiet,
            out=out)


@fit_app.command("sfa")
def fit_sfa(
    dataset: str = typer.Option("sfa-signal", "--dataset", help="Dataset name (see `aekit datasets`) or a file path."),
    data_home: Optional[Path] = _DATA_HOME,
    n_samples: Optional[int] = _N_SAMPLES,
    n_components: Optional[str] = typer.Option(None, "--n-components", "-k", help="Number of slow features."),
    degree: int = typer.Option(2, "--degree", help="1: linear SFA, 2: quadratic expansion."),
    embedding_dim: int = typer.Option(3, "--embedding-dim", help="Time frames stacked by the delay embedding."),
    delay: int = typer.Option(1, "--delay", help="Steps between stacked frames."),
    device: str = _DEVICE,
    quiet: bool = _QUIET,
    out: Optional[Path] = _OUT,
) -> None:
    """Slow feature analysis: slowest outputs, their Δ values, and the driving force when it is known."""
    from aekit.decomposition import SFA

    sfa = SFA(_components(n_components, allow_fraction=False), degree=degree, embedding_dim=embedding_dim,
              delay=delay, device=device)
    run_fit("sfa", sfa, sfa_summary, dataset=dataset, data_home=data_home, n_samples=n_samples, quiet=quiet,
            out=out)

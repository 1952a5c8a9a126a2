"""``aekit train MODEL --dataset NAME [...] --out RUN_DIR``: train an autoencoder, write a run folder.

The command is the shared fit runner (:func:`aekit.cli._fit_common.run_fit`)
around an autoencoder estimator: the run folder gets the fitted model, its
metrics, the per-epoch history, the figures (reconstructions, first-layer
filters, training curves, mean activation histogram) and an HTML report, and
the command prints their paths; training checkpoints go to
``RUN_DIR/checkpoint`` at every epoch end, and ``--resume`` continues from
there (same command, same run folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._fit_common import DATA_HOME, DATASET, DEVICE, N_SAMPLES, OUT, QUIET, SEED, run_fit
from aekit.cli._run import default_run_dir, fail

__all__ = ["MODELS", "parse_sparsity", "parse_emphasis", "estimator_parameters", "summarize_autoencoder", "train"]

MODELS = {
    "autoencoder": "Autoencoder",
    "sparse": "SparseAutoencoder",
    "ksparse": "KSparseAutoencoder",
    "k-sparse": "KSparseAutoencoder",
    "denoising": "DenoisingAutoencoder",
    "contractive": "ContractiveAutoencoder",
}
_SPARSITY_HELP = "kl:RHO:BETA[:batch|running|full], l1:LAMBDA (activations), kurtosis:LAMBDA, l1-weights:LAMBDA"


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--sparsity {spec!r}: {text!r} is not a number.") from None


def parse_sparsity(specs: list[str]) -> dict:
    """Estimator parameters from ``--sparsity`` specs (repeatable), e.g. ``kl:0.05:3``, ``l1:1e-3``."""
    params: dict = {}
    for spec in specs:
        kind, *values = spec.strip().split(":")
        if kind == "kl":
            if len(values) not in (2, 3):
                raise ValueError(f"--sparsity {spec!r}: use kl:RHO:BETA or kl:RHO:BETA:ESTIMATE, e.g. kl:0.05:3.")
            params["sparsity_target"] = _number(values[0], spec)
            params["sparsity_weight"] = _number(values[1], spec)
            if len(values) == 3:
                params["sparsity_estimate"] = values[2]
        elif kind in ("l1", "kurtosis", "l1-weights"):
            if len(values) != 1:
                raise ValueError(f"--sparsity {spec!r}: use {kind}:LAMBDA, e.g. {kind}:0.001.")
            name = {"l1": "activity_l1", "kurtosis": "kurtosis_weight", "l1-weights": "l1_weights"}[kind]
            params[name] = _number(values[0], spec)
        else:
            raise ValueError(f"Unknown --sparsity {spec!r}: use {_SPARSITY_HELP}.")
    return params


def parse_emphasis(spec: str) -> dict:
    """``ALPHA:BETA`` -> the weights of corrupted and other dimensions in the denoising loss."""
    parts = spec.split(":")
    try:
        alpha, beta = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--emphasis {spec!r}: use ALPHA:BETA, e.g. 2:1 (corrupted : other dimensions).") from None
    return {"corrupted_weight": alpha, "uncorrupted_weight": beta}


def _hidden_layers(spec: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in spec.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--hidden-layers {spec!r}: use comma-separated sizes, e.g. 500,250.") from None


def estimator_parameters(given: dict, *, hidden_layers: str | None, emphasis: str | None, sparsity: list[str]) -> dict:
    """The estimator's parameters: those ``given`` (by name; None: not given, the model's default) and the parsed specs."""
    params = {name: value for name, value in given.items() if value is not None}
    if hidden_layers is not None:
        params["hidden_layer_sizes"] = _hidden_layers(hidden_layers)
    if emphasis is not None:
        params.update(parse_emphasis(emphasis))
    params.update(parse_sparsity(sparsity))
    return params


@app.command("train")
def train(
    model: str = typer.Argument(..., help="autoencoder | sparse | ksparse | denoising | contractive"),
    dataset: str = DATASET,
    data_home: Optional[Path] = DATA_HOME,
    n_samples: Optional[int] = N_SAMPLES,
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Code size (n_components)."),
    hidden_layers: Optional[str] = typer.Option(None, "--hidden-layers", help="Extra encoder layers, e.g. 500,250."),
    activation: Optional[str] = typer.Option(None, "--activation", help="Encoder (code) activation, e.g. sigmoid."),
    decoder_activation: Optional[str] = typer.Option(None, "--decoder-activation"),
    loss: Optional[str] = typer.Option(None, "--loss", help="squared_error | cross_entropy"),
    tied: Optional[bool] = typer.Option(None, "--tied/--untied", help="Tie decoder weights to the encoder's."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay"),
    noise: Optional[str] = typer.Option(None, "--noise", help="Denoising corruption, e.g. masking:0.25, gaussian:0.3."),
    emphasis: Optional[str] = typer.Option(None, "--emphasis", help="ALPHA:BETA weights of corrupted:other dims."),
    sparsity: List[str] = typer.Option([], "--sparsity", help=_SPARSITY_HELP + " (repeatable)."),
    k: Optional[int] = typer.Option(None, "--k", help="k-sparse: units kept per sample."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="k-sparse: features keep alpha*k units."),
    contraction: Optional[float] = typer.Option(None, "--contraction", help="Contractive penalty weight."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adam | sgd"),
    lr_schedule: Optional[str] = typer.Option(None, "--lr-schedule", help="constant, cosine, step:S:G, ..."),
    early_stopping: bool = typer.Option(False, "--early-stopping", help="Stop on a 10% validation split."),
    precision: Optional[str] = typer.Option(None, "--precision", help="float32 | bfloat16 | auto"),
    device: str = DEVICE,
    seed: int = SEED,
    quiet: bool = QUIET,
    out: Optional[Path] = OUT,
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint."),
) -> None:
    """Train an autoencoder on a dataset; write the model, metrics, history, figures and a report."""
    import aekit.autoencoders as ae

    if model not in MODELS:
        fail(f"Unknown model {model!r}: use one of {', '.join(map(repr, MODELS))}.")
    command = f"train {model}"
    out = out if out is not None else default_run_dir(command.replace(" ", "-"))
    given = dict(
        n_components=hidden, encoder_activation=activation, decoder_activation=decoder_activation, loss=loss,
        tied_weights=tied, weight_decay=weight_decay, corruption=noise, k=k, k_alpha=alpha, contraction=contraction,
        max_epochs=epochs, batch_size=batch_size, learning_rate=lr, optimizer=optimizer, lr_schedule=lr_schedule,
        precision=precision,
    )
    try:
        params = estimator_parameters(given, hidden_layers=hidden_layers, emphasis=emphasis, sparsity=sparsity)
    except ValueError as exc:
        fail(str(exc))
    estimator = getattr(ae, MODELS[model])(
        **params, early_stopping=early_stopping, device=device, random_state=seed, verbose=not quiet,
        checkpoint_dir=str(out / "checkpoint"), resume=resume,
    )
    run_fit(command, estimator, lambda est, X, data: summarize_autoencoder(est, X, data.image_shape, seed),
            dataset=dataset, data_home=data_home, n_samples=n_samples, quiet=quiet, out=out, history=True,
            step_bar=False)  # the trainer draws its own progress bar


def untrained_control(estimator, X):
    """``estimator``'s architecture and seed at its initial weights (``max_epochs=0``), fitted on ``X``."""
    from sklearn.base import clone

    return clone(estimator).set_params(max_epochs=0, verbose=False, checkpoint_dir=None, resume=False).fit(X)


def summarize_autoencoder(estimator, X, image_shape, seed: int) -> tuple[dict, dict]:
    """A fitted autoencoder's metrics on ``X`` and its figures (shared by ``aekit train`` and ``aekit demo``)."""
    import numpy as np
    import torch

    from aekit import viz
    from aekit.autoencoders import make_corruption

    codes = estimator.transform(X)
    last = estimator.history_[-1]
    control = untrained_control(estimator, X)
    metrics = {
        "reconstruction_error": -estimator.score(X),
        # the same architecture and seed at its initial weights: what training changed
        "untrained_reconstruction_error": -control.score(X),
        "mean_activation": float(codes.mean()),
        "untrained_mean_activation": float(control.transform(X).mean()),
        "dead_units": last.get("dead_units"),
        "epochs": estimator.n_iter_,
        "final_loss": last["loss"],
    }
    figures = {
        "history": viz.plot_history(estimator.history_),
        "activations": viz.plot_activation_histogram(
            codes.mean(axis=0), estimator.sparsity_target if estimator.sparsity_weight > 0 else None
        ),
    }
    if image_shape is not None:
        figures["filters"] = viz.plot_filters(estimator.filters_, image_shape)
        clean, corrupted = X[:10], None
        if estimator.corruption is not None:
            # denoising error: mean over up to 1000 samples of sum_d (g(f(x_tilde))_d - x_d)^2
            sample = np.array(X[:1000])
            noisy, _ = make_corruption(estimator.corruption)(torch.from_numpy(sample), torch.Generator().manual_seed(seed))
            noisy = noisy.numpy()
            metrics["denoising_error"] = float(np.mean(np.sum((estimator.predict(noisy) - sample) ** 2, axis=1)))
            corrupted = noisy[:10]
        shown = clean if corrupted is None else corrupted
        figures["reconstructions"] = viz.plot_reconstructions(
            clean, estimator.predict(shown), image_shape, corrupted=corrupted
        )
    return metrics, figures

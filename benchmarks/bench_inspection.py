"""What a stacked denoising autoencoder learned on MNIST: filters and activation maximization.

Trains a StackedAutoencoder of two DenoisingAutoencoders greedily (layer 2 on
layer 1's clean codes; optionally KL-sparse layer 1), then
maximizes every unit of both layers over inputs of norm rho (the mean norm of
an MNIST image) from several random starts, as one batched run per layer, and
prints the distribution of the mean pairwise cosine similarity between the
starts' solutions per unit (the lecture: "different random initializations
yield very similar filter-like responses"). The quantity maximized is each
unit's pre-activation, which has the same maximizer as its sigmoid output but
does not saturate. For layer 1 it also prints the agreement with the
closed-form preferred inputs rho * w_i / ||w_i||; as a control, the same
statistic for layer 2 of the untrained architecture. "Strokes, not noise" is
measured by the filters' neighbour correlation (lag-1 spatial
autocorrelation: about 0 for i.i.d. noise such as the initialization).

Agreement of the starts does not tell a trained network from an untrained one
(an untrained stack's starts agree too), so every statistic is also computed
for the untrained architecture (the same seed's initial weights), and two
measures of what the maximizing inputs look like are added, each beside the
untrained network's, random inputs of the same norm and held-out MNIST images
scaled to that norm:

- how close they lie to the data: the fraction of their energy (about the
  data mean) outside the top 50 principal components of the training images,
  and their cosine with the nearest training image;
- whether they look like digits: the confidence (largest class probability)
  of a logistic regression trained on the MNIST pixels.

Writes the results file whole (``--results``, with date, machine, commit and
command) and its figures into the folder of the same name (first-layer
filters, both layers' maximizing inputs and the untrained control's); with
``--run-dir``, also a run folder (metrics.json, report.html).

    python benchmarks/bench_inspection.py --data-home DIR --sparsity 3 --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sklearn.linear_model import LogisticRegression

from aekit.autoencoders import AutoencoderModule, DenoisingAutoencoder, StackedAutoencoder
from aekit.bench._provenance import command_line, write_results
from aekit.cli._run import write_run
from aekit.datasets import load_mnist
from aekit.decomposition import PCA
from aekit.inspection import activation_maximization, preferred_inputs
from aekit.viz import (
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
    save_figure,
)

ROOT = Path(__file__).resolve().parents[1]


class Stack(nn.Module):
    """The trained encoders up to a layer, x (n, 784) -> z_L (n, m_L): the top layer's pre-activation.

    The sigmoid of the top layer is increasing, so z_L has the same maximizer
    as h_L = sigmoid(z_L); but a unit whose output rounds to 1.0 in float32
    shows no relative improvement and would stop the ascent at once.
    """

    def __init__(self, *modules):
        super().__init__()
        self.layers = nn.ModuleList(modules)

    def forward(self, x):
        for m in self.layers[:-1]:
            x = m.encode(x)
        top = self.layers[-1]
        return F.linear(x, top.encoder_weights[0], top.encoder_biases[0])  # (n, m_L)


def neighbour_correlation(W, image_shape) -> np.ndarray:
    """Per filter: correlation of each weight with its right and lower neighbours (lag-1 autocorrelation).

    About 0 for noise (e.g. the random initialization), large for smooth
    strokes and blobs; a number for "the filters look like strokes, not noise".
    """
    F = np.asarray(W, dtype=np.float64).reshape((-1,) + tuple(image_shape))
    F = F - F.mean(axis=(1, 2), keepdims=True)
    num = (F[:, 1:, :] * F[:, :-1, :]).sum(axis=(1, 2)) + (F[:, :, 1:] * F[:, :, :-1]).sum(axis=(1, 2))
    return num / (2.0 * (F * F).sum(axis=(1, 2)))


BINS = [-1.0, 0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0 + 1e-9]


def distribution(name: str, cosine: np.ndarray, threshold: float) -> dict:
    q = np.quantile(cosine, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    frac = float(np.mean(cosine >= threshold))
    print(
        f"  {name}: {len(cosine)} units; mean pairwise cosine across starts  "
        f"min {q[0]:.3f}  p5 {q[1]:.3f}  p25 {q[2]:.3f}  median {q[3]:.3f}  p75 {q[4]:.3f}  "
        f"p95 {q[5]:.3f}  max {q[6]:.3f};  fraction >= {threshold}: {frac:.3f}"
    )
    hist, _ = np.histogram(cosine, bins=BINS)
    histogram = ", ".join(f"{h} in [{a:.3g}, {min(b, 1.0):.3g}{']' if b > 1 else ')'}"
                          for a, b, h in zip(BINS[:-1], BINS[1:], hist) if h)
    print(f"    histogram: {histogram}")
    return {"min": q[0], "p5": q[1], "median": q[3], "p95": q[5], f"fraction_ge_{threshold}": frac,
            "histogram": histogram}


class ManifoldProbe:
    """How much inputs look like the data: distance to its principal subspace, nearest image, a classifier."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_components: int = 50, seed: int = 0):
        self.pca = PCA(n_components).fit(X)
        self.X_unit = X / np.linalg.norm(X, axis=1, keepdims=True)
        self.clf = LogisticRegression(max_iter=300, random_state=seed).fit(X, y)

    def measure(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Per input (n, 784): residual energy fraction, nearest-image cosine, classifier confidence."""
        centred = inputs - self.pca.mean_
        residual = centred - self.pca.inverse_transform(self.pca.transform(inputs)) + self.pca.mean_
        fraction = (residual**2).sum(1) / (centred**2).sum(1)
        nearest = (inputs / np.linalg.norm(inputs, axis=1, keepdims=True) @ self.X_unit.T).max(axis=1)
        confidence = self.clf.predict_proba(inputs).max(axis=1)
        return {"pca_residual": fraction, "nearest_cosine": nearest, "confidence": confidence}


def median_iqr(v: np.ndarray) -> str:
    q = np.quantile(v, [0.25, 0.5, 0.75])
    return f"{q[1]:.3f} ({q[0]:.3f}-{q[2]:.3f})"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-home", default=None,
                   help="folder holding mnist/ (default: $AEKIT_DATA or the download cache, as every loader)")
    p.add_argument("--n-train", type=int, default=20000, help="training images (first n of the 60000)")
    p.add_argument("--n-heldout", type=int, default=5000,
                   help="the next n training images: the classifier's accuracy and the data's own measures")
    p.add_argument("--hidden", type=int, nargs=2, default=(500, 200), metavar=("H1", "H2"))
    p.add_argument("--noise", default="masking:0.25")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--train-learning-rate", type=float, default=3e-3, help="Adam step size of the autoencoders")
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--sparsity", type=float, default=0.0, help="KL sparsity weight beta of layer 1 (0: none)")
    p.add_argument("--sparsity-target", type=float, default=0.05)
    p.add_argument("--n-starts", type=int, default=5)
    p.add_argument("--units", type=int, default=None, help="maximize only the first N units of each layer")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "inspection.md"),
                   help="results file, written whole; its figures go to the folder of the same name")
    p.add_argument("--run-dir", default=None, help="also write a run folder (metrics, figures, report) here")
    args = p.parse_args(argv)
    command = command_line("python benchmarks/bench_inspection.py", sys.argv[1:] if argv is None else list(argv))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # saturated sigmoids

    data = load_mnist("train", data_home=args.data_home)
    X, y = data.X[: args.n_train], data.y[: args.n_train]
    held = slice(args.n_train, args.n_train + args.n_heldout)
    X_held, y_held = data.X[held], data.y[held]
    rho = float(np.linalg.norm(X, axis=1).mean())
    print(f"MNIST: {X.shape[0]} training images, mean norm rho = {rho:.3f}; device {args.device}; "
          f"torch threads {torch.get_num_threads()}")

    common = dict(corruption=args.noise, loss="cross_entropy", max_epochs=args.epochs, batch_size=args.batch_size,
                  learning_rate=args.train_learning_rate, weight_decay=args.weight_decay,
                  random_state=args.seed, device=args.device)
    sparse = dict(sparsity_weight=args.sparsity, sparsity_target=args.sparsity_target) if args.sparsity > 0 else {}
    t0 = time.perf_counter()
    # greedy layer-wise pretraining: layer 2 learns from layer 1's clean codes (no fine-tuning here)
    stack = StackedAutoencoder([
        DenoisingAutoencoder(n_components=args.hidden[0], **common, **sparse),
        DenoisingAutoencoder(n_components=args.hidden[1], **common),
    ]).fit(X)
    t1 = time.perf_counter()
    history1, history2 = stack.history_["pretraining"]
    for i, history in enumerate((history1, history2)):
        print(f"layer {i + 1}: {args.hidden[i]} units, {len(history)} epochs, final loss {history[-1]['loss']:.3f}")
    print(f"pretraining: {t1 - t0:.1f} s")

    m1, m2 = (layer.eval() for layer in stack.module_.layers)
    W1_all = m1.encoder_weights[0].detach().cpu().numpy()
    learned = neighbour_correlation(W1_all, (28, 28))
    # the initialization is i.i.d. uniform (Glorot): the same statistic on such a matrix
    iid = neighbour_correlation(np.random.default_rng(args.seed).uniform(-1, 1, W1_all.shape), (28, 28))
    print(f"first-layer filters, neighbour correlation: median {np.median(learned):.3f}  "
          f"p10 {np.quantile(learned, 0.1):.3f}  p90 {np.quantile(learned, 0.9):.3f};  "
          f"i.i.d. noise (the initialization's law): median {np.median(iid):.3f}")
    layers = {"layer1": Stack(m1), "layer2": Stack(m1, m2)}
    results, metrics = {}, {"rho": rho, "n_train": int(X.shape[0]), "n_starts": args.n_starts,
                            "filter_neighbour_correlation_median": float(np.median(learned))}
    print(f"activation maximization: ||x|| = rho (sphere), {args.n_starts} random starts per unit, "
          f"learning rate {args.learning_rate}, at most {args.steps} steps, tol {args.tol}")
    for name, model in layers.items():
        units = None if args.units is None else list(range(args.units))
        t = time.perf_counter()
        res = activation_maximization(
            model, 784, units=units, n_starts=args.n_starts, norm=rho, learning_rate=args.learning_rate,
            max_steps=args.steps, tol=args.tol, random_state=args.seed, device=args.device,
        )
        seconds = time.perf_counter() - t
        results[name] = res
        print(f" {name}: {seconds:.1f} s for {res.inputs.shape[0]} units x {args.n_starts} starts in one batch; "
              f"converged {res.converged.mean():.3f}; steps median {np.median(res.n_iter):.0f} max {res.n_iter.max()}")
        stats = distribution(name, res.mean_cosine, args.threshold)
        metrics[name] = {**stats, "seconds": seconds, "converged": float(res.converged.mean())}
    # control: the same two-layer architecture, untrained (its initialization, from the same seed)
    gen = torch.Generator().manual_seed(args.seed)
    u1 = AutoencoderModule(784, args.hidden[0], generator=gen).to(args.device).eval()
    u2 = AutoencoderModule(args.hidden[0], args.hidden[1], generator=gen).to(args.device).eval()
    controls = {}
    for name, model in {"layer1_untrained": Stack(u1), "layer2_untrained": Stack(u1, u2)}.items():
        controls[name] = activation_maximization(
            model, 784, units=None if args.units is None else list(range(args.units)), n_starts=args.n_starts,
            norm=rho, learning_rate=args.learning_rate, max_steps=args.steps, tol=args.tol, random_state=args.seed,
            device=args.device,
        )
        print(f" control, untrained {name.split('_')[0]} (same architecture, initial weights):")
        metrics[name] = distribution(name, controls[name].mean_cosine, args.threshold)
    # layer 1 against the closed form
    W1 = m1.encoder_weights[0].detach().cpu().numpy()[results["layer1"].units]
    closed = preferred_inputs(W1, norm=rho)
    best = results["layer1"].best_inputs
    cos = np.sum(best * closed, axis=1) / (np.linalg.norm(best, axis=1) * np.linalg.norm(closed, axis=1))
    print(f"  layer1 vs closed form rho*w/||w||: cosine min {cos.min():.4f} median {np.median(cos):.4f}")
    metrics["layer1"]["closed_form_cosine_min"] = float(cos.min())

    # Do the maximizing inputs look like data? Against the untrained network's, random inputs of the same
    # norm, and held-out images scaled to that norm (all on the same sphere ||x|| = rho).
    t = time.perf_counter()
    probe = ManifoldProbe(X, y, seed=args.seed)
    probe_accuracy = float(probe.clf.score(X_held, y_held))
    rng = np.random.default_rng(args.seed)
    noise = rng.normal(size=(1000, 784))
    references = {
        "held-out MNIST images (scaled to rho)": rho * X_held / np.linalg.norm(X_held, axis=1, keepdims=True),
        "random inputs (Gaussian directions)": rho * noise / np.linalg.norm(noise, axis=1, keepdims=True),
    }
    looks = {}
    for name, res in [*results.items(), *controls.items()]:
        looks[name] = probe.measure(res.best_inputs.reshape(res.best_inputs.shape[0], -1).astype(np.float64))
    for name, inputs in references.items():
        looks[name] = probe.measure(inputs)
    print(f"manifold probe ({time.perf_counter() - t:.0f} s; classifier accuracy on {len(y_held)} held-out "
          f"images {probe_accuracy:.3f}): median (quartiles)")
    for name, m in looks.items():
        print(f"  {name}: residual outside 50 PCs {median_iqr(m['pca_residual'])}, nearest-image cosine "
              f"{median_iqr(m['nearest_cosine'])}, classifier confidence {median_iqr(m['confidence'])}")
        metrics.setdefault("looks_like_data", {})[name] = {k: float(np.median(v)) for k, v in m.items()}

    with torch.no_grad():
        clean = torch.as_tensor(X[:10])
        corrupted, _ = m1.corruption(clean, torch.Generator().manual_seed(args.seed))
        recon = m1.reconstruct(corrupted).numpy()
        codes = m1.encode(torch.as_tensor(X[:5000])).numpy()
    shown = {
        "filters_layer1": plot_filters(m1.encoder_weights[0], (28, 28), n=100),
        "activation_maximization_layer1": plot_activation_maximization(results["layer1"], (28, 28), n=100),
        "activation_maximization_layer2": plot_activation_maximization(results["layer2"], (28, 28), n=100),
        "activation_maximization_layer2_starts": plot_activation_maximization(
            results["layer2"], (28, 28), n=12, starts="all"
        ),
        "activation_maximization_layer2_untrained": plot_activation_maximization(
            controls["layer2_untrained"], (28, 28), n=100
        ),
    }
    results_path = Path(args.results)
    figure_dir = results_path.with_suffix("")
    for stem, fig in shown.items():
        save_figure(fig, figure_dir / f"{stem}.png")
    write_results(results_path, "Inspection: filters and activation maximization of a 2-layer stacked denoising "
                  "autoencoder on MNIST", command,
                  report(args, rho, t1 - t0, results, controls, metrics, looks, probe_accuracy, learned, iid, cos,
                         figure_dir.name),
                  notes=results_path.stem + "-notes.md")
    print(f"results: {results_path}")
    if args.run_dir:
        figures = {
            **shown,
            "reconstructions": plot_reconstructions(X[:10], recon, (28, 28), corrupted=corrupted.numpy()),
            "mean_activation_layer1": plot_activation_histogram(codes),
            "training_curves_layer1": plot_history(history1),
            "training_curves_layer2": plot_history(history2),
        }
        write_run(
            Path(args.run_dir), command=command, dataset=f"mnist[:{X.shape[0]}]", metrics=metrics,
            figures=figures, history=history1, started=t0,
            extra={"estimator": "StackedAutoencoder (2 DenoisingAutoencoders, greedy)",
                   "params": {**common, **sparse, "hidden": list(args.hidden)}},
        )
        print(f"run folder: {args.run_dir}")


def report(args, rho, pretrain_seconds, results, controls, metrics, looks, probe_accuracy, learned, iid, closed_cos,
           figures) -> list[str]:
    """The results file's body (Markdown) from the measured numbers."""
    sparse = (f" with KL sparsity rho_0 = {args.sparsity_target}, beta = {args.sparsity:g}" if args.sparsity > 0
              else "")
    cols = [("layer1", f"layer 1 ({results['layer1'].inputs.shape[0]} units)"),
            ("layer2", f"layer 2 ({results['layer2'].inputs.shape[0]} units)"),
            ("layer1_untrained", "layer 1, untrained"), ("layer2_untrained", "layer 2, untrained")]
    runs = {**results, **controls}
    m = metrics

    def row(label, fn):
        return f"| {label} | " + " | ".join(fn(k) for k, _ in cols) + " |"

    lines = [
        f"Set-up: a `StackedAutoencoder` of two `DenoisingAutoencoder`s pretrained greedily (784-{args.hidden[0]}"
        f"{sparse}, then {args.hidden[0]}-{args.hidden[1]} on layer 1's clean codes), {args.noise} noise, "
        f"cross-entropy, Adam {args.train_learning_rate:g}, batch {args.batch_size}, weight decay "
        f"{args.weight_decay:g}, {args.epochs} epoch(s) per layer, on the first {args.n_train} MNIST training images "
        f"(pretraining took {pretrain_seconds:.0f} s). Activation maximization of every unit of each layer, "
        f"{args.n_starts} random starts per unit, on the sphere ||x|| = rho with rho = {rho:.3f} (the mean norm of an "
        f"MNIST image), normalized-gradient projected ascent (learning rate {args.learning_rate:g} of rho, adaptive "
        f"step, tol {args.tol:g}), one batched run per layer. The maximized quantity is each unit's pre-activation "
        "(the same maximizer as the sigmoid output, which saturates in float32). The untrained control is the same "
        "architecture at its initial weights (the same seed).",
        "",
        "## Agreement of the starts",
        "",
        "| | " + " | ".join(c for _, c in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("mean pairwise cosine across starts: min", lambda k: f"{m[k]['min']:.3f}"),
        row("p5 / median / p95", lambda k: f"{m[k]['p5']:.3f} / {m[k]['median']:.3f} / {m[k]['p95']:.3f}"),
        row("histogram of the cosine", lambda k: m[k]["histogram"]),
        row(f"fraction of units with cosine >= {args.threshold}", lambda k: f"{m[k][f'fraction_ge_{args.threshold}']:.3f}"),
        row("rows converged (relative improvement < tol)", lambda k: f"{runs[k].converged.mean():.3f}"),
        row("steps per row: median / max", lambda k: f"{np.median(runs[k].n_iter):.0f} / {runs[k].n_iter.max()}"),
        row("wall time of the batched run", lambda k: f"{m[k]['seconds']:.1f} s" if "seconds" in m[k] else "-"),
        "",
        f"- Layer 1 against the closed form rho * w_i / ||w_i||: cosine min {closed_cos.min():.4f} "
        f"(median {np.median(closed_cos):.4f}).",
        f"- First-layer filters, neighbour correlation (lag-1 spatial autocorrelation): median {np.median(learned):.3f} "
        f"(p10 {np.quantile(learned, 0.1):.3f}, p90 {np.quantile(learned, 0.9):.3f}); i.i.d. noise such as the "
        f"initialization: {np.median(iid):.3f}.",
        "",
        "## Do the maximizing inputs look like data?",
        "",
        "Each maximizing input (the best of its unit's starts) beside the untrained network's and two "
        "references on the same sphere, median (quartiles) over units or inputs. *Outside the data's subspace*: the "
        "fraction of the input's energy about the data mean outside the top 50 principal components of the "
        f"{args.n_train} training images. *Nearest image*: cosine with the nearest training image. *Classifier "
        "confidence*: the largest class probability of a logistic regression on the MNIST pixels (accuracy "
        f"{probe_accuracy:.3f} on {args.n_heldout} held-out training images).",
        "",
        "| inputs | outside the data's subspace | nearest image (cosine) | classifier confidence |",
        "|---|---|---|---|",
    ]
    labels = {"layer1": "layer 1 maximizers", "layer2": "layer 2 maximizers",
              "layer1_untrained": "layer 1 maximizers, untrained", "layer2_untrained": "layer 2 maximizers, untrained"}
    for name, v in looks.items():
        lines.append(f"| {labels.get(name, name)} | {median_iqr(v['pca_residual'])} | "
                     f"{median_iqr(v['nearest_cosine'])} | {median_iqr(v['confidence'])} |")
    lines += [
        "",
        f"Figures: [first-layer filters]({figures}/filters_layer1.png), "
        f"[layer-1 maximizing inputs]({figures}/activation_maximization_layer1.png), "
        f"[layer-2 maximizing inputs]({figures}/activation_maximization_layer2.png), "
        f"[layer-2 units, all starts side by side]({figures}/activation_maximization_layer2_starts.png), "
        f"[layer-2 maximizing inputs of the untrained network]({figures}/activation_maximization_layer2_untrained.png).",
    ]
    return lines


if __name__ == "__main__":
    main()

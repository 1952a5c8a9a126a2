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

Writes a run folder (figures: first-layer filters, both layers' maximizing
inputs, reconstructions, training curves; metrics.json; report.html).

    python benchmarks/bench_inspection.py --data-home ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aekit.autoencoders import AutoencoderModule, DenoisingAutoencoder, StackedAutoencoder
from aekit.cli._run import write_run
from aekit.datasets import load_mnist
from aekit.inspection import activation_maximization, preferred_inputs
from aekit.viz import (
    plot_activation_histogram,
    plot_activation_maximization,
    plot_filters,
    plot_history,
    plot_reconstructions,
)


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


def distribution(name: str, cosine: np.ndarray, threshold: float) -> dict:
    q = np.quantile(cosine, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    frac = float(np.mean(cosine >= threshold))
    print(
        f"  {name}: {len(cosine)} units; mean pairwise cosine across starts  "
        f"min {q[0]:.3f}  p5 {q[1]:.3f}  p25 {q[2]:.3f}  median {q[3]:.3f}  p75 {q[4]:.3f}  "
        f"p95 {q[5]:.3f}  max {q[6]:.3f};  fraction >= {threshold}: {frac:.3f}"
    )
    hist, edges = np.histogram(cosine, bins=[-1.0, 0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0 + 1e-9])
    print("    histogram: " + "  ".join(f"[{a:.3g},{b:.3g}): {h}" for a, b, h in zip(edges[:-1], edges[1:], hist)))
    return {"min": q[0], "p5": q[1], "median": q[3], "p95": q[5], f"fraction_ge_{threshold}": frac}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-home", default="../shared/data")
    p.add_argument("--n-train", type=int, default=20000, help="training images (first n of the 60000)")
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
    p.add_argument("--out", default="benchmarks/results/inspection-run")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # saturated sigmoids

    data = load_mnist("train", data_home=args.data_home)
    X = data.X[: args.n_train]
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
    # control: the same two-layer architecture, untrained (its initialization)
    gen = torch.Generator().manual_seed(args.seed)
    untrained = Stack(AutoencoderModule(784, args.hidden[0], generator=gen),
                      AutoencoderModule(args.hidden[0], args.hidden[1], generator=gen)).to(args.device).eval()
    control = activation_maximization(
        untrained, 784, units=None if args.units is None else list(range(args.units)), n_starts=args.n_starts,
        norm=rho, learning_rate=args.learning_rate, max_steps=args.steps, tol=args.tol, random_state=args.seed,
    )
    print(" control, untrained layer 2 (same architecture, initial weights):")
    metrics["layer2_untrained"] = distribution("layer2 untrained", control.mean_cosine, args.threshold)
    # layer 1 against the closed form
    W1 = m1.encoder_weights[0].detach().cpu().numpy()[results["layer1"].units]
    closed = preferred_inputs(W1, norm=rho)
    best = results["layer1"].best_inputs
    cos = np.sum(best * closed, axis=1) / (np.linalg.norm(best, axis=1) * np.linalg.norm(closed, axis=1))
    print(f"  layer1 vs closed form rho*w/||w||: cosine min {cos.min():.4f} median {np.median(cos):.4f}")
    metrics["layer1"]["closed_form_cosine_min"] = float(cos.min())

    with torch.no_grad():
        clean = torch.as_tensor(X[:10])
        corrupted, _ = m1.corruption(clean, torch.Generator().manual_seed(args.seed))
        recon = m1.reconstruct(corrupted).numpy()
        codes = m1.encode(torch.as_tensor(X[:5000])).numpy()
    figures = {
        "filters_layer1": plot_filters(m1.encoder_weights[0], (28, 28), n=100),
        "activation_maximization_layer1": plot_activation_maximization(results["layer1"], (28, 28), n=100),
        "activation_maximization_layer2": plot_activation_maximization(results["layer2"], (28, 28), n=100),
        "activation_maximization_layer2_starts": plot_activation_maximization(
            results["layer2"], (28, 28), n=12, starts="all"
        ),
        "reconstructions": plot_reconstructions(X[:10], recon, (28, 28), corrupted=corrupted.numpy()),
        "mean_activation_layer1": plot_activation_histogram(codes),
        "training_curves_layer1": plot_history(history1),
        "training_curves_layer2": plot_history(history2),
    }
    out = Path(args.out)
    write_run(
        out, command="benchmarks/bench_inspection.py", dataset=f"mnist[:{X.shape[0]}]", metrics=metrics,
        figures=figures, history=history1, started=t0,
        extra={"estimator": "StackedAutoencoder (2 DenoisingAutoencoders, greedy)",
               "params": {**common, **sparse, "hidden": list(args.hidden)}},
    )
    print(f"run folder: {out}")


if __name__ == "__main__":
    main()

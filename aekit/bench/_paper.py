"""Reproductions of the published results that define the field, on aekit's own estimators.

Every recipe trains with :mod:`aekit.autoencoders` (the generic trainer
underneath) and returns rows of *setting, published number, our number,
training time*. MNIST is split as in the papers: the first 50 000 training
images train, the last 10 000 validate (early stopping, model selection),
the 10 000 test images are used once at the end.

Budgets
-------
``full``   the papers' schedules (minibatches instead of the papers'
           batch-size-1 SGD or full-batch L-BFGS; each recipe's ``deviations``
           say where else it departs from the paper).
``fast``   the same models with fewer epochs, sized to finish each recipe in
           at most 10 minutes on a quiet 2-core CPU with bfloat16 autocast;
           the number printed is the honest result of that shorter training.
``smoke``  a plumbing check in seconds: tiny layers, one or two epochs, and
           scikit-learn's 8x8 digits (1000 / 300 / 497 split) standing in for
           MNIST; its numbers say nothing about the papers.

Seeds
-----
A recipe runs once per seed (by default 0, 1 and 2 at the fast and full
budgets, 0 at the smoke budget); the table shows the mean over the seeds with
the standard deviation and every seed's value, and each target is judged on
the mean.

The training precision defaults to ``"auto"`` (bfloat16 autocast where the
CPU or GPU computes it natively, the trainer's fast path); ``--precision
float32`` runs the same recipe without it. How the settings were chosen, and
which were changed after a test number had been seen, is written in
``benchmarks/results/paper-notes.md``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

from aekit import io as aio
from aekit.bench._provenance import git_commit, machine_description

__all__ = [
    "BUDGETS",
    "DEFAULT_SEEDS",
    "RECIPES",
    "Recipe",
    "Row",
    "Target",
    "PaperResult",
    "Splits",
    "Context",
    "load_splits",
    "run_recipe",
    "format_table",
    "format_list",
    "update_results_file",
]

BUDGETS = ("fast", "full", "smoke")
DEFAULT_SEEDS = {"fast": (0, 1, 2), "full": (0, 1, 2), "smoke": (0,)}


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Row:
    """One line of a result table.

    ``metric`` names the measured value shown in *ours* (a key of the
    recipe's metrics; ``unit="%"`` shows a fraction in percent, ``""`` a plain
    number); ``None`` makes the row a published reference only. ``seconds``
    names the metric holding the training time of our number.
    """

    setting: str
    published: str
    metric: str | None = None
    unit: str = "%"
    seconds: str | None = None


@dataclass(frozen=True)
class Target:
    """A pass/fail check on the seed-averaged metrics, at the budgets it names."""

    text: str
    check: Callable[[dict], bool]
    budgets: tuple[str, ...] = ("fast", "full")


@dataclass
class PaperResult:
    """What a recipe measured: its metrics per seed, the rows that show them, how long it took."""

    recipe: str
    budget: str
    title: str
    protocol: str
    rows: list[Row]
    metrics: list[dict] = field(default_factory=list)  # one dict of numbers per seed
    seeds: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    precision: str = ""
    data: str = ""

    def mean(self) -> dict[str, float]:
        """Each metric's mean over the seeds."""
        if not self.metrics:
            return {}
        return {k: statistics.fmean(m[k] for m in self.metrics) for k in self.metrics[0]}

    @property
    def checks(self) -> list[tuple[str, bool]]:
        """``(text, passed)`` for the recipe's targets at this budget, judged on the seed means."""
        mean = self.mean()
        return [(t.text, bool(t.check(mean))) for t in RECIPES[self.recipe].targets if self.budget in t.budgets]


@dataclass(frozen=True)
class Splits:
    """Train / validation / test arrays (``X`` float32 in [0, 1], ``y`` int64)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str


@dataclass
class Context:
    """Settings shared by every recipe of one run (``seed`` is the current seed's)."""

    budget: str
    data_home: object = None
    device: str = "cpu"
    precision: str = "auto"
    seed: int = 0
    verbose: bool = False
    _splits: Splits | None = None

    @property
    def splits(self) -> Splits:
        if self._splits is None:
            self._splits = load_splits(self.budget, self.data_home)
        return self._splits

    @property
    def smoke(self) -> bool:
        return self.budget == "smoke"

    def common(self) -> dict:
        """Parameters every estimator of a recipe gets."""
        return dict(precision=self.precision, device=self.device)


@dataclass(frozen=True)
class Recipe:
    """A published result and how to reproduce it.

    ``run`` trains and measures one seed; ``durations`` are the expected wall
    times per budget on a quiet 2-core CPU (one seed); ``deviations`` say where
    the protocol departs from the paper's.
    """

    name: str
    title: str
    run: Callable[[Context], PaperResult]
    durations: dict[str, str]
    deviations: str
    targets: tuple[Target, ...] = ()


# ---------------------------------------------------------------- data
def load_splits(budget: str, data_home=None) -> Splits:
    """MNIST 50k / 10k / 10k (the digits stand-in for ``budget="smoke"``)."""
    if budget == "smoke":
        from aekit.datasets import load_digits

        ds = load_digits()
        rng = np.random.default_rng(0)
        order = rng.permutation(ds.X.shape[0])
        X, y = ds.X[order], ds.y[order].astype(np.int64)
        return Splits(X[:1000], y[:1000], X[1000:1300], y[1000:1300], X[1300:], y[1300:],
                      "sklearn digits stand-in (1000 train / 300 validation / 497 test)")
    from aekit.datasets import load_mnist

    train = load_mnist("train", data_home=data_home)
    test = load_mnist("test", data_home=data_home)
    return Splits(train.X[:50_000], train.y[:50_000], train.X[50_000:], train.y[50_000:], test.X, test.y,
                  "MNIST: training images 1-50000 train, 50001-60000 validation; the 10000 test images test")


# ---------------------------------------------------------------- helpers
class _Clock:
    """Wall and CPU seconds since creation (CPU time: this process, all threads)."""

    def __init__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    @property
    def wall(self) -> float:
        return time.perf_counter() - self.wall0

    @property
    def cpu(self) -> float:
        return time.process_time() - self.cpu0


def _settings(ctx: Context, per_budget: dict) -> SimpleNamespace:
    """The recipe's settings at the context's budget, as attributes."""
    return SimpleNamespace(**per_budget[ctx.budget])


def _pretrain_then_fine_tune(clf, s: Splits) -> dict:
    """Fit ``clf`` (a StackedAutoencoderClassifier with ``fine_tune=False``), score, fine-tune it, score again.

    The same model is measured before fine-tuning (softmax on the frozen
    pretrained codes) and after (``warm_start=True``: only the fine-tuning runs).
    """
    clock = _Clock()
    clf.fit(s.X_train, s.y_train, X_val=s.X_val, y_val=s.y_val)
    t_pre = clock.wall
    before = clf.score(s.X_test, s.y_test)
    clf.set_params(fine_tune=True, warm_start=True).fit(s.X_train, s.y_train, X_val=s.X_val, y_val=s.y_val)
    t_total = clock.wall
    after = clf.score(s.X_test, s.y_test)
    return {
        "accuracy_before": before, "accuracy_after": after, "seconds_pretrain": t_pre, "seconds_total": t_total,
        "pretrain_epochs": [len(h) for h in clf.history_["pretraining"]],
        "softmax_epochs": len(clf.history_["softmax"]), "fine_tune_epochs": len(clf.history_["fine_tuning"]),
    }


def _epochs_note(r: dict) -> str:
    return (f"epochs run: pretraining {r['pretrain_epochs']}, softmax {r['softmax_epochs']}, "
            f"fine-tuning {r['fine_tune_epochs']} (early stopping keeps the best validation epoch)")


def _numbers(r: dict) -> dict:
    """The numeric entries of a measurement dict (the metrics a table shows)."""
    return {k: float(v) for k, v in r.items() if isinstance(v, (int, float))}


def _sgd_fine_tuned(layers, b: SimpleNamespace, ctx: Context, *, learning_rate: float, batch_size: int,
                    monitor: str = "loss"):
    """The SdA and CAE protocol: a softmax trained gently on the frozen codes (Adam 1e-3 for
    ``b.head_epochs``), then ``b.fine_tune_epochs`` of momentum-SGD fine-tuning with a cosine schedule,
    keeping the epoch with the lowest validation ``monitor`` (loss or error rate)."""
    from aekit.autoencoders import StackedAutoencoderClassifier

    return StackedAutoencoderClassifier(
        layers, fine_tune=False, head_max_epochs=b.head_epochs, head_optimizer="adam", head_learning_rate=1e-3,
        max_epochs=b.fine_tune_epochs, optimizer="sgd", learning_rate=learning_rate, momentum=0.9,
        batch_size=batch_size, lr_schedule="cosine", early_stopping=True, monitor=monitor,
        n_iter_no_change=b.fine_tune_epochs, random_state=ctx.seed, verbose=ctx.verbose, **ctx.common(),
    )


# ---------------------------------------------------------------- recipes
def vincent2010_sda3(ctx: Context) -> PaperResult:
    """Stacked denoising autoencoder, 3 x 1000 sigmoid units, masking noise 25 %, then supervised fine-tuning.

    Published: Vincent et al. 2010 (JMLR 11), Table 3: SdA-3 1.28 % MNIST test
    error (SAE-3 1.40 %, DBN-3 1.24 %, SVM-rbf 1.40 %). Each layer is a
    :class:`~aekit.autoencoders.DenoisingAutoencoder` (cross-entropy, sigmoid
    decoder, untied weights, masking noise 25 %) pretrained greedily on the
    clean codes of the layer below with Adam (lr 1e-3, batch 128); a softmax is
    trained on the frozen top codes (Adam 1e-3); then the whole
    784-1000-1000-1000-10 network is fine-tuned by SGD with momentum 0.9 and a
    cosine decay to 0, keeping the epoch with the lowest validation error (ties:
    the lower validation loss). The full budget fine-tunes with smaller
    minibatches, closer to the paper's per-example SGD.
    """
    s = ctx.splits
    b = _settings(ctx, {
        "smoke": dict(units=32, pretrain_epochs=1, head_epochs=2, fine_tune_epochs=2, learning_rate=0.3, batch_size=128),
        "fast": dict(units=1000, pretrain_epochs=10, head_epochs=10, fine_tune_epochs=20, learning_rate=0.3,
                     batch_size=128),
        "full": dict(units=1000, pretrain_epochs=40, head_epochs=10, fine_tune_epochs=60, learning_rate=0.1,
                     batch_size=32),
    })
    from aekit.autoencoders import DenoisingAutoencoder

    layers = [
        DenoisingAutoencoder(b.units, loss="cross_entropy", corruption="masking:0.25", max_epochs=b.pretrain_epochs,
                             learning_rate=1e-3, batch_size=128, **ctx.common())
        for _ in range(3)
    ]
    clf = _sgd_fine_tuned(layers, b, ctx, learning_rate=b.learning_rate, batch_size=b.batch_size, monitor="error")
    r = _pretrain_then_fine_tune(clf, s)
    r["error_before"], r["error_after"] = 1.0 - r["accuracy_before"], 1.0 - r["accuracy_after"]
    return PaperResult(
        "vincent2010-sda3", ctx.budget, "Vincent et al. 2010: stacked denoising autoencoder (3 x 1000)",
        f"{b.units}-unit layers x 3, {b.pretrain_epochs} pretraining epochs per layer (Adam 1e-3), softmax "
        f"{b.head_epochs} epochs (Adam 1e-3, cosine), fine-tuning {b.fine_tune_epochs} epochs (SGD {b.learning_rate}, "
        f"batch {b.batch_size}, momentum 0.9, cosine; the epoch with the lowest validation error kept)",
        [
            Row("SdA-3, masking 25 %: softmax on frozen codes (before fine-tuning)", "-", "error_before",
                seconds="seconds_pretrain"),
            Row("SdA-3, masking 25 %: fine-tuned (test error)", "1.28%", "error_after", seconds="seconds_total"),
            Row("SAE-3 (stacked plain autoencoders)", "1.40%"),
            Row("DBN-3", "1.24%"),
            Row("SVM, RBF kernel", "1.40%"),
        ],
        [_numbers(r)], notes=[_epochs_note(r)],
    )


def ufldl_stacked(ctx: Context) -> PaperResult:
    """UFLDL stacked autoencoder exercise: 784-200-200-softmax, sparse layers, fine-tuned.

    Published (the exercise's expected results): 87.7 % test accuracy with the
    softmax on the frozen second-layer features, 97.6 % after fine-tuning.
    Each layer is a :class:`~aekit.autoencoders.SparseAutoencoder` with the
    exercise's settings: 200 sigmoid units, sigmoid decoder, squared error,
    KL sparsity ρ = 0.1, β = 3, weight decay λ = 3e-3; the softmax has weight
    decay 1e-4; fine-tuning trains the whole network.
    """
    s = ctx.splits
    b = _settings(ctx, {
        "smoke": dict(units=32, pretrain_epochs=2, head_epochs=3, fine_tune_epochs=3),
        "fast": dict(units=200, pretrain_epochs=15, head_epochs=20, fine_tune_epochs=30),
        "full": dict(units=200, pretrain_epochs=60, head_epochs=100, fine_tune_epochs=200),
    })
    from aekit.autoencoders import SparseAutoencoder, StackedAutoencoderClassifier

    layers = [
        SparseAutoencoder(b.units, decoder_activation="sigmoid", sparsity_target=0.1, sparsity_weight=3.0,
                          weight_decay=3e-3, max_epochs=b.pretrain_epochs, learning_rate=3e-3, batch_size=128,
                          **ctx.common())
        for _ in range(2)
    ]
    clf = StackedAutoencoderClassifier(
        layers, fine_tune=False, head_max_epochs=b.head_epochs, max_epochs=b.fine_tune_epochs, weight_decay=1e-4,
        optimizer="adam", learning_rate=1e-3, batch_size=128, early_stopping=True, n_iter_no_change=10,
        random_state=ctx.seed, verbose=ctx.verbose, **ctx.common(),
    )
    r = _pretrain_then_fine_tune(clf, s)
    return PaperResult(
        "ufldl-stacked", ctx.budget, "UFLDL stacked autoencoder exercise (784-200-200-10)",
        f"2 sparse layers of {b.units} (rho 0.1, beta 3, lambda 3e-3), {b.pretrain_epochs} epochs each (Adam 3e-3); "
        f"softmax (lambda 1e-4) <= {b.head_epochs} epochs; fine-tuning <= {b.fine_tune_epochs} epochs (Adam 1e-3, "
        "early stopping)",
        [
            Row("softmax on frozen layer-2 features (before fine-tuning)", "87.7%", "accuracy_before",
                seconds="seconds_pretrain"),
            Row("stacked autoencoder fine-tuned (test accuracy)", "97.6%", "accuracy_after", seconds="seconds_total"),
        ],
        [_numbers(r)], notes=[_epochs_note(r)],
    )


def ufldl_selftaught(ctx: Context) -> PaperResult:
    """UFLDL self-taught learning: sparse features learnt on digits 5-9, softmax on them for digits 0-4.

    Published (the exercise's expected result): 98.3 % test accuracy. The
    exercise's split, on all 60 000 MNIST training images: those of digits 5-9
    are the unlabeled data of a :class:`~aekit.autoencoders.SparseAutoencoder`
    (200 units, ρ = 0.1, β = 3, λ = 3e-3, sigmoid decoder, squared error);
    the images of digits 0-4 are labeled, the first half trains a softmax
    regression (λ = 1e-4) on the autoencoder's features, the second half tests it.

    The softmax is scikit-learn's multinomial logistic regression with L-BFGS,
    which minimizes the exercise's cost exactly when ``C = 1 / (λ m)``
    (m training examples). The same softmax on the raw pixels is the reference.
    """
    from sklearn.linear_model import LogisticRegression

    from aekit.autoencoders import SparseAutoencoder

    b = _settings(ctx, {"smoke": dict(units=32, epochs=2), "fast": dict(units=200, epochs=30),
                        "full": dict(units=200, epochs=200)})
    if ctx.smoke:
        s = ctx.splits
        X = np.concatenate([s.X_train, s.X_val, s.X_test])
        y = np.concatenate([s.y_train, s.y_val, s.y_test])
    else:
        from aekit.datasets import load_mnist

        train = load_mnist("train", data_home=ctx.data_home)
        X, y = train.X, train.y
    unlabeled = X[y >= 5]
    labeled = np.flatnonzero(y < 5)
    half = labeled.size // 2
    tr, te = labeled[:half], labeled[half:]
    clock = _Clock()
    ae = SparseAutoencoder(b.units, decoder_activation="sigmoid", sparsity_target=0.1, sparsity_weight=3.0,
                           weight_decay=3e-3, max_epochs=b.epochs, learning_rate=3e-3, batch_size=128,
                           random_state=ctx.seed, verbose=ctx.verbose, **ctx.common()).fit(unlabeled)
    lam = 1e-4
    softmax = LogisticRegression(C=1.0 / (lam * tr.size), max_iter=400)
    softmax.fit(ae.transform(X[tr]), y[tr])
    seconds = clock.wall
    acc = softmax.score(ae.transform(X[te]), y[te])
    raw = LogisticRegression(C=1.0 / (lam * tr.size), max_iter=400).fit(X[tr], y[tr]).score(X[te], y[te])
    return PaperResult(
        "ufldl-selftaught", ctx.budget, "UFLDL self-taught learning (features from digits 5-9)",
        f"sparse autoencoder {b.units} units on {unlabeled.shape[0]} images of digits 5-9, {b.epochs} epochs "
        f"(Adam 3e-3); softmax (lambda 1e-4, L-BFGS) on {tr.size} images of 0-4, tested on {te.size}",
        [
            Row("softmax on sparse-autoencoder features of digits 0-4 (test accuracy)", "98.3%", "accuracy",
                seconds="seconds"),
            Row("softmax on raw pixels, same split (reference)", "-", "raw_pixels_accuracy"),
        ],
        [{"accuracy": acc, "raw_pixels_accuracy": raw, "seconds": seconds}],
        data=("digits stand-in: " if ctx.smoke else "MNIST: all 60000 training images (the exercise's split, not "
              "50k/10k/10k): ")
        + f"{unlabeled.shape[0]} of digits 5-9 unlabeled, {tr.size} of 0-4 train the softmax, {te.size} of 0-4 test",
    )


def makhzani_ksparse(ctx: Context) -> PaperResult:
    """k-sparse autoencoder (Makhzani & Frey 2014): 1000 units, k = 25, logistic regression on α·k codes.

    Published: 1.35 % MNIST test error without fine-tuning (Table 2). A
    :class:`~aekit.autoencoders.KSparseAutoencoder` (linear encoder, top-k,
    tied weights, squared error, k annealed from 100 to 25 over the first half
    of training) trained with Adam (lr 1e-3, batch 128); features keep the
    α·k = 75 largest units; a softmax (logistic regression) is trained on
    the frozen features with early stopping on the validation images.
    """
    s = ctx.splits
    b = _settings(ctx, {"smoke": dict(units=64, k=5, epochs=2, head_epochs=3),
                        "fast": dict(units=1000, k=25, epochs=15, head_epochs=30),
                        "full": dict(units=1000, k=25, epochs=15, head_epochs=100)})
    from aekit.autoencoders import KSparseAutoencoder, StackedAutoencoderClassifier

    layer = KSparseAutoencoder(b.units, k=b.k, k_alpha=3.0, max_epochs=b.epochs, learning_rate=1e-3,
                               batch_size=128, **ctx.common())
    clf = StackedAutoencoderClassifier(
        [layer], fine_tune=False, head_max_epochs=b.head_epochs, optimizer="adam", learning_rate=1e-3,
        batch_size=128, early_stopping=True, n_iter_no_change=10, random_state=ctx.seed, verbose=ctx.verbose,
        **ctx.common(),
    )
    clock = _Clock()
    clf.fit(s.X_train, s.y_train, X_val=s.X_val, y_val=s.y_val)
    seconds = clock.wall
    err = 1.0 - clf.score(s.X_test, s.y_test)
    return PaperResult(
        "makhzani-ksparse", ctx.budget, "Makhzani & Frey 2014: k-sparse autoencoder (1000 units, k = 25)",
        f"{b.units} units, k = {b.k}, alpha = 3, {b.epochs} epochs (Adam 1e-3); softmax on the codes "
        f"<= {b.head_epochs} epochs (early stopping on validation)",
        [Row(f"k-sparse, k = {b.k}, logistic regression on alpha*k codes (test error)", "1.35%", "error",
             seconds="seconds")],
        [{"error": err, "seconds": seconds}],
        notes=[f"epochs run: autoencoder {len(clf.history_['pretraining'][0])}, softmax {len(clf.history_['softmax'])}"],
    )


def rifai2011_cae(ctx: Context) -> PaperResult:
    """Contractive autoencoder (Rifai et al. 2011): 1000 sigmoid units on MNIST, then fine-tuned.

    Published: 1.14 % MNIST test error (Table 2, CAE used to initialize a
    one-hidden-layer network that is then fine-tuned). A
    :class:`~aekit.autoencoders.ContractiveAutoencoder` (cross-entropy,
    tied weights, closed-form penalty λ‖J‖²_F with λ = 1; the loss sums over
    the 784 pixels) pretrained with Adam, a softmax on its frozen codes (Adam
    1e-3), then the 784-1000-10 network fine-tuned by SGD with momentum 0.9
    (lr 0.3, batch 128, cosine decay to 0), keeping the epoch with the lowest
    validation error.
    """
    s = ctx.splits
    b = _settings(ctx, {"smoke": dict(units=32, pretrain_epochs=1, head_epochs=2, fine_tune_epochs=2),
                        "fast": dict(units=1000, pretrain_epochs=10, head_epochs=10, fine_tune_epochs=20),
                        "full": dict(units=1000, pretrain_epochs=50, head_epochs=10, fine_tune_epochs=60)})
    from aekit.autoencoders import ContractiveAutoencoder

    layer = ContractiveAutoencoder(b.units, loss="cross_entropy", contraction=1.0, tied_weights=True,
                                   max_epochs=b.pretrain_epochs, learning_rate=1e-3, batch_size=128, **ctx.common())
    clf = _sgd_fine_tuned([layer], b, ctx, learning_rate=0.3, batch_size=128, monitor="error")
    r = _pretrain_then_fine_tune(clf, s)
    r["error_before"], r["error_after"] = 1.0 - r["accuracy_before"], 1.0 - r["accuracy_after"]
    return PaperResult(
        "rifai2011-cae", ctx.budget, "Rifai et al. 2011: contractive autoencoder (1000 units), fine-tuned",
        f"{b.units} units, lambda 1, tied weights, {b.pretrain_epochs} epochs (Adam 1e-3); softmax {b.head_epochs} "
        f"epochs (Adam 1e-3); fine-tuning {b.fine_tune_epochs} epochs (SGD 0.3, momentum 0.9, cosine; the epoch "
        "with the lowest validation error kept)",
        [
            Row("CAE, softmax on frozen codes (before fine-tuning)", "-", "error_before", seconds="seconds_pretrain"),
            Row("CAE, fine-tuned 784-1000-10 (test error)", "1.14%", "error_after", seconds="seconds_total"),
        ],
        [_numbers(r)], notes=[_epochs_note(r)],
    )


def ufldl_patches(ctx: Context) -> PaperResult:
    """UFLDL sparse autoencoder on 8 x 8 natural image patches: edge-like filters, scored by Gabor fits.

    Published: a figure of edge-like filters, no number. The exercise: 10 000
    patches, 25 sigmoid hidden units, sigmoid decoder, squared error,
    ρ = 0.01, β = 3, λ = 1e-4, 400 L-BFGS iterations. The filters are scored
    by the median R² of a 2-D Gabor fit (:func:`aekit.metrics.fit_gabor`),
    beside the same score of the untrained filters (the same seed, initial
    weights), the control.
    """
    from sklearn.base import clone

    from aekit.autoencoders import SparseAutoencoder
    from aekit.datasets import natural_image_patches
    from aekit.metrics import fit_gabor

    b = _settings(ctx, {"smoke": dict(n=1000, units=6, epochs=3), "fast": dict(n=10_000, units=25, epochs=300),
                        "full": dict(n=10_000, units=25, epochs=1000)})
    patches = natural_image_patches(b.n, 8, random_state=ctx.seed)
    ae = SparseAutoencoder(b.units, decoder_activation="sigmoid", sparsity_target=0.01, sparsity_weight=3.0,
                           weight_decay=1e-4, max_epochs=b.epochs, learning_rate=1e-2, batch_size=250,
                           random_state=ctx.seed, verbose=ctx.verbose, **ctx.common())
    clock = _Clock()
    ae.fit(patches.X)
    seconds = clock.wall
    fit = fit_gabor(ae.filters_, (8, 8))
    fit0 = fit_gabor(clone(ae).set_params(max_epochs=0, verbose=False).fit(patches.X).filters_, (8, 8))
    return PaperResult(
        "ufldl-patches", ctx.budget, "UFLDL sparse autoencoder on natural image patches (25 filters)",
        f"{b.n} 8x8 patches, {b.units} units, rho 0.01, beta 3, lambda 1e-4, {b.epochs} epochs (Adam 1e-2, batch 250)",
        [
            Row("learnt filters: median Gabor R^2", "edge-like filters (figure)", "median_r2", "", seconds="seconds"),
            Row("untrained filters (same seed): median Gabor R^2 (control)", "-", "untrained_median_r2", ""),
            Row("learnt filters with R^2 > 0.8", "-", "filters_above_0.8", ""),
        ],
        [{"median_r2": fit["median_r2"], "untrained_median_r2": fit0["median_r2"],
          "filters_above_0.8": float((fit["r2"] > 0.8).sum()), "seconds": seconds}],
        data=f"{b.n} natural image patches (aekit.datasets.natural_image_patches, seeded by the run's seed)",
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "vincent2010-sda3", "Vincent et al. 2010, SdA-3", vincent2010_sda3,
            {"smoke": "20 s", "fast": "about 6 minutes", "full": "about 25 minutes"},
            "Adam minibatches for pretraining instead of per-example SGD; momentum-SGD minibatches (128 fast, "
            "32 full) with a cosine schedule for fine-tuning instead of per-example SGD at a constant rate; "
            "fixed epoch counts (full: 40 per layer, 60 of fine-tuning) where the paper selected them, with its "
            "other hyperparameters, on the validation set.",
            (
                Target("fast target: fine-tuned test error <= 1.8 % (3 layers)", lambda m: m["error_after"] <= 0.018,
                       ("fast",)),
                Target("full target: fine-tuned test error <= 1.4 %", lambda m: m["error_after"] <= 0.014, ("full",)),
            ),
        ),
        Recipe(
            "ufldl-stacked", "UFLDL stacked autoencoder", ufldl_stacked,
            {"smoke": "10 s", "fast": "about 90 seconds", "full": "about 5 minutes"},
            "Adam minibatches (lr 3e-3, batch 128) instead of full-batch L-BFGS (400 iterations per layer, 100 "
            "for the softmax, 400 for fine-tuning); training on 50k images (the exercise uses all 60k) with early "
            "stopping of the softmax and fine-tuning on the 10k validation images; during fine-tuning the weight "
            "decay 1e-4 acts on every weight (the exercise decays only the softmax).",
            (
                Target("fine-tuning improves on the softmax on frozen features",
                       lambda m: m["accuracy_after"] > m["accuracy_before"]),
                Target("fast target: fine-tuned accuracy >= 97.0 %", lambda m: m["accuracy_after"] >= 0.970, ("fast",)),
                Target("full target: fine-tuned accuracy >= 97.5 %", lambda m: m["accuracy_after"] >= 0.975, ("full",)),
            ),
        ),
        Recipe(
            "ufldl-selftaught", "UFLDL self-taught learning", ufldl_selftaught,
            {"smoke": "5 s", "fast": "about 30 seconds", "full": "about 3 minutes"},
            "the autoencoder is trained with Adam minibatches (lr 3e-3, batch 128) instead of 400 L-BFGS "
            "iterations.",
            (Target("features beat raw pixels", lambda m: m["accuracy"] > m["raw_pixels_accuracy"]),),
        ),
        Recipe(
            "makhzani-ksparse", "Makhzani & Frey 2014, k-sparse", makhzani_ksparse,
            {"smoke": "5 s", "fast": "about 90 seconds", "full": "about 2 minutes"},
            "Adam instead of momentum SGD, and a short schedule: 15 epochs at both budgets (the full budget trains "
            "the softmax longer).",
            (Target("full target: test error <= 1.6 %", lambda m: m["error"] <= 0.016, ("full",)),),
        ),
        Recipe(
            "rifai2011-cae", "Rifai et al. 2011, CAE", rifai2011_cae,
            {"smoke": "5 s", "fast": "about 2 minutes", "full": "about 6 minutes"},
            "lambda chosen on validation from three values (the paper searches a grid); Adam and momentum-SGD "
            "minibatches instead of per-example SGD; fixed epoch counts (full: 50 of pretraining, 60 of "
            "fine-tuning).",
            (Target("full target: fine-tuned test error <= 1.4 %", lambda m: m["error_after"] <= 0.014, ("full",)),),
        ),
        Recipe(
            "ufldl-patches", "UFLDL sparse autoencoder on patches", ufldl_patches,
            {"smoke": "5 s", "fast": "about 20 seconds", "full": "about 1 minute"},
            "the patches come from scikit-learn's two sample photographs (aekit.datasets.natural_image_patches, "
            "the exercise's normalization: patch mean removed, +-3 std truncation, [0.1, 0.9]), not from the "
            "exercise's pre-whitened images; Adam minibatches (lr 1e-2, batch 250) instead of L-BFGS.",
            (Target("target: median Gabor R^2 >= 0.6", lambda m: m["median_r2"] >= 0.6),),
        ),
    ]
}


def run_recipe(name: str, budget: str = "fast", *, seeds=None, data_home=None, device="cpu", precision="auto",
               verbose=False, context: Context | None = None) -> PaperResult:
    """Run recipe ``name`` at ``budget`` once per seed; the :class:`PaperResult` holds every seed's metrics.

    ``seeds`` defaults to :data:`DEFAULT_SEEDS` of the budget.
    """
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}: use one of {', '.join(map(repr, RECIPES))}.")
    if budget not in BUDGETS:
        raise ValueError(f"Unknown budget {budget!r}: use one of {', '.join(map(repr, BUDGETS))}.")
    seeds = list(DEFAULT_SEEDS[budget] if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass at least one seed, e.g. seeds=[0, 1, 2].")
    ctx = context or Context(budget, data_home, device, precision, seeds[0], verbose)
    from aekit._torch import resolve_device
    from aekit.training import bf16_supported

    native = bf16_supported(resolve_device(ctx.device))
    clock = _Clock()
    runs = []
    for seed in seeds:
        ctx = replace(ctx, seed=int(seed))
        runs.append(RECIPES[name].run(ctx))
    result = runs[0]
    result.metrics = [m for run in runs for m in run.metrics]
    result.seeds = [int(s) for s in seeds]
    if len(runs) > 1:
        result.notes = [f"seed {seed}: {note}" for seed, run in zip(seeds, runs) for note in run.notes]
    result.wall_seconds, result.cpu_seconds = clock.wall, clock.cpu
    result.precision = f"auto ({'bfloat16' if native else 'float32'})" if ctx.precision == "auto" else ctx.precision
    result.data = result.data or ctx.splits.description
    return result


# ---------------------------------------------------------------- output
def _seconds(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 10:
        return f"{t:.1f} s"
    return f"{t / 60:.1f} min" if t >= 120 else f"{t:.0f} s"


def _value(x: float, unit: str) -> str:
    return f"{100.0 * x:.2f}%" if unit == "%" else (f"{x:.0f}" if float(x).is_integer() else f"{x:.3f}")


def _ours(result: PaperResult, row: Row) -> str:
    """The row's value: one seed's, or the mean with the standard deviation and every seed's value."""
    if row.metric is None:
        return "-"
    values = [m[row.metric] for m in result.metrics]
    if len(values) == 1:
        return _value(values[0], row.unit)
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    scale = 100.0 if row.unit == "%" else 1.0
    each = ", ".join(_value(v, row.unit).rstrip("%") for v in values)
    return f"{_value(mean, row.unit)} (sd {scale * sd:.2f}; {each})"


def format_table(result: PaperResult) -> str:
    """The result as a Markdown table with its checks, notes and deviations."""
    seeds = result.seeds or [0]
    ours = "ours" if len(seeds) == 1 else f"ours: mean over seeds {', '.join(map(str, seeds))}"
    lines = [f"| setting | published | {ours} | training time |", "|---|---|---|---|"]
    for row in result.rows:
        t = None if row.seconds is None else statistics.fmean(m[row.seconds] for m in result.metrics)
        lines.append(f"| {row.setting} | {row.published} | {_ours(result, row)} | {_seconds(t)} |")
    lines.append("")
    lines.append(f"- protocol: {result.protocol}")
    lines.append(f"- data: {result.data}")
    lines.append(f"- seeds: {', '.join(map(str, seeds))}; precision: {result.precision}; total "
                 f"{_seconds(result.wall_seconds)} wall, {_seconds(result.cpu_seconds)} CPU (all threads)")
    for text, ok in result.checks:
        lines.append(f"- {'PASS' if ok else 'FAIL'}: {text}" + (" (on the mean)" if len(seeds) > 1 else ""))
    lines += [f"- {note}" for note in result.notes]
    lines.append(f"- deviations: {RECIPES[result.recipe].deviations}")
    return "\n".join(lines)


def format_list() -> str:
    """Every recipe: name, title, and the expected duration of each budget (one seed)."""
    width = max(map(len, RECIPES))
    lines = []
    for r in RECIPES.values():
        budgets = ", ".join(f"{b} {r.durations[b]}" for b in BUDGETS)
        lines.append(f"{r.name:<{width}}  {r.title} ({budgets}; per seed)")
    return "\n".join(lines)


_HEADER = (
    "# Paper reproductions\n\n"
    "Written by `aekit bench paper NAME --budget BUDGET`: one section per recipe and budget, replaced by the\n"
    "next run of the same recipe and budget. Error rates and accuracies are on the 10 000 MNIST test images\n"
    "unless a section says otherwise; `-` in *ours* means the row is a published reference only. How the\n"
    "settings were chosen: paper-notes.md.\n"
)


def update_results_file(path, result: PaperResult, command: str) -> Path:
    """Insert or replace ``result``'s section in the Markdown file ``path`` (written atomically)."""
    path = Path(path)
    start = f"<!-- recipe: {result.recipe} budget: {result.budget} -->"
    end = f"<!-- end: {result.recipe} {result.budget} -->"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join([
        start,
        f"## {result.recipe} (budget {result.budget}): {result.title}",
        "",
        f"- date: {stamp}; commit: {git_commit()}; machine: {machine_description()}",
        f"- command: `{command}`",
        "",
        format_table(result),
        end,
    ])
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    return aio.atomic_write_text(path, text)

"""The generic trainer on tiny modules with known answers."""

import math

import pytest
import torch
from torch import nn

from aekit.training import TrainableModule, Trainer

from _tolerance import rounding_bound


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread is faster on a busy machine


class Ridge(TrainableModule):
    """y ~ X w + b with squared error and an L2 term: a convex problem with a closed-form optimum."""

    def __init__(self, n_features, alpha=0.1, noise=0.0):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)
        self.alpha = alpha
        self.noise = noise

    def loss_terms(self, X, y, generator=None):
        if self.training and self.noise:
            X = X + self.noise * torch.randn(X.shape, generator=generator, device=X.device)
        pred = self.linear(X).squeeze(1)
        return {
            "squared_error": 0.5 * ((pred - y) ** 2).mean(),
            "weight_decay": 0.5 * self.alpha * (self.linear.weight**2).sum(),
        }

    @torch.no_grad()
    def epoch_metrics(self, data):
        return {"weight_norm": float(self.linear.weight.norm())}


def make_regression(n=200, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g)
    y = X @ w + 0.3 + 0.05 * torch.randn(n, generator=g)
    return X, y


def ridge_solution(X, y, alpha):
    # minimize 0.5 mean (Xw + b - y)^2 + 0.5 alpha |w|^2  (b unpenalized)
    n, d = X.shape
    A = torch.cat([X, torch.ones(n, 1)], 1).double()
    P = torch.eye(d + 1, dtype=torch.float64) * alpha * n
    P[d, d] = 0
    theta = torch.linalg.solve(A.T @ A + P, A.T @ y.double())
    return theta[:d].float(), theta[d].float()


@pytest.mark.parametrize(
    "options",
    [
        dict(optimizer="adam", learning_rate=0.05),
        dict(optimizer="sgd", learning_rate=0.05, momentum=0.9),
        dict(optimizer="sgd", learning_rate=0.05, momentum=0.9, nesterov=True),
    ],
)
def test_reaches_the_ridge_optimum(options):
    X, y = make_regression()
    torch.manual_seed(0)
    module = Ridge(5)
    # minibatch noise dies out as the rate decays 5% per epoch
    trainer = Trainer(batch_size=32, max_epochs=100, lr_schedule="exponential:0.95", random_state=0, verbose=False, **options)
    history = trainer.fit(module, (X, y))
    w, b = ridge_solution(X, y, 0.1)
    # an optimization tolerance, not a rounding one: what the minibatch noise of the last epochs leaves
    assert torch.allclose(module.linear.weight[0].detach(), w, atol=2e-3)
    assert abs(module.linear.bias.item() - b.item()) < 2e-3
    assert history[-1]["loss"] < history[0]["loss"]


def test_history_rows_hold_every_term_weighted_by_batch_size():
    class DataMean(TrainableModule):
        # the "loss" is the batch mean of the data: its epoch mean must be the data mean exactly
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def loss_terms(self, x, generator=None):
            return {"data_mean": x.mean() + 0.0 * self.w, "constant": 2.0 + 0.0 * self.w}

        def epoch_metrics(self, data):
            return {"n_seen": float(len(data))}

    x = torch.arange(10, dtype=torch.float32) ** 2  # batches of 4, 4, 2: unequal sizes
    history = Trainer(batch_size=4, max_epochs=3, optimizer="sgd", learning_rate=1e-3, random_state=1, verbose=False).fit(
        DataMean(), x
    )
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for row in history:
        # float32 batch sums of at most 4 squares, weighted by batch size over 10 values
        assert row["data_mean"] == pytest.approx(x.mean().item(), rel=rounding_bound(torch.float32, 4 + 10))
        assert row["constant"] == pytest.approx(2.0)
        assert row["loss"] == pytest.approx(row["data_mean"] + 2.0)
        assert row["n_seen"] == 10.0
        assert row["learning_rate"] == 1e-3
        assert row["epoch_time"] > 0


def test_bit_identical_for_the_same_seed_and_different_for_another():
    X, y = make_regression()

    def run(seed):
        torch.manual_seed(123)  # same initial weights; the trainer must not depend on global state
        module = Ridge(5, noise=0.5)
        hist = Trainer(batch_size=16, max_epochs=5, random_state=seed, verbose=False).fit(module, (X, y))
        return module.linear.weight.detach().clone(), hist

    w1, h1 = run(7)
    torch.manual_seed(999)  # disturbing the global generator changes nothing
    torch.rand(10)
    w2, h2 = run(7)
    w3, _ = run(8)
    assert torch.equal(w1, w2)
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    assert not torch.equal(w1, w3)


def test_quiet_mode_prints_nothing_and_verbose_shows_a_bar(capsys):
    X, y = make_regression(n=64)
    Trainer(batch_size=16, max_epochs=2, random_state=0, verbose=False).fit(Ridge(5), (X, y))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    Trainer(batch_size=16, max_epochs=2, random_state=0, verbose=True).fit(Ridge(5), (X, y))
    err = capsys.readouterr().err
    assert "8/8" in err and "loss=" in err


@pytest.mark.parametrize(
    "spec, factors",
    [
        ("constant", [1, 1, 1, 1]),
        ("step:2:0.5", [1, 1, 0.5, 0.5]),
        ("exponential:0.5", [1, 0.5, 0.25, 0.125]),
        ("cosine", [1, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5, 0.5 + 0.5 * math.cos(3 * math.pi / 4)]),
        ("linear", [1, 0.75, 0.5, 0.25]),
        (lambda epoch: 1 / (1 + epoch), [1, 1 / 2, 1 / 3, 1 / 4]),
    ],
)
def test_learning_rate_schedules(spec, factors):
    X, y = make_regression(n=32)
    history = Trainer(learning_rate=0.01, max_epochs=4, lr_schedule=spec, random_state=0, verbose=False).fit(
        Ridge(5), (X, y)
    )
    assert [row["learning_rate"] for row in history] == pytest.approx([0.01 * f for f in factors])


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(optimizer="adagrad"), "'optimizer' parameter of Trainer must be a str among .*'adam'"),
        (dict(lr_schedule="warmup"), "Unknown lr_schedule 'warmup'"),
        (dict(lr_schedule="step:0"), "step size must be a positive integer"),
        (dict(lr_schedule="cosine:a"), "must be numbers"),
        (dict(lr_schedule="constant:1"), "takes no arguments"),
        (dict(precision="float16"), "'precision' parameter of Trainer must be a str among"),
        (dict(batch_size=0), "'batch_size' parameter of Trainer must be an int in the range \\[1, inf\\)"),
        (dict(max_epochs=2.5), "'max_epochs' parameter of Trainer must be an int"),
        (dict(learning_rate=-1.0), "'learning_rate' parameter of Trainer must be a float in the range \\(0.0, inf\\)"),
        (dict(learning_rate=float("nan")), "'learning_rate' parameter of Trainer must be a float"),
        (dict(validation_fraction=1.0), "'validation_fraction' parameter of Trainer must be a float in the range"),
        (dict(nesterov=True), "nesterov=True needs optimizer='sgd'"),
        (dict(resume=True), "resume=True needs a checkpoint_dir"),
        (dict(device="tpu:7"), "device="),
    ],
)
def test_bad_parameters_get_clear_errors(options, match):
    X, y = make_regression(n=16)
    with pytest.raises(ValueError, match=match):
        Trainer(verbose=False, **options).fit(Ridge(5), (X, y))


def test_bad_data_and_bad_modules_get_clear_errors():
    X, y = make_regression(n=16)
    with pytest.raises(TypeError, match="subclass aekit.training.TrainableModule"):
        Trainer(verbose=False).fit(nn.Linear(5, 1), (X, y))
    with pytest.raises(ValueError, match="zero samples"):
        Trainer(verbose=False).fit(Ridge(5), (X[:0], y[:0]))
    with pytest.raises(ValueError, match=r"data\[1\] has 15 samples"):
        Trainer(verbose=False).fit(Ridge(5), (X, y[:15]))
    with pytest.raises(TypeError, match="torch.as_tensor"):
        Trainer(verbose=False).fit(Ridge(5), (X.numpy(), y))

    class NoDict(TrainableModule):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def loss_terms(self, x, generator=None):
            return self.w * x.mean()

    with pytest.raises(TypeError, match="must return a non-empty dict"):
        Trainer(verbose=False).fit(NoDict(), X)

    class Diverges(Ridge):
        def loss_terms(self, X, y, generator=None):
            return {"bad": self.linear.weight.sum() * float("inf")}

    with pytest.raises(FloatingPointError, match="diverged at epoch 1"):
        Trainer(verbose=False).fit(Diverges(5), (X, y))


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = make_regression(n=200)
    # an SGD rate so high the loss oscillates upward: the best epoch is early and must be restored
    module = Ridge(5)
    trainer = Trainer(
        optimizer="sgd", learning_rate=0.02, momentum=0.0, batch_size=20, max_epochs=200, lr_schedule=lambda e: 1.0 if e < 5 else 60.0,
        early_stopping=True, n_iter_no_change=3, random_state=0, verbose=False,
    )
    history = trainer.fit(module, (X, y))
    assert len(history) < 200
    best = min(history, key=lambda r: r["val_loss"])
    assert trainer.best_epoch_ == best["epoch"]
    assert len(history) == trainer.best_epoch_ + 3
    # restored weights reproduce the best epoch's validation loss
    split_gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(200, generator=split_gen)
    Xv, yv = X[perm[:20]], y[perm[:20]]
    module.eval()
    with torch.no_grad():
        terms = module.loss_terms(Xv, yv)
    # the same non-negative float32 terms (20 squared errors, 5 squared weights) recomputed
    assert sum(t.item() for t in terms.values()) == pytest.approx(best["val_loss"], rel=rounding_bound(torch.float32, 20 + 5))


def test_val_data_is_logged_without_early_stopping():
    X, y = make_regression(n=100)
    history = Trainer(max_epochs=3, random_state=0, verbose=False).fit(Ridge(5), (X[:80], y[:80]), val_data=(X[80:], y[80:]))
    assert all({"val_loss", "val_squared_error", "val_weight_decay"} <= set(row) for row in history)
    assert len(history) == 3


class RidgeWithError(Ridge):
    """Ridge that also reports a validation quantity it does not minimize: the mean absolute error."""

    def validation_metrics(self, X, y):
        return {"abs_error": (self.linear(X).squeeze(1) - y).abs().mean()}


def test_validation_metrics_are_logged_but_not_added_to_the_validation_loss():
    X, y = make_regression(n=100)
    module = RidgeWithError(5)
    history = Trainer(max_epochs=2, random_state=0, verbose=False).fit(module, (X[:80], y[:80]), val_data=(X[80:], y[80:]))
    row = history[-1]
    sum_of_terms = row["val_squared_error"] + row["val_weight_decay"]  # two non-negative float32 numbers
    assert row["val_loss"] == pytest.approx(sum_of_terms, rel=rounding_bound(torch.float32, 2))
    with torch.no_grad():
        expected = (module.linear(X[80:]).squeeze(1) - y[80:]).abs().mean().item()
        # each residual is a length-5 dot product, a bias and a difference away from exact; then a mean of 20
        scale = (X[80:].abs() @ module.linear.weight[0].abs() + module.linear.bias.abs() + y[80:].abs()).mean()
    slack = rounding_bound(torch.float32, 5 + 2, scale.item()) + rounding_bound(torch.float32, 20, expected)
    assert row["val_abs_error"] == pytest.approx(expected, abs=slack)


def test_early_stopping_can_monitor_a_validation_metric():
    X, y = make_regression(n=200)
    module = RidgeWithError(5)
    trainer = Trainer(
        optimizer="sgd", learning_rate=0.02, momentum=0.0, batch_size=20, max_epochs=200,
        lr_schedule=lambda e: 1.0 if e < 5 else 60.0, early_stopping=True, n_iter_no_change=3,
        monitor="abs_error", random_state=0, verbose=False,
    )
    history = trainer.fit(module, (X, y))
    best = min(history, key=lambda r: (r["val_abs_error"], r["val_loss"]))
    assert trainer.best_epoch_ == best["epoch"]
    assert len(history) < 200


@pytest.mark.parametrize("monitor", ["accuracy", "val_loss", ""])
def test_an_unknown_monitor_is_a_clear_error(monitor):
    X, y = make_regression(n=100)
    trainer = Trainer(max_epochs=2, early_stopping=True, monitor=monitor, random_state=0, verbose=False)
    with pytest.raises(ValueError, match="monitor"):
        trainer.fit(RidgeWithError(5), (X, y))


def test_early_stopping_breaks_ties_of_the_monitored_value_by_the_tiebreak():
    from aekit.training._early_stopping import EarlyStopping

    stopper, module = EarlyStopping(n_iter_no_change=5, tol=0.0), nn.Linear(1, 1)
    for epoch, (value, loss) in enumerate([(0.02, 0.30), (0.01, 0.25), (0.01, 0.20), (0.01, 0.22), (0.03, 0.10)], 1):
        stopper.update(value, epoch, module, loss)
    assert stopper.best_epoch == 3  # the lowest value; among equal values the lowest tie-break
    assert stopper.no_improvement == 3  # equal values are not improvements


def test_history_is_written_as_csv_and_json(tmp_path):
    import csv

    from aekit.training import read_history, write_history

    X, y = make_regression(n=64)
    history = Trainer(max_epochs=3, random_state=0, verbose=False).fit(Ridge(5), (X, y))
    history[1]["late_term"] = 0.5  # rows may differ in their keys
    csv_path, json_path = write_history(tmp_path / "run", history)
    assert read_history(tmp_path / "run") == history
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [*history[0], "late_term"]
    assert [float(r["loss"]) for r in rows] == [r["loss"] for r in history]
    assert [r["late_term"] for r in rows] == ["", "0.5", ""]
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a training history"):
        read_history(tmp_path / "bad.json")


class _Recorder(TrainableModule):
    """Records the order of the step hooks and the learning rate each step saw."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        self.events: list[str] = []
        self.optimizer = None

    def loss_terms(self, x, generator=None):
        self.events.append("loss")
        return {"mse": ((self.lin(x) - x) ** 2).mean()}

    def before_optimizer_step(self):
        assert self.lin.weight.grad is not None
        self.events.append("before")

    def after_optimizer_step(self):
        self.events.append("after")


def test_step_hooks_run_around_every_optimizer_step():
    module = _Recorder()
    Trainer(batch_size=4, max_epochs=2, verbose=False, random_state=0).fit(module, torch.randn(10, 3))
    assert module.events == ["loss", "before", "after"] * 6  # 3 steps per epoch


def test_warmup_and_per_step_schedule_set_each_steps_rate(monkeypatch):
    import aekit.training._trainer as tr

    seen = []
    original = tr._set_lr
    monkeypatch.setattr(tr, "_set_lr", lambda opt, lr: (seen.append(lr), original(opt, lr)))
    trainer = Trainer(batch_size=5, max_epochs=2, learning_rate=0.1, warmup_steps=3, lr_schedule="linear",
                      schedule_per_step=True, verbose=False, random_state=0)
    history = trainer.fit(_Recorder(), torch.randn(20, 3))  # 4 steps per epoch
    expected = [0.1 * (1 - (s / 4) / 2) * min(1.0, (s + 1) / 3) for s in range(8)]
    assert seen == pytest.approx(expected, rel=1e-12)
    assert history[-1]["learning_rate"] == pytest.approx(expected[-1], rel=1e-12)
    # per epoch (the default): one rate per epoch, warm-up still per step
    seen.clear()
    Trainer(batch_size=5, max_epochs=2, learning_rate=0.1, lr_schedule="linear", verbose=False,
            random_state=0).fit(_Recorder(), torch.randn(20, 3))
    assert seen == pytest.approx([0.1, 0.05], rel=1e-12)


def test_auto_precision_picks_bfloat16_only_where_native_and_the_model_is_large(monkeypatch):
    import aekit.training._trainer as tr

    small, large = torch.nn.Linear(64, 100), torch.nn.Linear(300, 300)  # 6 400 and 90 000 weights

    def resolved(module, native):
        monkeypatch.setattr(tr, "bf16_supported", lambda device: native)
        return Trainer(precision="auto")._resolve_precision(torch.device("cpu"), module)

    assert resolved(large, native=True) == "bfloat16"
    assert resolved(large, native=False) == "float32"  # no native bfloat16: float32, never emulated
    assert resolved(small, native=True) == "float32"  # too small to gain from bfloat16
    assert tr.AUTO_BFLOAT16_MIN_WEIGHTS == 1 << 16
    with pytest.raises(ValueError, match="no native bfloat16"):
        monkeypatch.setattr(tr, "bf16_supported", lambda device: False)
        Trainer(precision="bfloat16")._resolve_precision(torch.device("cpu"), large)

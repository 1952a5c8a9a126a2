"""The generic training loop: minibatches, an optimizer, a schedule, a history.

The loop never asks what it trains. A :class:`~aekit.training.TrainableModule`
names its losses; each step computes

    L(theta; batch) = sum_k  loss_terms(batch)[k]

backpropagates it and steps the optimizer. Every term is logged per epoch as
its mean over the epoch's samples (each batch weighted by its size).

Batches come from a :class:`~aekit.training.BatchSource` (index slices of
tensors on the device, see :mod:`aekit.training._data`); the optimizers are
torch's fused kernels (one pass over the parameters). Measurements of these
choices are in ``benchmarks/results/training.md``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import numbers
import time

import numpy as np
import torch

from aekit._params import check_options, make_init, option_values, parameters_doc
from aekit._torch import resolve_device, seed_from
from aekit._validation import resolve_option
from aekit.training._checkpoint import load_checkpoint, restore_run, run_settings, save_run
from aekit.training._data import BatchSource, check_data, place_data, split_rows
from aekit.training._distributed import all_reduce_sum, setup_distributed, wrap_module
from aekit.training._early_stopping import EarlyStopping
from aekit.training._optimizers import OPTIMIZERS, make_optimizer
from aekit.training._options import CHECKPOINT_OPTIONS, PRECISIONS, RUN_OPTIONS, TRAINING_OPTIONS
from aekit.training._schedules import resolve_schedule
from aekit.training._trainable import FusedStep, TrainableModule

__all__ = ["Trainer", "OPTIMIZERS", "PRECISIONS", "bf16_supported"]

# The trainer's own defaults where they differ from the estimators': a progress bar.
_TRAINER_DEFAULTS = {"verbose": True}


#: ``precision="auto"`` trains in bfloat16 (where the device computes it natively) when the module's
#: largest parameter has at least this many entries: below it the products are too small for
#: bfloat16 to pay for its conversions (a 64-100-64 model trains slower in bfloat16 than in float32).
AUTO_BFLOAT16_MIN_WEIGHTS = 1 << 16
# History keys the trainer writes itself; a loss term or metric may not reuse them.
RESERVED_KEYS = ("epoch", "loss", "val_loss", "learning_rate", "epoch_time")


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 matmuls natively (CUDA compute >= 8.0, CPU AVX512-BF16 / AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


class Trainer:
    """Minibatch training of any :class:`~aekit.training.TrainableModule`.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    history_ : list of dict
        One dict per epoch: ``epoch`` (1-based), ``loss`` (the summed terms),
        every loss term, ``val_loss``, ``val_<term>`` and the module's
        ``validation_metrics`` as ``val_<name>`` (with validation data),
        the module's ``epoch_metrics``, ``learning_rate`` and ``epoch_time`` (s).
    best_epoch_ : int or None
        The epoch whose weights were kept (early stopping), else None.
    precision_ : str
        The precision used ("float32" or "bfloat16") after resolving "auto".
    fused_ : bool
        Whether the module's hand-written step (``fused_step``) trained it.

    Notes
    -----
    *Reproducibility.* Three generators derive from one seed: the shuffling
    generator (on the CPU: the same permutations on any device), the noise
    generator passed to ``loss_terms`` (on the model's device, one stream per
    rank) and a validation generator re-seeded every epoch. No global seed is
    read or set.

    *A step* is ``loss_terms`` under autocast (bfloat16 precision) and
    autograd, the module's ``before_optimizer_step`` hook, the optimizer's
    update (torch's fused kernels, see :mod:`aekit.training._optimizers`) and
    its ``after_optimizer_step`` hook. A module may offer a hand-written
    step for its configuration (:meth:`~aekit.training.TrainableModule.fused_step`);
    the trainer uses it in a single process without ``compile`` (unless
    ``fused_step=False``): the same computation, without an autograd graph
    and with the low-precision weight copies cast once per step.

    *Checkpoints* (``checkpoint_dir``): after every epoch (and every
    ``checkpoint_every`` steps within one), the model's
    ``state_dict``, the optimizer state, the generator states and the best
    weights go to safetensors, and the epoch, seed, settings, history and
    early-stopping counters to JSON (see :mod:`aekit.training._checkpoint`).
    ``resume=True`` continues from there exactly (bit-identical on the CPU,
    even after SIGKILL); a checkpoint written with other settings or data is
    refused. ``max_epochs`` may grow on resume (with a schedule that depends on
    it, the rates of the remaining epochs change accordingly).

    *Data parallelism.* Under ``torchrun`` (or in an initialized process
    group) every rank runs this loop on the same permutation; ``batch_size``
    is the global batch, each rank trains on its slice and
    DistributedDataParallel averages the gradients (see
    :mod:`aekit.training._distributed`). Epoch means and validation losses are
    all-reduced, so every rank has the same history; only rank 0 writes
    checkpoints and draws the progress bar.
    """

    __init__ = make_init(TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS, defaults=_TRAINER_DEFAULTS)

    # ------------------------------------------------------------ checks
    def _check_params(self) -> None:
        options = {**TRAINING_OPTIONS, **CHECKPOINT_OPTIONS, **RUN_OPTIONS}
        check_options(options, option_values(self, options), "Trainer")
        resolve_option("optimizer", self.optimizer, OPTIMIZERS)
        if not self.monitor or self.monitor.startswith("val_"):
            raise ValueError(
                f"monitor must be 'loss', a loss term's name or a validation metric's name (e.g. 'error'), "
                f"without the 'val_' prefix; got {self.monitor!r}."
            )
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov=True needs optimizer='sgd' and momentum > 0.")
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir to resume from.")
        resolve_schedule(self.lr_schedule)

    def _resolve_precision(self, device: torch.device, module: torch.nn.Module) -> str:
        if self.precision == "auto":
            largest = max((p.numel() for p in module.parameters()), default=0)
            fast = bf16_supported(device) and largest >= AUTO_BFLOAT16_MIN_WEIGHTS
            return "bfloat16" if fast else "float32"
        if self.precision == "bfloat16" and not bf16_supported(device):
            raise ValueError(
                f"precision='bfloat16' but {device} has no native bfloat16 support; use precision='float32' or 'auto'."
            )
        return self.precision

    # ------------------------------------------------------------ fit
    def fit(self, module: TrainableModule, data, val_data=None) -> list[dict]:
        """Train ``module`` in place on ``data``; return the per-epoch history.

        Parameters
        ----------
        module : TrainableModule
            Moved to the trainer's device.
        data : Tensor, tuple of Tensor or BatchSource
            The training data: tensors of shape (n_samples, ...), whose batches
            are tuples of index slices, or a :class:`~aekit.training.BatchSource`.
        val_data : Tensor, tuple of Tensor or BatchSource, optional
            Validation data (same layout); its loss is logged every epoch.

        Returns
        -------
        history : list of dict
            Also stored as ``history_``.
        """
        self._check_params()
        if not isinstance(module, TrainableModule):
            raise TypeError(
                f"Trainer.fit trains a TrainableModule (with loss_terms), got {type(module).__name__}; "
                "subclass aekit.training.TrainableModule."
            )
        run = _Run(self, module, data, val_data)
        try:
            run.train()
        finally:
            run.close()
        self.history_, self.best_epoch_, self.fused_ = run.history, run.best_epoch, run.fused is not None
        return self.history_


class _Run:
    """The state of one ``Trainer.fit``: the module and its optimizer, the data, generators, history."""

    def __init__(self, trainer: Trainer, module: TrainableModule, data, val_data):
        self.trainer = trainer
        self.module = module
        data = data if isinstance(data, BatchSource) else check_data(data, "data")
        if val_data is not None and not isinstance(val_data, BatchSource):
            val_data = check_data(val_data, "val_data")
        self.ctx = ctx = setup_distributed(resolve_device(trainer.device))
        device = ctx.device
        self.schedule = resolve_schedule(trainer.lr_schedule)
        trainer.precision_ = self.precision = trainer._resolve_precision(device, module)
        self.checkpoint = load_checkpoint(trainer.checkpoint_dir, device) if trainer.resume else None
        self.seed = self._seed()
        # Shuffling draws on the CPU (the same permutations on every device, a few hundred
        # microseconds per epoch); noise is drawn where the model computes.
        self.shuffle_gen = torch.Generator()
        self.shuffle_gen.manual_seed(self.seed)
        self.noise_gen = torch.Generator(device=device)
        self.noise_gen.manual_seed(_derived_seed(self.seed, 1, ctx.rank))
        self.val_seed = _derived_seed(self.seed, 2, ctx.rank)

        if trainer.early_stopping and val_data is None:
            if isinstance(data, BatchSource):
                raise ValueError("early_stopping with a BatchSource needs val_data (the source cannot be split).")
            data, val_data = split_rows(data, trainer.validation_fraction, self.shuffle_gen)
        self.train_data = place_data(data, device, trainer.batch_size)
        self.val_data = None if val_data is None else place_data(val_data, device, trainer.batch_size)

        module.to(device)
        self.optimizer = make_optimizer(trainer.optimizer, module.parameters(), trainer)
        self.stopper = EarlyStopping(trainer.n_iter_no_change, trainer.tol) if trainer.early_stopping else None
        self.settings = run_settings(trainer, self.seed, ctx, self.train_data, self.val_data)
        self.steps_per_epoch = -(-len(self.train_data) // trainer.batch_size)
        self.history: list[dict] = []
        self.epoch_shuffle_state = None  # the shuffling generator's state when the current epoch started
        # Where the run starts: epochs done, steps done within the next epoch and that epoch's partial sums.
        self.start_epoch, self.start_step, self.partial = 0, 0, None
        if self.checkpoint is not None:
            self.start_epoch, self.start_step, self.partial = restore_run(self, self.checkpoint)
        self.fused = self._fused_step(device)
        self.model = wrap_module(module, ctx)
        if trainer.compile:
            self.model = torch.compile(self.model)
        self.autocast = _autocast(device, self.precision)

    def _fused_step(self, device: torch.device) -> FusedStep | None:
        """The module's hand-written step at the run's precision, where it applies (see ``fused_step``)."""
        t = self.trainer
        if not t.fused_step or t.compile or self.ctx.world_size > 1:
            return None
        compute = torch.bfloat16 if self.precision == "bfloat16" else torch.float32
        return self.module.fused_step(compute)

    def _seed(self) -> int:
        random_state = self.trainer.random_state
        if self.checkpoint is None:
            return seed_from(random_state)
        # random_state=None (or a numpy Generator) resumes with the checkpoint's seed
        seed = int(self.checkpoint.info["seed"])
        if isinstance(random_state, numbers.Integral) and seed_from(random_state) != seed:
            raise ValueError(
                f"cannot resume from {self.trainer.checkpoint_dir}: it was written with random_state={seed}, "
                f"not {random_state}. Use the same seed (or None), or resume=False to start over."
            )
        return seed

    @property
    def best_epoch(self) -> int | None:
        return None if self.stopper is None else self.stopper.best_epoch

    def train(self) -> None:
        t = self.trainer
        steps = self.steps_per_epoch
        initial = self.start_epoch * steps + self.start_step
        bar = _progress(t.max_epochs * steps, t.verbose and self.ctx.is_main, initial=initial)
        with _flush_denormal(self.ctx.device, t.flush_denormal), bar:
            for epoch in range(self.start_epoch, t.max_epochs):
                if self.stopper is not None and self.stopper.stopped:
                    break
                self.history.append(self._epoch(epoch, bar))
                bar.set_postfix(_postfix(self.history[-1]), refresh=False)
                if self.stopper is not None:
                    value, tiebreak = _monitored(self.history[-1], t.monitor, self.module)
                    self.stopper.update(value, epoch + 1, self.module, tiebreak)
                if t.checkpoint_dir is not None:
                    save_run(self, epoch + 1)
        if self.stopper is not None:
            self.stopper.restore_best(self.module)
        self.module.eval()

    def close(self) -> None:
        # DistributedDataParallel keeps reference cycles; freed only at interpreter exit, they make
        # gloo abort the process ("terminate called without an active exception").
        self.model = None
        if self.ctx.world_size > 1:
            gc.collect()

    def _epoch(self, epoch: int, bar) -> dict:
        """Train one epoch, then validate and measure; the epoch's history row."""
        t, module = self.trainer, self.module
        t0 = time.perf_counter()
        module.train()
        module.on_epoch_start(epoch, t.max_epochs, self.train_data)
        skip = self.start_step if epoch == self.start_epoch else 0
        if skip:
            # Resumed mid-epoch: the hook ran as at the epoch's start; the checkpoint holds the state since.
            module.load_state_dict(self.checkpoint.module_state)
            if self.fused is not None:
                self.fused.after_optimizer_step()
        row = {"epoch": epoch + 1, **self._train_epoch(epoch, skip, bar)}
        if not math.isfinite(row["loss"]):
            raise FloatingPointError(
                f"training diverged at epoch {epoch + 1}: the loss is {row['loss']}; "
                f"lower learning_rate (now {t.learning_rate}) or check the data for extreme values."
            )
        if self.val_data is not None:
            row.update(self._evaluate())
        module.eval()
        with self.autocast:  # diagnostics at the training precision
            metrics = module.epoch_metrics(self.train_data)
        _check_metrics(metrics)
        row.update({k: float(v) for k, v in metrics.items()})
        row["learning_rate"] = self._learning_rate(epoch, self.steps_per_epoch - 1)
        row["epoch_time"] = time.perf_counter() - t0
        return row

    def _learning_rate(self, epoch: int, step: int) -> float:
        """The rate of step ``step`` (0-based) of epoch ``epoch``: schedule times warm-up."""
        t = self.trainer
        at = epoch + step / self.steps_per_epoch if t.schedule_per_step else epoch
        lr = t.learning_rate * self.schedule(at, t.max_epochs)
        if t.warmup_steps:
            lr *= min(1.0, (epoch * self.steps_per_epoch + step + 1) / t.warmup_steps)
        return lr

    def _train_epoch(self, epoch: int, skip: int, bar) -> dict[str, float]:
        """One pass over the shuffled data in global batches (after the first ``skip``, when resumed);
        the epoch means of the terms and of their sum."""
        t, n, ctx = self.trainer, len(self.train_data), self.ctx
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        if skip:
            sums, seen = self.partial
            self.shuffle_gen.set_state(self.epoch_shuffle_state)
        else:
            self.epoch_shuffle_state = self.shuffle_gen.get_state()
        per_step = t.schedule_per_step or t.warmup_steps
        lr = self._learning_rate(epoch, skip)
        _set_lr(self.optimizer, lr)
        shown = time.perf_counter()
        batches = self.train_data.shuffled(t.batch_size, self.shuffle_gen, ctx, skip=skip)
        for step, (batch, scale, count) in enumerate(batches, start=skip):
            if per_step and step > skip:
                _set_lr(self.optimizer, self._learning_rate(epoch, step))
            terms = self._step(batch, scale, step == 0)
            for k, v in terms.items():
                v = v.detach().float() * count
                sums[k] = sums[k] + v if k in sums else v
            bar.update(1)
            seen += count
            if bar.live and time.perf_counter() - shown > 1.0:  # the running epoch loss, once a second
                shown = time.perf_counter()
                bar.set_postfix(loss=f"{float(sum(sums.values())) / max(seen, 1):.4g}", refresh=False)
            done = step + 1
            if t.checkpoint_dir is not None and t.checkpoint_every and done % t.checkpoint_every == 0 \
                    and done < self.steps_per_epoch:
                save_run(self, epoch, step=done, partial=(sums, seen))
        names = list(sums)
        totals = all_reduce_sum(torch.stack([sums[k] for k in names]), ctx).tolist()
        row = {k: v / n for k, v in zip(names, totals)}
        return {"loss": sum(row.values()), **row}

    def _step(self, batch: tuple[torch.Tensor, ...], scale: float, first: bool) -> dict[str, torch.Tensor]:
        """One optimizer step on ``batch``; its loss terms."""
        module = self.module
        if self.fused is not None:
            terms = self.fused(*batch, generator=self.noise_gen)
            if first:
                _check_terms(terms, module, fused=True)
        else:
            with self.autocast:
                terms = self.model(*batch, generator=self.noise_gen)
            if first:
                _check_terms(terms, module)
            loss = sum(terms.values())
            self.optimizer.zero_grad(set_to_none=True)
            (loss * scale if scale != 1.0 else loss).backward()
        module.before_optimizer_step()
        self.optimizer.step()
        module.after_optimizer_step()
        if self.fused is not None:
            self.fused.after_optimizer_step()
        return terms

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        """Mean loss terms and validation metrics on the validation data, in eval mode, fixed-seed noise.

        Under data parallelism each rank evaluates its slice of every batch and
        the sums are all-reduced, so every rank sees the same validation loss.
        """
        module, ctx = self.module, self.ctx
        module.eval()
        gen = torch.Generator(device=ctx.device)
        gen.manual_seed(self.val_seed)
        sums: dict[str, torch.Tensor] = {}
        extra: dict[str, torch.Tensor] = {}
        for batch, _scale, count in self.val_data.ordered(self.trainer.batch_size, ctx):
            with self.autocast:
                terms = module.loss_terms(*batch, generator=gen)
                metrics = module.validation_metrics(*batch)
            for acc, values in ((sums, terms), (extra, metrics)):
                for k, v in values.items():
                    v = v.detach().float() * count
                    acc[k] = acc[k] + v if k in acc else v
        clash = sorted(set(sums) & set(extra))
        if clash:
            raise ValueError(f"{type(module).__name__}.validation_metrics reuses loss term names {clash}; rename them.")
        merged = {**sums, **extra}
        n = len(self.val_data)
        totals = all_reduce_sum(torch.stack(list(merged.values())), ctx).tolist()
        means = {k: v / n for k, v in zip(merged, totals)}
        return {"val_loss": sum(means[k] for k in sums), **{f"val_{k}": v for k, v in means.items()}}


Trainer.__doc__ = Trainer.__doc__.replace(
    "{parameters}", parameters_doc(TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS, defaults=_TRAINER_DEFAULTS)
)


# ---------------------------------------------------------------- helpers
def _derived_seed(seed: int, stream: int, rank: int = 0) -> int:
    """An independent 63-bit seed for stream ``stream`` (of rank ``rank``) of the run seeded by ``seed``."""
    state = np.random.SeedSequence(seed, spawn_key=(stream, rank)).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & (2**63 - 1)


def _autocast(device: torch.device, precision: str):
    if precision == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _flush_denormal(device: torch.device, enabled: bool):
    """Flush denormals to zero on the CPU for the duration, then restore the previous mode."""
    if not enabled or device.type != "cpu":
        yield
        return
    # torch has no getter: a denormal survives a multiplication by one exactly when flushing is off.
    was_on = bool(torch.tensor([1e-40], dtype=torch.float32).mul(1.0).item() == 0.0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


def _monitored(row: dict, monitor: str, module) -> tuple[float, float]:
    """(monitored value, tie-break) of an epoch's history row for early stopping."""
    if monitor == "loss":
        return row["val_loss"], 0.0
    key = f"val_{monitor}"
    if key not in row:
        known = ["loss", *(k.removeprefix("val_") for k in row if k.startswith("val_") and k != "val_loss")]
        raise ValueError(
            f"monitor={monitor!r}: {type(module).__name__} reports no validation quantity {monitor!r}; "
            f"choose one of {known}."
        )
    return row[key], row["val_loss"]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _check_terms(terms, module, fused: bool = False) -> None:
    name = type(module).__name__
    if not isinstance(terms, dict) or not terms:
        raise TypeError(f"{name}.loss_terms must return a non-empty dict of named scalar tensors, got {terms!r}.")
    for k, v in terms.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor) or v.ndim != 0:
            raise TypeError(f"{name}.loss_terms returned {k!r}: {type(v).__name__}; every term must be a scalar tensor.")
        if k in RESERVED_KEYS or k.startswith("val_"):
            raise ValueError(f"{name}.loss_terms names a term {k!r}, which the trainer's history uses; rename it.")
    if not fused and not any(v.requires_grad for v in terms.values()):
        raise ValueError(
            f"no term of {name}.loss_terms depends on a parameter (requires_grad is False everywhere); "
            "compute the losses from the module's parameters, outside torch.no_grad."
        )


def _check_metrics(metrics) -> None:
    if not isinstance(metrics, dict):
        raise TypeError(f"epoch_metrics must return a dict of floats, got {type(metrics).__name__}.")
    for k in metrics:
        if k in RESERVED_KEYS:
            raise ValueError(f"epoch_metrics names a metric {k!r}, which the trainer's history uses; rename it.")


def _postfix(row: dict) -> dict:
    out = {"epoch": row["epoch"], "loss": f"{row['loss']:.4g}"}
    if "val_loss" in row:
        out["val_loss"] = f"{row['val_loss']:.4g}"
    return out


class _NoBar:
    live = False

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(total: int, verbose: bool, initial: int = 0):
    if not verbose:
        return _NoBar()
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="batch", dynamic_ncols=True, leave=True)
    bar.live = True
    return bar

"""Drivers for the four peer sparse-autoencoder libraries, for ``bench_sae.py``.

Each ``train_<peer>`` trains that library's TopK sparse autoencoder with the
library's **own trainer**, fed from one in-memory activation tensor, and
returns a :class:`PeerResult` (throughput, the trained model's encode /
decode / reconstruct, the peer's own dead-latent count, and every setting
used). ``train_reference`` is the same model as a minimal plain-PyTorch loop.
The benchmark then scores every result on the same held-out rows itself, so
no peer's own metric definition is trusted for the comparison.

What every driver shares (so that only the library differs):

- **The same batches in the same order.** :func:`batch_indices` draws one
  permutation per epoch from ``seed``; step ``i`` trains on rows
  ``X[idx[i]]`` (an index slice of the in-memory tensor, cast to float32).
  Nothing is precomputed for one peer and not for another.
- **Width, k, batch size, token budget** (``n_steps = n_tokens // batch_size``).
- **Adam at the same learning rate and schedule**: linear warmup over
  ``warmup_steps`` (``lr * step / warmup``), constant, then a linear decay to
  0 from ``decay_start`` to the last step (:func:`lr_multiplier`, the schedule
  of Gao et al. and dictionary_learning). The default learning rate is
  ``2e-4 / sqrt(n_latents / 2**14)`` (Gao et al.'s scaling law, which both
  sparsify and dictionary_learning pick automatically). Adam's betas are
  (0.9, 0.999) everywhere.
- **The data as given.** No driver rescales or centres the activations (every
  peer's own input normalization is off): the benchmark passes all of them the
  same tensor, already scaled (e.g. to E||x||^2 = d).
- **The dead-latent window** ``dead_tokens`` (tokens without firing after
  which a latent counts as dead and AuxK revives it), in each peer's own unit.
- **Process settings**: ``torch.set_num_threads(threads)`` and denormals
  flushed to zero around every run, restored afterwards; the global float32
  matmul precision is restored after sparsify changes it.
- **Precision**: ``"float32"`` (every peer's default on a CPU) or
  ``"bfloat16"``: bfloat16 autocast of the training step with float32
  parameters and optimizer state -- the peer's own switch where it has one for
  this device (SAELens ``autocast=True``), else ``torch.autocast("cpu",
  torch.bfloat16)`` around the peer's training call, as a user would write.

Timing. Each driver records a tick whenever the peer's trainer takes its next
batch. ``steady_tokens_per_s`` counts the steps between the tick of step
``skip_steps`` and the tick of the last step (excluding start-up: first-call
allocation, b_dec initialisation; and shut-down: final checkpoint writes);
``best_step_tokens_per_s`` is the fastest single step among those (other
processes only ever add time, so on a shared machine it is the least disturbed
estimate); ``tokens_per_s`` is the whole training call, start-up and shut-down
included. Runs on a shared machine are noisy: compare peers interleaved in one
process (the ``__main__`` smoke test does), never across runs.

The peers, one paragraph each (exact settings are in each ``PeerResult.settings``):

- **sparsify** (EleutherAI, ``eai-sparsify``): its ``Trainer`` (the path its
  CLI uses) with a stand-in ``PreTrainedModel`` whose one layer returns rows
  of ``X`` for "token ids" that are row indices (one sequence of
  ``batch_size`` tokens per step). TopK ``SparseCoder``: decoder initialised
  as the encoder's transpose at unit norm, rows renormalised every step and
  the gradient component parallel to them removed; ``b_dec`` = mean of the
  first batch; encoder with its fused sparse backward (``index_add``),
  decoder by ``embedding_bag`` (Triton is not available on a CPU); loss FVU +
  ``auxk_alpha`` * AuxK (the library default is 0; set to Gao's 1/32).
  Optimizer: ``adam`` at the common schedule (its own scheduler, linear
  warmup then linear decay over all steps, is replaced by the common one); the
  library's default ``signum`` (sign-SGD in a schedule-free wrapper, its own
  learning rate and no schedule) is ``optimizer="signum"``. Its forward's
  bfloat16 autocast is CUDA-only, so ``"bfloat16"`` wraps ``fit``.
- **SAELens** (``sae-lens``): ``SAETrainer`` with a ``data_provider``
  iterator over the batches (the way its ``LanguageModelSAETrainingRunner``
  drives it) and a ``TopKTrainingSAE``. Its defaults: decoder rows initialised
  at norm 0.1 and the encoder as their transpose; no renormalisation: instead
  ``rescale_acts_by_decoder_norm=True`` (TopK chooses on pre-activation x
  decoder norm, the decoder divides by the norms); ``b_dec`` = 0; dense
  decoder (``use_sparse_activations=False``, its default and its advice under
  autocast); AuxK with ``aux_loss_coefficient=1.0`` and no variance
  normalisation; gradient norm clipped at 1; plain ``torch.optim.Adam``
  (fused is not exposed). Schedule: ``lr_scheduler_name="constant"`` with
  ``lr_warm_up_steps`` and ``lr_decay_steps`` (to 0) = the common schedule.
  ``"bfloat16"`` is its own ``autocast=True``.
- **dictionary_learning** (``dictionary-learning``): ``trainSAE(data=iterator,
  trainer_configs=[{trainer: TopKTrainer, ...}])``. ``AutoEncoderTopK``:
  decoder at unit norm (renormalised every step, parallel gradient removed),
  encoder = its transpose, ``b_dec`` = geometric median of the first batch;
  dense decoder (``nn.Linear`` on the scattered codes); AuxK with
  ``auxk_alpha=1/32``, normalised by the residual's variance; gradient norm
  clipped at 1; ``torch.optim.Adam``; ``warmup_steps`` / ``decay_start`` =
  the common schedule. The dead window is its ``dead_feature_threshold``
  attribute (a constant 10M in its constructor), set after construction.
  ``trainSAE``'s ``autocast_dtype`` works only on CUDA (on a CPU it casts the
  batch to bfloat16 without autocast and the step fails), so ``"bfloat16"``
  wraps ``trainSAE``.
- **overcomplete** (``overcomplete``, KempnerInstitute): ``train_sae`` over an
  iterable of batches, one epoch, ``monitoring=0`` (its per-step R^2 and
  logging cost time), ``TopKSAE`` with the default ``"linear"`` encoder
  (``nn.Linear`` + ReLU, no batch norm) and ``DictionaryLayer`` with ``"l2"``
  normalisation (the dictionary is divided by its row norms in every forward);
  it has **no decoder bias** (x_hat = z D), so the driver centres the inputs
  on the first batch's mean, as its user would (``center=True``); dense decoder; AuxK: its ``top_k_auxiliary_loss`` (penalty 0.1: the top half
  of all non-selected latents, not only dead ones, predict the residual; it
  tracks no dead latents); gradient norm clipped at 1 (``clip_grad=1.0``);
  the optimizer is the user's: ``torch.optim.Adam(fused=True)`` with a
  ``LambdaLR`` of the common schedule. Its package ``__init__`` imports its
  vision backbones (``overcomplete.models``), which import torchvision; this
  environment has no torchvision, so that one module is replaced by a stub
  whose names raise ``ImportError`` when used (the SAE code never uses them).
  ``"bfloat16"`` wraps ``train_sae`` (its ``train_sae_amp`` is float16 with a
  gradient scaler, a CUDA recipe).
- **reference** (plain PyTorch, no library): ``nn.Linear`` encoder on
  ``x - b_dec``, ``topk`` then ReLU on the k values (the same codes as ReLU
  then TopK, without a full-width ReLU and its backward), decoder by ``F.embedding_bag`` over the k
  active rows of a unit-norm ``W_dec`` (renormalised every step, parallel
  gradient removed), ``b_dec`` = mean of the first batch, AuxK as in Gao et
  al. (1/32, normalised by the residual's variance), ``torch.optim.Adam(fused=True)``,
  the common schedule.

Reproducing the peer environment (a separate virtual environment: the peers
pull other torch builds and torchvision, which must not enter aekit's)::

    python3 -m venv peers-venv
    peers-venv/bin/pip install torch==2.13.0   # the CPU wheel, first
    echo "torch==2.13.0" > constraints.txt      # pip may not re-resolve torch
    peers-venv/bin/pip install -c constraints.txt sae-lens==6.54.12
    peers-venv/bin/pip install -c constraints.txt eai-sparsify==1.3.3
    peers-venv/bin/pip install -c constraints.txt dictionary-learning==0.1.0
    peers-venv/bin/pip uninstall -y torchvision   # pulled by nnsight; not needed
    peers-venv/bin/pip install -c constraints.txt overcomplete==0.3.0
    peers-venv/bin/pip uninstall -y torchvision   # pulled by overcomplete/timm; stubbed
    peers-venv/bin/pip install --no-deps -e .     # aekit itself, its deps are all there now
    peers-venv/bin/python -c "import torch; print(torch.__version__)"   # 2.13.0+cpu

Versions this was written against: torch 2.13.0+cpu, sae-lens 6.54.12
(transformer-lens 3.9.0), eai-sparsify 1.3.3, dictionary-learning 0.1.0
(nnsight 0.3.7), overcomplete 0.3.0, transformers 5.25.0. ``pip check`` then
reports only the missing torchvision (nnsight, overcomplete, timm).

``make peers`` does the same into ``.venv-peers`` (the ``bench-peers`` extra
of pyproject.toml; torch by the same route as ``make``).

Smoke test, every driver interleaved in one process, 2 threads then 1 thread::

    .venv-peers/bin/python benchmarks/sae_peers.py --steps 12 --threads 2 1 --rounds 2 \\
        --out benchmarks/results/sae_peers_smoke.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

PEERS = ("sparsify", "saelens", "dictionary_learning", "overcomplete", "reference")
#: Every driver: the peers and aekit itself.
CONTENDERS = (*PEERS, "aekit")
PRECISIONS = ("float32", "bfloat16")
_DISTRIBUTIONS = {  # peer -> the PyPI distribution it comes from
    "sparsify": "eai-sparsify",
    "saelens": "sae-lens",
    "dictionary_learning": "dictionary-learning",
    "overcomplete": "overcomplete",
}


# ------------------------------------------------------------------ results
@dataclass
class PeerResult:
    """One peer's training run.

    ``encode(x)`` gives dense codes (n, n_latents) float32 (zeros off the
    top k), ``decode(codes)`` the reconstruction (n, d), ``reconstruct(x)``
    both in one; all in evaluation mode without gradients, in chunks.
    ``dead_fraction`` is the peer's own count at the end of training (its own
    window; ``None`` where it keeps none); the benchmark should measure dead
    latents itself on held-out rows.
    """

    peer: str
    version: str
    precision: str
    threads: int
    n_steps: int
    batch_size: int
    seconds: float
    tokens_per_s: float
    steady_tokens_per_s: float
    best_step_tokens_per_s: float
    encode: Callable[[torch.Tensor], torch.Tensor]
    decode: Callable[[torch.Tensor], torch.Tensor]
    reconstruct: Callable[[torch.Tensor], torch.Tensor]
    module: nn.Module
    dead_fraction: float | None
    settings: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    log: str = ""
    #: The fitted aekit estimator (``train_aekit`` only): to save or inspect it.
    estimator: object = None

    @property
    def n_tokens(self) -> int:
        return self.n_steps * self.batch_size


def peer_version(peer: str) -> str:
    """Installed version of a peer's distribution (the torch version for the reference loop)."""
    if peer == "reference":
        return f"torch {torch.__version__}"
    from importlib.metadata import version

    if peer == "aekit":
        return version("aekit")

    return version(_DISTRIBUTIONS[peer])


def available_peers() -> list[str]:
    """The peers whose package imports in this environment (the reference always)."""
    found = []
    for peer in PEERS:
        try:
            _import_peer(peer)
        except ImportError:
            continue
        found.append(peer)
    return found


def _import_peer(peer: str) -> None:
    if peer == "sparsify":
        import sparsify  # noqa: F401
    elif peer == "saelens":
        import sae_lens  # noqa: F401
    elif peer == "dictionary_learning":
        import dictionary_learning  # noqa: F401
    elif peer == "overcomplete":
        _import_overcomplete()


# ------------------------------------------------------------------ shared settings
def default_lr(n_latents: int) -> float:
    """Gao et al.'s learning-rate scaling law, ``2e-4 / sqrt(n_latents / 2**14)``."""
    return 2e-4 / math.sqrt(n_latents / 2**14)


def schedule_steps(n_steps: int, warmup_steps: int | None, decay_start: int | None) -> tuple[int, int]:
    """Warmup length and decay start: by default 5 % of the steps (at most 1000) and 80 %."""
    warmup = min(1000, max(1, round(0.05 * n_steps))) if warmup_steps is None else warmup_steps
    decay = round(0.8 * n_steps) if decay_start is None else decay_start
    if not 0 < warmup < decay < n_steps:
        raise ValueError(f"need 0 < warmup_steps ({warmup}) < decay_start ({decay}) < n_steps ({n_steps}); "
                         "train for more steps or pass both explicitly")
    return warmup, decay


def lr_multiplier(step: int, n_steps: int, warmup: int, decay_start: int) -> float:
    """The common schedule: ``step / warmup``, then 1, then linear to 0 from ``decay_start`` to ``n_steps``."""
    if step < warmup:
        return step / warmup
    if step >= decay_start:
        return (n_steps - step) / (n_steps - decay_start)
    return 1.0


def batch_indices(n_rows: int, batch_size: int, n_steps: int, seed: int) -> torch.Tensor:
    """Row indices of every training batch, (n_steps, batch_size) int64: one permutation per epoch."""
    gen = torch.Generator().manual_seed(seed)
    need = n_steps * batch_size
    chunks, have = [], 0
    while have < need:
        chunks.append(torch.randperm(n_rows, generator=gen))
        have += n_rows
    return torch.cat(chunks)[:need].view(n_steps, batch_size)


class _Feed:
    """The batches of a run, with a tick (and the optimizer's lr) each time the trainer takes one."""

    def __init__(self, X: torch.Tensor, idx: torch.Tensor, device: torch.device, scale: float = 1.0):
        self.X, self.idx, self.device, self.scale = X, idx, device, float(scale)
        self.ticks: list[float] = []
        self.lrs: list[float] = []
        self.optimizer: torch.optim.Optimizer | None = None

    def tick(self) -> None:
        self.ticks.append(time.perf_counter())
        if self.optimizer is not None:
            self.lrs.append(float(self.optimizer.param_groups[0]["lr"]))

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` of ``X``, float32 on the device, times the input scale."""
        x = self.X[idx].to(self.device, torch.float32)
        return x.mul_(self.scale) if self.scale != 1.0 else x

    def batch(self, step: int) -> torch.Tensor:
        return self.rows(self.idx[step])

    def __iter__(self) -> Iterator[torch.Tensor]:
        for step in range(len(self.idx)):
            self.tick()
            yield self.batch(step)

    def step_seconds(self, skip: int) -> list[float]:
        """Durations of steps ``skip .. n_steps - 2`` (tick to tick; the last step has no closing tick)."""
        steps = len(self.idx)
        if len(self.ticks) < steps:
            raise RuntimeError(f"the trainer took {len(self.ticks)} of {steps} batches")
        skip = min(skip, steps - 2)
        return [self.ticks[i + 1] - self.ticks[i] for i in range(skip, steps - 1)]


@contextlib.contextmanager
def _process_settings(threads: int):
    """Threads and denormal flushing for one run; the float32 matmul precision restored after it."""
    old_threads, old_precision = torch.get_num_threads(), torch.get_float32_matmul_precision()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(old_threads)
        torch.set_float32_matmul_precision(old_precision)


def _autocast(precision: str, device: torch.device):
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def _quiet(buffer: io.StringIO):
    """The peers' prints and progress bars go into ``buffer`` (kept as ``PeerResult.log``)."""
    old = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        if old is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = old


def _chunked(fn: Callable[[torch.Tensor], torch.Tensor], module: nn.Module, device: torch.device,
             chunk: int = 8192) -> Callable[[torch.Tensor], torch.Tensor]:
    """``fn`` applied in evaluation mode, without gradients, float32 in, float32 out, on row chunks."""

    def run(x: torch.Tensor) -> torch.Tensor:
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                parts = [fn(x[i:i + chunk].to(device, torch.float32)).float() for i in range(0, len(x), chunk)]
        finally:
            module.train(was_training)
        return torch.cat(parts)

    return run


@dataclass
class _Run:
    """What every driver receives, checked once."""

    X: torch.Tensor
    n_latents: int
    k: int
    batch_size: int
    n_steps: int
    lr: float
    warmup: int
    decay_start: int
    seed: int
    threads: int
    precision: str
    dead_tokens: int
    auxk: bool
    device: torch.device
    skip_steps: int
    input_scale: float

    def multiplier(self, step: int) -> float:
        return lr_multiplier(step, self.n_steps, self.warmup, self.decay_start)

    def feed(self) -> _Feed:
        return _Feed(self.X, batch_indices(len(self.X), self.batch_size, self.n_steps, self.seed), self.device,
                     self.input_scale)

    def common_settings(self) -> dict[str, object]:
        return {"n_latents": self.n_latents, "k": self.k, "batch_size": self.batch_size, "n_steps": self.n_steps,
                "n_tokens": self.n_steps * self.batch_size, "lr": self.lr, "warmup_steps": self.warmup,
                "decay_start": self.decay_start, "seed": self.seed, "threads": self.threads,
                "precision": self.precision, "dead_tokens": self.dead_tokens, "auxk": self.auxk,
                "input_scale": self.input_scale,
                "device": str(self.device)}


def _make_run(X, *, n_latents, k, batch_size, n_tokens, lr, seed, threads, precision="float32",
              warmup_steps=None, decay_start=None, dead_tokens=10_000_000, auxk=True, device="cpu",
              skip_steps=3, input_scale=1.0) -> _Run:
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.dtype not in (torch.float32, torch.bfloat16):
        raise ValueError("X must be a 2-D float32 or bfloat16 torch.Tensor of shape (n, d)")
    if not 0 < k < n_latents:
        raise ValueError(f"need 0 < k < n_latents, got k={k}, n_latents={n_latents}")
    n_steps = n_tokens // batch_size
    if n_steps < 2:
        raise ValueError(f"n_tokens={n_tokens} gives {n_steps} steps of {batch_size}; need at least 2")
    warmup, decay = schedule_steps(n_steps, warmup_steps, decay_start)
    _autocast(precision, torch.device(device))  # checks the name
    return _Run(X, n_latents, k, batch_size, n_steps, default_lr(n_latents) if lr is None else lr, warmup, decay,
                seed, threads, precision, dead_tokens, auxk, torch.device(device), skip_steps, float(input_scale))


def _result(peer: str, run: _Run, feed: _Feed, seconds: float, module: nn.Module, encode, decode,
            dead_fraction, settings, notes, log) -> PeerResult:
    steps = feed.step_seconds(run.skip_steps)
    enc = _chunked(encode, module, run.device)
    dec = _chunked(decode, module, run.device)
    rec = _chunked(lambda x: decode(encode(x)), module, run.device)
    return PeerResult(
        peer=peer, version=peer_version(peer), precision=run.precision, threads=run.threads,
        n_steps=run.n_steps, batch_size=run.batch_size, seconds=seconds,
        tokens_per_s=run.n_steps * run.batch_size / seconds,
        steady_tokens_per_s=run.batch_size * len(steps) / sum(steps),
        best_step_tokens_per_s=run.batch_size / min(steps),
        encode=enc, decode=dec, reconstruct=rec, module=module, dead_fraction=dead_fraction,
        settings={**run.common_settings(), **settings}, notes=notes, lrs=feed.lrs, log=log)


def _dense(values: torch.Tensor, indices: torch.Tensor, n_latents: int) -> torch.Tensor:
    return torch.zeros(values.shape[0], n_latents, dtype=values.dtype, device=values.device).scatter_(
        1, indices, values)


# ------------------------------------------------------------------ sparsify
def _sparsify_stand_in(feed: _Feed, device: torch.device):
    """A one-layer ``PreTrainedModel`` whose layer returns the feed's rows ``input_ids``: token ids are row indices."""
    from transformers import PretrainedConfig, PreTrainedModel

    class RowsConfig(PretrainedConfig):
        model_type = "activation_rows"

        def __init__(self, hidden_size: int = 1, **kwargs):
            self.hidden_size = hidden_size
            self.num_hidden_layers = 1
            super().__init__(**kwargs)

    class Rows(nn.Module):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, d)
            return feed.rows(ids.cpu())

    class RowsModel(PreTrainedModel):
        config_class = RowsConfig
        base_model_prefix = ""

        def __init__(self, config: RowsConfig):
            super().__init__(config)
            self.layers = nn.ModuleList([Rows()])
            self.anchor = nn.Parameter(torch.zeros(1, device=device), requires_grad=False)  # gives model.device
            self.post_init()

        def forward(self, input_ids: torch.Tensor, **_):
            return self.layers[0](input_ids)

    return RowsModel(RowsConfig(hidden_size=feed.X.shape[1]))


class _IdsDataset(torch.utils.data.Dataset):
    """Each item one "sequence": the row indices of one batch (sparsify's batch_size is 1 sequence)."""

    def __init__(self, idx: torch.Tensor):
        self.idx = idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.idx[i]}


def train_sparsify(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                   lr: float | None = None, seed: int = 0, threads: int = 2, precision: str = "float32",
                   optimizer: str = "adam", **common) -> PeerResult:
    """EleutherAI sparsify's ``Trainer`` on ``X`` through a stand-in model (see the module docstring).

    ``optimizer="adam"``: the common Adam schedule (sparsify's own linear
    warmup-and-decay scheduler replaced by it); ``"signum"``: the library's
    default (sign-SGD with schedule-free momentum 0.95 at its own learning
    rate ``5e-3 / sqrt(n_latents / 2**14)``, no schedule; ``lr`` then unused).
    AuxK at ``auxk_alpha = 1/32`` (library default 0) with
    ``dead_feature_threshold = dead_tokens``.
    """
    from sparsify import SparseCoderConfig, TrainConfig, Trainer

    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    if optimizer not in ("adam", "signum"):
        raise ValueError(f"optimizer must be 'adam' or 'signum', got {optimizer!r}")
    feed = run.feed()
    log = io.StringIO()
    auxk_alpha = 1 / 32 if run.auxk else 0.0
    with _process_settings(run.threads), _quiet(log), tempfile.TemporaryDirectory() as save_dir:
        model = _sparsify_stand_in(feed, run.device)
        model.layers[0].register_forward_pre_hook(lambda *_: feed.tick())
        cfg = TrainConfig(
            SparseCoderConfig(activation="topk", num_latents=n_latents, k=k, normalize_decoder=True),
            batch_size=1, loss_fn="fvu", optimizer=optimizer, lr=run.lr if optimizer == "adam" else None,
            lr_warmup_steps=run.warmup, auxk_alpha=auxk_alpha, dead_feature_threshold=run.dead_tokens,
            hookpoints=["layers.0"], init_seeds=[seed], save_every=10**9, log_to_wandb=False,
            save_dir=save_dir, run_name="peer")
        trainer = Trainer(cfg, _IdsDataset(feed.idx), model)
        if optimizer == "adam":
            trainer.lr_schedulers = [torch.optim.lr_scheduler.LambdaLR(trainer.optimizers[0], run.multiplier)]
        feed.optimizer = trainer.optimizers[0]
        feed.ticks.clear()  # the stand-in ran once on dummy inputs while the trainer sized the layer
        with _autocast(run.precision, run.device):
            start = time.perf_counter()
            trainer.fit()
            seconds = time.perf_counter() - start
    sae = trainer.saes["layers.0"]
    dead = float((trainer.num_tokens_since_fired["layers.0"] > run.dead_tokens).float().mean())
    settings = {
        "trainer": "sparsify.Trainer(stand-in PreTrainedModel, loss_fn='fvu')",
        "optimizer": "torch.optim.Adam (bitsandbytes absent)" if optimizer == "adam"
        else "SignSGD in ScheduleFreeWrapper(momentum=0.95)",
        "lr_used": [pg["lr"] for pg in trainer.optimizers[0].param_groups][0] if optimizer == "signum" else run.lr,
        "schedule": "common (LambdaLR replaces get_linear_schedule_with_warmup)" if optimizer == "adam"
        else "none (schedule-free)",
        "auxk_alpha": auxk_alpha, "dead_feature_threshold_tokens": run.dead_tokens,
        "decoder": "unit-norm rows, parallel gradient removed; embedding_bag (no Triton on CPU)",
        "encoder_backward": "FusedEncoder (index_add, sparse)", "b_dec_init": "mean of the first batch",
        "grad_clip": None,
        "autocast": "none" if run.precision == "float32" else "torch.autocast('cpu', bfloat16) around fit()",
    }
    notes = ["sparsify's own forward autocast is CUDA-only; its Trainer sets float32 matmul precision 'high' "
             "(restored after the run)"]
    return _result("sparsify", run, feed, seconds, sae,
                   lambda x: _dense(*sae.encode(x)[:2], n_latents),
                   lambda z: z.to(sae.W_dec.dtype) @ sae.W_dec + sae.b_dec, dead, settings, notes, log.getvalue())


# ------------------------------------------------------------------ SAELens
def train_saelens(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                  lr: float | None = None, seed: int = 0, threads: int = 2, precision: str = "float32",
                  **common) -> PeerResult:
    """SAELens's ``SAETrainer`` with a ``data_provider`` iterator and a ``TopKTrainingSAE``.

    Library defaults except: ``lr`` and the common schedule (``constant`` with
    warmup and linear decay steps), ``autocast`` for ``"bfloat16"``,
    ``dead_feature_window = ceil(dead_tokens / batch_size)`` steps, and
    ``aux_loss_coefficient`` 0 when ``auxk=False``. Its other speed option,
    ``use_sparse_activations=True`` (COO codes and ``torch.sparse.mm`` in the
    decoder, advised for float32 without autocast), fails in the backward pass
    on a CPU with sae-lens 6.54.12 / torch 2.13 (``aten::view`` has no
    ``SparseCPU`` kernel), so the dense default is the only one that trains.
    """
    from sae_lens import SAETrainer
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    feed = run.feed()
    log = io.StringIO()
    window = math.ceil(run.dead_tokens / batch_size)
    with _process_settings(run.threads), _quiet(log):
        torch.manual_seed(seed)
        sae_cfg = TopKTrainingSAEConfig(d_in=X.shape[1], d_sae=n_latents, k=k, device=str(run.device),
                                        aux_loss_coefficient=1.0 if run.auxk else 0.0)
        sae = TopKTrainingSAE(sae_cfg)
        cfg = SAETrainerConfig(
            total_training_samples=run.n_steps * batch_size, train_batch_size_samples=batch_size, lr=run.lr,
            lr_end=run.lr, lr_scheduler_name="constant", lr_warm_up_steps=run.warmup,
            lr_decay_steps=run.n_steps - run.decay_start, device=str(run.device),
            autocast=run.precision == "bfloat16", dead_feature_window=window,
            feature_sampling_window=max(window, run.n_steps + 1))
        trainer = SAETrainer(cfg=cfg, sae=sae, data_provider=iter(feed))
        feed.optimizer = trainer.optimizer
        start = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - start
    dead = float(trainer.dead_neurons.float().mean())
    settings = {
        "trainer": "sae_lens.SAETrainer(data_provider=iterator)", "sae": "TopKTrainingSAE",
        "optimizer": "torch.optim.Adam(betas=(0.9, 0.999)) (not fused; not exposed)",
        "schedule": "lr_scheduler_name='constant', lr_warm_up_steps, lr_decay_steps to 0",
        "aux_loss_coefficient": sae_cfg.aux_loss_coefficient, "dead_feature_window_steps": window,
        "decoder": "init norm 0.1, W_enc = W_dec.T; rescale_acts_by_decoder_norm=True (no renormalisation); "
                   "dense codes @ W_dec (use_sparse_activations=False)",
        "b_dec_init": "zeros", "normalize_activations": "none", "grad_clip": 1.0,
        "autocast": "SAETrainerConfig(autocast=True): torch.autocast('cpu', bfloat16)"
        if run.precision == "bfloat16" else "none",
    }
    return _result("saelens", run, feed, seconds, sae, sae.encode, sae.decode, dead, settings, [], log.getvalue())


# ------------------------------------------------------------------ dictionary_learning
def train_dictionary_learning(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                              lr: float | None = None, seed: int = 0, threads: int = 2,
                              precision: str = "float32", **common) -> PeerResult:
    """dictionary_learning's ``trainSAE(data=iterator)`` with its ``TopKTrainer``.

    Library defaults except: ``lr``, ``warmup_steps`` and ``decay_start`` of
    the common schedule, ``dead_feature_threshold = dead_tokens`` (set on the
    trainer after construction; the constructor fixes it at 10M), and
    ``auxk_alpha`` 0 when ``auxk=False``. The trainer object is kept by
    passing ``trainSAE`` a factory in place of the trainer class.
    """
    from dictionary_learning.trainers import TopKTrainer
    from dictionary_learning.training import trainSAE

    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    feed = run.feed()
    log = io.StringIO()
    made: list = []

    def make_trainer(**config):
        trainer = TopKTrainer(**config)
        trainer.dead_feature_threshold = run.dead_tokens
        made.append(trainer)
        feed.optimizer = trainer.optimizer
        return trainer

    config = {"trainer": make_trainer, "steps": run.n_steps, "activation_dim": X.shape[1], "dict_size": n_latents,
              "k": k, "layer": 0, "lm_name": "activations", "lr": run.lr, "warmup_steps": run.warmup,
              "decay_start": run.decay_start, "seed": seed, "device": str(run.device),
              "auxk_alpha": 1 / 32 if run.auxk else 0.0}
    with _process_settings(run.threads), _quiet(log), _autocast(run.precision, run.device):
        start = time.perf_counter()
        trainSAE(data=iter(feed), trainer_configs=[config], steps=run.n_steps, device=str(run.device),
                 autocast_dtype=torch.float32)
        seconds = time.perf_counter() - start
    trainer = made[0]
    ae = trainer.ae
    dead = float((trainer.num_tokens_since_fired >= run.dead_tokens).float().mean())
    settings = {
        "trainer": "dictionary_learning.training.trainSAE(data=iterator) + trainers.TopKTrainer",
        "optimizer": "torch.optim.Adam(betas=(0.9, 0.999)) (not fused; not exposed)",
        "schedule": "get_lr_schedule(steps, warmup_steps, decay_start)",
        "auxk_alpha": config["auxk_alpha"], "dead_feature_threshold_tokens": run.dead_tokens,
        "decoder": "unit-norm columns renormalised every step, parallel gradient removed; dense nn.Linear",
        "b_dec_init": "geometric median of the first batch", "grad_clip": 1.0, "normalize_activations": False,
        "autocast": "none" if run.precision == "float32" else "torch.autocast('cpu', bfloat16) around trainSAE "
                    "(its autocast_dtype is CUDA-only)",
    }
    return _result("dictionary_learning", run, feed, seconds, ae, ae.encode, ae.decode, dead, settings, [],
                   log.getvalue())


# ------------------------------------------------------------------ overcomplete
def _stub_module(name: str, names: tuple[str, ...], why: str) -> None:
    """Put a stand-in for module ``name`` into ``sys.modules`` whose ``names`` raise ``ImportError(why)``."""
    stub = types.ModuleType(name)
    stub.__doc__ = f"Stand-in: {why}"

    def missing(*_args, **_kwargs):
        raise ImportError(f"{name} is not available here: {why}")

    for attr in names:
        setattr(stub, attr, missing)
    sys.modules[name] = stub


def _import_overcomplete():
    """``overcomplete.sae``, with two modules it never uses stubbed where they cannot import.

    The package ``__init__`` imports ``overcomplete.models`` (vision backbones;
    needs torchvision, which this environment leaves out) and
    ``overcomplete.visualization`` (calls ``matplotlib.cm.get_cmap``, removed
    in matplotlib 3.9). Neither is used by ``overcomplete.sae``.
    """
    if "overcomplete.sae" in sys.modules:
        return sys.modules["overcomplete.sae"]
    import importlib.util

    import matplotlib.cm

    if importlib.util.find_spec("torchvision") is None:
        _stub_module("overcomplete.models", ("DinoV2", "SigLIP", "ViT", "ResNet", "ConvNeXt"),
                     "overcomplete's vision backbones need torchvision, which is not installed")
    if not hasattr(matplotlib.cm, "get_cmap"):
        _stub_module("overcomplete.visualization",
                     ("overlay_top_heatmaps", "evidence_top_images", "zoom_top_images", "contour_top_image"),
                     "overcomplete's plotting calls matplotlib.cm.get_cmap, removed in matplotlib 3.9")
    import overcomplete.sae

    return overcomplete.sae


def train_overcomplete(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                       lr: float | None = None, seed: int = 0, threads: int = 2, precision: str = "float32",
                       center: bool = True, **common) -> PeerResult:
    """overcomplete's ``train_sae`` with its ``TopKSAE`` (see the module docstring for what it lacks).

    ``criterion``: its ``top_k_auxiliary_loss`` (penalty 0.1) with
    ``auxk=True``, else the plain mean squared error of its README.
    ``dead_tokens`` does not apply (it tracks no dead latents for AuxK).

    ``center=True`` (default): its SAE has no decoder bias, so a competent user
    centres the activations first: the mean ``mu`` of the first batch is
    subtracted from every batch it trains on and from every row it encodes,
    and added back to every reconstruction (a fixed, not learned, ``b_dec``;
    the other peers initialise theirs from the first batch the same way).
    Without it, on activations with a large mean, it trains badly, and in
    bfloat16 diverges (held-out FVU several times 1 in the smoke data).
    """
    ocsae = _import_overcomplete()
    from overcomplete.sae.losses import top_k_auxiliary_loss

    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    feed = run.feed()
    log = io.StringIO()

    def mse(x, x_hat, pre_codes, codes, dictionary):
        return (x - x_hat).square().mean()

    criterion = top_k_auxiliary_loss if run.auxk else mse
    with _process_settings(run.threads), _quiet(log):
        torch.manual_seed(seed)
        sae = ocsae.TopKSAE(X.shape[1], nb_concepts=n_latents, top_k=k, device=str(run.device))
        fused = run.device.type in ("cpu", "cuda")
        opt = torch.optim.Adam(sae.parameters(), lr=run.lr, betas=(0.9, 0.999), fused=fused)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, run.multiplier)
        feed.optimizer = opt
        mu = feed.batch(0).mean(0) if center else torch.zeros(X.shape[1], device=run.device)
        with _autocast(run.precision, run.device):
            start = time.perf_counter()
            ocsae.train_sae(sae, (x - mu for x in feed), criterion, opt, scheduler=sched, nb_epochs=1,
                            clip_grad=1.0, monitoring=0, device=str(run.device))
            seconds = time.perf_counter() - start
    settings = {
        "trainer": "overcomplete.sae.train_sae(iterable of batches, nb_epochs=1, monitoring=0)",
        "sae": "TopKSAE(encoder 'linear' = nn.Linear + ReLU, DictionaryLayer normalization 'l2')",
        "optimizer": f"torch.optim.Adam(betas=(0.9, 0.999), fused={fused})",
        "schedule": "LambdaLR(common)",
        "criterion": "top_k_auxiliary_loss(penalty=0.1)" if run.auxk else "mean squared error",
        "decoder": "dense z @ (D / ||D_i||); no decoder bias",
        "centering": "inputs minus the first batch's mean (added back on decode)" if center else "none",
        "grad_clip": 1.0,
        "autocast": "none" if run.precision == "float32" else "torch.autocast('cpu', bfloat16) around train_sae",
        "stubbed": [m for m in ("overcomplete.models", "overcomplete.visualization")
                    if (sys.modules.get(m).__doc__ or "").startswith("Stand-in")],
    }
    notes = ["no decoder bias: the inputs are centred by the driver" if center else
             "no decoder bias and no centring: it cannot represent the data's mean",
             "its AuxK uses the top half of all unselected latents, dead or not"]
    return _result("overcomplete", run, feed, seconds, sae, lambda x: sae.encode(x - mu)[1],
                   lambda z: sae.decode(z) + mu, None, settings, notes, log.getvalue())


# ------------------------------------------------------------------ plain PyTorch reference
class ReferenceTopK(nn.Module):
    """Minimal TopK sparse autoencoder: z = ReLU(TopK(W_enc (x - b_dec) + b_enc)), x_hat = W_dec^T z + b_dec."""

    def __init__(self, d: int, n_latents: int, k: int, device: torch.device):
        super().__init__()
        self.k = k
        self.encoder = nn.Linear(d, n_latents, device=device)
        self.W_dec = nn.Parameter(self.encoder.weight.detach().clone())  # (n_latents, d), rows unit norm
        self.b_dec = nn.Parameter(torch.zeros(d, device=device))
        nn.init.zeros_(self.encoder.bias)
        self.renormalise()

    @torch.no_grad()
    def renormalise(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True)

    @torch.no_grad()
    def project_gradient(self) -> None:
        g, W = self.W_dec.grad, self.W_dec
        g -= (g * W).sum(1, keepdim=True) * W

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x - self.b_dec)

    def topk(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The k largest pre-activations, ReLU'd: the same codes as TopK(ReLU(pre)), without a full-width ReLU."""
        vals, idx = pre.topk(self.k, dim=1, sorted=False)
        return vals.relu(), idx

    def decode_sparse(self, vals: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding_bag(idx, self.W_dec, per_sample_weights=vals.to(self.W_dec.dtype), mode="sum") + self.b_dec

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return _dense(*self.topk(self.pre(x)), self.W_dec.shape[0])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z.to(self.W_dec.dtype) @ self.W_dec + self.b_dec


def train_reference(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                    lr: float | None = None, seed: int = 0, threads: int = 2, precision: str = "bfloat16",
                    **common) -> PeerResult:
    """The minimal plain-PyTorch TopK loop (see the module docstring), bfloat16 autocast by default."""
    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    feed = run.feed()
    with _process_settings(run.threads):
        torch.manual_seed(seed)
        model = ReferenceTopK(X.shape[1], n_latents, k, run.device)
        fused = run.device.type in ("cpu", "cuda")
        opt = torch.optim.Adam(model.parameters(), lr=run.lr, betas=(0.9, 0.999), fused=fused)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, run.multiplier)
        feed.optimizer = opt
        since_fired = torch.zeros(n_latents, dtype=torch.long, device=run.device)
        k_aux = X.shape[1] // 2
        start = time.perf_counter()
        for step, x in enumerate(feed):
            if step == 0:
                with torch.no_grad():
                    model.b_dec.copy_(x.mean(0))
            with _autocast(run.precision, run.device):
                pre = model.pre(x)
                vals, idx = model.topk(pre)
                x_hat = model.decode_sparse(vals, idx)
                e = x - x_hat
                loss = e.pow(2).sum(1).mean()
                dead = since_fired > run.dead_tokens
                n_dead = int(dead.sum()) if run.auxk else 0
                if n_dead:  # AuxK (Gao et al. A.2): the top dead latents predict the residual
                    aux_vals, aux_idx = pre.masked_fill(~dead, -math.inf).topk(min(k_aux, n_dead), dim=1,
                                                                               sorted=False)
                    e_hat = F.embedding_bag(aux_idx, model.W_dec, per_sample_weights=aux_vals.float().relu(),
                                            mode="sum")
                    r = e.detach()
                    aux = (e_hat - r).pow(2).sum(1).mean() / (r - r.mean(0)).pow(2).sum(1).mean()
                    loss = loss + min(n_dead / k_aux, 1.0) / 32 * aux.nan_to_num(0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            model.project_gradient()
            opt.step()
            sched.step()
            model.renormalise()
            with torch.no_grad():
                fired = torch.zeros(n_latents, dtype=torch.bool, device=run.device)
                fired[idx.flatten()] = True
                since_fired += batch_size
                since_fired[fired] = 0
        seconds = time.perf_counter() - start
    settings = {
        "trainer": "plain loop (index slices of the in-memory tensor)",
        "optimizer": f"torch.optim.Adam(betas=(0.9, 0.999), fused={fused})", "schedule": "LambdaLR(common)",
        "auxk_alpha": 1 / 32 if run.auxk else 0.0, "dead_tokens": run.dead_tokens,
        "decoder": "unit-norm rows renormalised every step, parallel gradient removed; F.embedding_bag",
        "b_dec_init": "mean of the first batch", "grad_clip": None,
        "autocast": "none" if run.precision == "float32" else "torch.autocast('cpu', bfloat16) around the step",
    }
    dead_fraction = float((since_fired > run.dead_tokens).float().mean())
    return _result("reference", run, feed, seconds, model, model.encode, model.decode, dead_fraction, settings, [],
                   "")


# ------------------------------------------------------------------ aekit
class CommonSchedule:
    """The common schedule as the aekit Trainer's ``lr_schedule``: a factor of the fractional epoch.

    With one epoch of ``n_steps`` steps and ``schedule_per_step=True`` the
    trainer evaluates it at ``step / n_steps``; the warm-up is part of it (the
    trainer's own ``warmup_steps`` is then 0), so every step's rate is
    :func:`lr_multiplier` of that step, as in the other drivers.
    """

    def __init__(self, n_steps: int, warmup: int, decay_start: int):
        self.n_steps, self.warmup, self.decay_start = n_steps, warmup, decay_start

    def __call__(self, epoch: float) -> float:
        return lr_multiplier(round(epoch * self.n_steps), self.n_steps, self.warmup, self.decay_start)


def _feed_source(feed: _Feed):
    """The feed as an aekit :class:`~aekit.training.BatchSource`: its batches in its order, its rows in chunks."""
    from aekit.training import Batch, BatchSource

    class FeedSource(BatchSource):
        def __len__(self) -> int:
            return feed.idx.numel()

        def _check(self, batch_size: int, ctx) -> None:
            if batch_size != feed.idx.shape[1] or ctx.active:
                raise ValueError("the feed serves its own batch size, in one process")

        def shuffled(self, batch_size, generator, ctx, skip=0):
            self._check(batch_size, ctx)
            for x in feed:
                yield Batch((x,), 1.0, x.shape[0])

        def ordered(self, batch_size, ctx):
            self._check(batch_size, ctx)
            for step in range(len(feed.idx)):
                x = feed.batch(step)
                yield Batch((x,), 1.0, x.shape[0])

        def chunks(self, rows, limit=None):
            order = feed.idx.reshape(-1)[:limit]
            for start in range(0, order.numel(), rows):
                yield (feed.rows(order[start : start + rows]),)

    return FeedSource()


def train_aekit(X: torch.Tensor, *, n_latents: int, k: int, batch_size: int, n_tokens: int,
                lr: float | None = None, seed: int = 0, threads: int = 2, precision: str = "bfloat16",
                options: dict | None = None, **common) -> PeerResult:
    """aekit's ``SparseDictionary`` (TopK) fitted on the feed through its ``Trainer``, with its default fast path.

    The feed is handed to ``fit`` as a :class:`~aekit.training.BatchSource`
    (the same batches in the same order as every driver; the first
    ``init_rows`` rows of that order set the input scale and ``b_dec``). The
    common learning rate and schedule (:class:`CommonSchedule`), AuxK at
    ``1/32`` with the ``dead_tokens`` window (0 with ``auxk=False``) and
    ``precision`` (the fused sparse step computes its products in it; weights
    and Adam state stay float32); ``options`` sets any other parameter of
    ``SparseDictionary`` (e.g. ``b_dec_init``, ``auxk_k``), the rest are its
    defaults.
    """
    from aekit.autoencoders import SparseDictionary

    run = _make_run(X, n_latents=n_latents, k=k, batch_size=batch_size, n_tokens=n_tokens, lr=lr, seed=seed,
                    threads=threads, precision=precision, **common)
    feed = run.feed()
    params = {"auxk_coefficient": 1 / 32 if run.auxk else 0.0, "dead_tokens": run.dead_tokens, **(options or {})}
    sae = SparseDictionary(n_latents, architecture="topk", k=k, batch_size=batch_size, learning_rate=run.lr,
                           max_epochs=1, lr_schedule=CommonSchedule(run.n_steps, run.warmup, run.decay_start),
                           warmup_steps=0, schedule_per_step=True, precision=run.precision, random_state=seed,
                           device=str(run.device), verbose=False, **params)
    with _process_settings(run.threads):
        start = time.perf_counter()
        sae.fit(_feed_source(feed))
        seconds = time.perf_counter() - start
    module = sae.module_
    dead = float(module.dead_mask().float().mean())
    settings = {
        "trainer": "SparseDictionary.fit(BatchSource of the feed) -> aekit.training.Trainer",
        # the trainer takes the module's hand-written step in one process unless told not to
        "fused_step": sae.fused_step and module.fused_step(torch.bfloat16) is not None,
        "optimizer": "torch.optim.Adam(fused=True), betas (0.9, 0.999)", "schedule": "common (CommonSchedule)",
        **{key: sae.get_params()[key] for key in ("auxk_coefficient", "auxk_k", "dead_tokens", "b_dec_init",
                                                  "normalize_inputs", "init_rows", "unit_norm_decoder",
                                                  "sparse_kernels")},
        "input_scale_fitted": sae.input_scale_,
        "decoder": "unit-norm rows, parallel gradient removed; sparse decode (k atoms per row)",
        "autocast": f"the fused step computes in {run.precision}",
    }
    result = _result("aekit", run, feed, seconds, module, lambda x: module.features(x),
                     lambda z: module.decode(z.to(module.W_dec.dtype)), dead, settings, [], "")
    result.estimator = sae
    return result


DRIVERS: dict[str, Callable[..., PeerResult]] = {
    "sparsify": train_sparsify,
    "saelens": train_saelens,
    "dictionary_learning": train_dictionary_learning,
    "overcomplete": train_overcomplete,
    "reference": train_reference,
    "aekit": train_aekit,
}


def train_peer(peer: str, X: torch.Tensor, **kwargs) -> PeerResult:
    """``DRIVERS[peer](X, **kwargs)``, with an error listing the peers for an unknown name."""
    if peer not in DRIVERS:
        raise ValueError(f"unknown peer {peer!r}; choose from {sorted(DRIVERS)}")
    return DRIVERS[peer](X, **kwargs)


# ------------------------------------------------------------------ smoke test
def structured_activations(n: int, d: int, n_atoms: int, k_true: int, seed: int) -> torch.Tensor:
    """Rows that a TopK SAE can learn: a mean offset + k_true of n_atoms unit directions (exponential
    magnitudes) + 5 % isotropic noise, scaled so that E||x||^2 = d. (n, d) float32."""
    gen = torch.Generator().manual_seed(seed)
    atoms = torch.randn(n_atoms, d, generator=gen)
    atoms /= atoms.norm(dim=1, keepdim=True)
    idx = torch.randint(0, n_atoms, (n, k_true), generator=gen)
    mags = torch.empty(n, k_true).exponential_(1.0, generator=gen)
    X = F.embedding_bag(idx, atoms, per_sample_weights=mags.flatten().view(n, k_true), mode="sum")
    X += 0.5 * torch.randn(d, generator=gen) / math.sqrt(d) * X.norm(dim=1).mean()
    X += 0.05 * X.norm(dim=1, keepdim=True).mean() / math.sqrt(d) * torch.randn(n, d, generator=gen)
    return X / X.pow(2).sum(1).mean().div(d).sqrt()


def fvu(X: torch.Tensor, X_hat: torch.Tensor) -> float:
    """Fraction of variance unexplained: sum ||x - x_hat||^2 / sum ||x - mean||^2."""
    return float((X - X_hat).pow(2).sum() / (X - X.mean(0)).pow(2).sum())


def _smoke(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Smoke test of every peer driver, interleaved in one process.")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--d", type=int, default=576)
    p.add_argument("--n-latents", type=int, default=4608)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument("--peers", nargs="+", default=None, choices=CONTENDERS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the lines printed to this markdown file, whole")
    args = p.parse_args(argv)

    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    peers = args.peers or [*available_peers(), "aekit"]
    n_train = args.steps * args.batch_size
    X = structured_activations(n_train + 16384, args.d, 2 * args.n_latents, 16, args.seed)
    X_train, X_test = X[:n_train], X[n_train:]
    if args.out:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from aekit.bench._provenance import command_line, provenance_lines

        say("# Peer SAE drivers: smoke test (benchmarks/sae_peers.py)")
        say()
        for line in provenance_lines(command_line("python benchmarks/sae_peers.py", sys.argv[1:])):
            say(line)
    say("- versions: " + ", ".join(f"{p} {peer_version(p)}" for p in peers))
    say(f"- setting: d {args.d}, {args.n_latents} latents, k {args.k}, batch {args.batch_size}, {args.steps} steps "
        f"({n_train} tokens of structured random rows, one epoch), lr {default_lr(args.n_latents):.3g} with the "
        f"common schedule, dead window 5 batches (so every AuxK path runs), seed {args.seed}")
    say(f"- timing: every driver interleaved in this one process ({args.rounds} rounds, the order rotated each "
        "round); best step = the fastest single step after step 3 (the least disturbed by other processes; best "
        "round), steady = steps 3 .. last, start-up and shut-down excluded, whole = the training call (both median "
        "over rounds). A smoke test on a shared, loaded machine: ratios within one run only.")
    say(f"- load average at start (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    say()
    common = dict(n_latents=args.n_latents, k=args.k, batch_size=args.batch_size, n_tokens=n_train, lr=None,
                  seed=args.seed, dead_tokens=5 * args.batch_size, skip_steps=3)
    configs = [(peer, prec) for peer in peers for prec in args.precisions]
    rows: dict[tuple[str, str, int], list[PeerResult]] = {}
    say("```")
    for threads in args.threads:
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for peer, prec in order:
                res = train_peer(peer, X_train, threads=threads, precision=prec, **common)
                rows.setdefault((peer, prec, threads), []).append(res)
                say(f"[{threads} thr, round {r}] {peer:20s} {prec:8s} steady {res.steady_tokens_per_s:7.0f}  "
                    f"best step {res.best_step_tokens_per_s:7.0f}  whole {res.tokens_per_s:7.0f} tok/s")
    say("```")
    say()
    say(f"- load average at end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    say()
    say("| peer | precision | threads | best step tokens/s (best round) | steady tokens/s (median) | "
        "whole tokens/s (median) | held-out FVU | dead (own count) |")
    say("|---|---|---:|---:|---:|---:|---:|---:|")
    for (peer, prec, threads), results in rows.items():
        best = max(x.best_step_tokens_per_s for x in results)
        steady = sorted(x.steady_tokens_per_s for x in results)[len(results) // 2]
        whole = sorted(x.tokens_per_s for x in results)[len(results) // 2]
        last = results[-1]
        err = fvu(X_test, last.reconstruct(X_test))
        dead = "-" if last.dead_fraction is None else f"{last.dead_fraction:.3f}"
        say(f"| {peer} | {prec} | {threads} | {best:.0f} | {steady:.0f} | {whole:.0f} | {err:.3f} | {dead} |")
    say()
    say(f"Held-out FVU on {len(X_test)} rows after only {args.steps} steps: a check that each model trains and "
        "that encode/decode are wired, not a quality comparison (SAELens starts with b_dec = 0 and decoder norm 0.1).")
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, args.out)


if __name__ == "__main__":
    _smoke()

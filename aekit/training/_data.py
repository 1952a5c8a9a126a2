"""Where the training data lives and how batches are cut from it: the :class:`BatchSource` contract.

The trainer reads its data through a :class:`BatchSource`: an epoch of
shuffled global batches (each rank getting its slice), the validation rows in
order, and the rows in chunks for full-data passes (epoch statistics and
diagnostics of the module). Tensors given to ``Trainer.fit`` become one of the
two in-memory sources below; a source of another kind (an on-disk activation
store streamed through a shuffle buffer, say) implements the same four methods
and is passed to ``fit`` as is.

For tensors the rule is: the data lives on the training device when it fits,
and a batch is then an index slice ``X[perm[i:i + B]]``, one gather kernel
per tensor, no DataLoader, no per-sample Python work. On the CPU the data is
already in memory, so it always "fits". On a GPU it fits when its size is at
most ``DEVICE_MEMORY_FRACTION`` of the free device memory (the rest is left
for weights, optimizer state and activations); otherwise it stays in pinned
CPU memory and each batch is gathered there and copied to the device
asynchronously, through two alternating pinned buffers.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import NamedTuple

import torch

from aekit.training._distributed import DistContext, shard

__all__ = [
    "DEVICE_MEMORY_FRACTION",
    "Batch",
    "BatchSource",
    "DeviceBatches",
    "StreamedBatches",
    "check_data",
    "fits_on_device",
    "place_data",
    "split_rows",
]

#: Largest share of the free GPU memory the training data may take to live on the GPU.
DEVICE_MEMORY_FRACTION = 0.5


class Batch(NamedTuple):
    """One rank's part of a global batch: its tensors (on the device), loss scale and row count.

    ``scale`` is ``world_size * rows / global_rows`` (1 in a single process):
    the factor that makes the data-parallel average of the gradients the
    gradient of the global batch's mean loss (see
    :mod:`aekit.training._distributed`).
    """

    tensors: tuple[torch.Tensor, ...]
    scale: float
    rows: int


class BatchSource(ABC):
    """Data as the trainer reads it.

    Implementations must give every rank the same global batches (drawing any
    randomness from the generator handed to :meth:`shuffled`, whose state a
    checkpoint saves, so that a resumed run sees the same batches).
    """

    @abstractmethod
    def __len__(self) -> int:
        """Samples per epoch."""

    @abstractmethod
    def shuffled(self, batch_size: int, generator: torch.Generator, ctx: DistContext, skip: int = 0) -> Iterator[Batch]:
        """One epoch: global batches of ``batch_size`` rows in a random order drawn from ``generator``.

        ``skip`` > 0 (a run resumed mid-epoch, with ``generator`` in the state
        it had when the epoch started) leaves out the first ``skip`` batches of
        that same epoch and yields the rest; the generator must end in the
        same state as after a whole epoch.
        """

    @abstractmethod
    def ordered(self, batch_size: int, ctx: DistContext) -> Iterator[Batch]:
        """Every row once, in order, in global batches (validation)."""

    @abstractmethod
    def chunks(self, rows: int, limit: int | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
        """The first ``limit`` rows (all with None) in order, ``rows`` at a time, on the device, unsharded."""

    def describe(self):
        """What a checkpoint records (JSON-able) to refuse resuming on other data: the row count by default."""
        return {"rows": len(self)}


class _TensorSource(BatchSource):
    """Tensors sharing their first axis; batches are index gathers (``gather``) of a permutation."""

    data: tuple[torch.Tensor, ...]
    index_device: torch.device
    device: torch.device

    def __len__(self) -> int:
        return self.data[0].shape[0]

    @abstractmethod
    def gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Rows ``idx`` (on ``index_device``) of every tensor, on the training device."""

    def _batches(self, order: torch.Tensor, batch_size: int, ctx: DistContext) -> Iterator[Batch]:
        for start in range(0, order.shape[0], batch_size):
            idx, scale, count = shard(order[start : start + batch_size], ctx)
            yield Batch(self.gather(idx), scale, count)

    def shuffled(self, batch_size, generator, ctx, skip=0):
        # drawn on the CPU: the same permutations on every device
        order = torch.randperm(len(self), generator=generator)[skip * batch_size :]
        return self._batches(order.to(self.index_device), batch_size, ctx)

    def ordered(self, batch_size, ctx):
        return self._batches(torch.arange(len(self), device=self.index_device), batch_size, ctx)

    def chunks(self, rows, limit=None):
        n = len(self) if limit is None else min(limit, len(self))
        for start in range(0, n, rows):
            yield tuple(t[start : min(start + rows, n)].to(self.device) for t in self.data)

    def describe(self) -> list:
        return [list(t.shape) for t in self.data]


class DeviceBatches(_TensorSource):
    """The data on the training device; a batch is an index slice of each tensor."""

    def __init__(self, data: tuple[torch.Tensor, ...], device: torch.device):
        self.data = tuple(t.to(device) for t in data)
        self.index_device = self.device = device

    def gather(self, idx):
        # idx: (b,) int64 on the data's device
        return tuple(t[idx] for t in self.data)


class StreamedBatches(_TensorSource):
    """The data in (pinned) CPU memory; each batch is gathered there and copied to ``device``.

    Two pinned staging buffers per tensor alternate; before one is refilled the
    copy that last read it is awaited, so the asynchronous copies never race.
    """

    def __init__(self, data: tuple[torch.Tensor, ...], device: torch.device, batch_size: int):
        self.device = device
        self.index_device = torch.device("cpu")
        pin = device.type == "cuda"
        self.data = tuple(t.to("cpu") for t in data)
        rows = min(batch_size, len(self.data[0]))
        self._buffers = [
            tuple(torch.empty((rows, *t.shape[1:]), dtype=t.dtype, pin_memory=pin) for t in self.data) for _ in range(2)
        ]
        self._events: list = [None, None]
        self._turn = 0

    def gather(self, idx):
        # idx: (b,) int64 on the CPU, b <= batch_size
        turn, self._turn = self._turn, 1 - self._turn
        if self._events[turn] is not None:
            self._events[turn].synchronize()
        out = []
        for t, buf in zip(self.data, self._buffers[turn]):
            staged = torch.index_select(t, 0, idx, out=buf[: idx.shape[0]])
            out.append(staged.to(self.device, non_blocking=True))
        if self.device.type == "cuda":
            event = torch.cuda.Event()
            event.record()
            self._events[turn] = event
        elif self.device.type == "cpu":
            # On the CPU the "copy" is the staging buffer itself: hand out a copy it cannot overwrite.
            out = [o.clone() for o in out]
        return tuple(out)


def check_data(data, name: str = "data") -> tuple[torch.Tensor, ...]:
    """``data`` as a tuple of tensors sharing their first (sample) axis, else a clear error."""
    if isinstance(data, torch.Tensor):
        data = (data,)
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(
            f"{name} must be a tensor, a non-empty tuple of tensors or a BatchSource, got {type(data).__name__}."
        )
    for i, t in enumerate(data):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name}[{i}] is a {type(t).__name__}, not a torch.Tensor; convert arrays with torch.as_tensor first."
            )
        if t.ndim == 0:
            raise ValueError(f"{name}[{i}] is a scalar; every tensor needs a first axis of samples.")
    n = data[0].shape[0]
    if n == 0:
        raise ValueError(f"{name} has zero samples; training needs at least one.")
    for i, t in enumerate(data[1:], start=1):
        if t.shape[0] != n:
            raise ValueError(
                f"{name}[{i}] has {t.shape[0]} samples but {name}[0] has {n}; every tensor must have one row per sample."
            )
    return tuple(data)


def fits_on_device(data: tuple[torch.Tensor, ...], device: torch.device) -> bool:
    """Whether ``data`` should live on ``device`` (always on the CPU; within the memory budget on a GPU)."""
    if device.type != "cuda":
        return True
    nbytes = sum(t.numel() * t.element_size() for t in data if t.device != device)
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_MEMORY_FRACTION * free


def place_data(data, device: torch.device, batch_size: int) -> BatchSource:
    """The batch source for ``data`` on ``device``: a :class:`BatchSource` as given, tensors on the device
    when they fit (:class:`DeviceBatches`), else streamed from CPU memory (:class:`StreamedBatches`)."""
    if isinstance(data, BatchSource):
        return data
    if fits_on_device(data, device):
        return DeviceBatches(data, device)
    return StreamedBatches(data, device, batch_size)


def split_rows(data: tuple[torch.Tensor, ...], fraction: float, generator: torch.Generator, *, hint: str = ""):
    """``(train, validation)``: a random ``fraction`` of the rows (rounded up) held out, by ``generator``.

    ``hint`` completes the error raised when no training row would be left.
    """
    n = data[0].shape[0]
    n_val = int(math.ceil(fraction * n))
    if n - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves no training samples out of {n}; "
            f"pass more data or lower validation_fraction{hint}."
        )
    perm = torch.randperm(n, generator=generator).to(data[0].device)
    return tuple(t[perm[n_val:]] for t in data), tuple(t[perm[:n_val]] for t in data)

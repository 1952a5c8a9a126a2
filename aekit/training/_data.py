"""Where the training data lives and how a batch is cut from it.

The rule: the data tuple lives on the training device when it fits, and a
batch is then an index slice ``X[perm[i:i + B]]`` -- one gather kernel per
tensor, no DataLoader, no per-sample Python work. On the CPU the data is
already in memory, so it always "fits". On a GPU it fits when its size is at
most ``DEVICE_MEMORY_FRACTION`` of the free device memory (the rest is left
for weights, optimizer state and activations); otherwise it stays in pinned
CPU memory and each batch is gathered there and copied to the device
asynchronously, through two alternating pinned buffers.
"""

from __future__ import annotations

import torch

__all__ = ["DEVICE_MEMORY_FRACTION", "check_data", "fits_on_device", "DeviceBatches", "StreamedBatches", "place_data"]

#: Largest share of the free GPU memory the training data may take to live on the GPU.
DEVICE_MEMORY_FRACTION = 0.5


def check_data(data, name: str = "data") -> tuple[torch.Tensor, ...]:
    """``data`` as a tuple of tensors sharing their first (sample) axis, else a clear error."""
    if isinstance(data, torch.Tensor):
        data = (data,)
    if not isinstance(data, (tuple, list)) or not data:
        raise TypeError(f"{name} must be a tensor or a non-empty tuple of tensors, got {type(data).__name__}.")
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


class DeviceBatches:
    """The data on the training device; a batch is an index slice of each tensor."""

    def __init__(self, data: tuple[torch.Tensor, ...], device: torch.device):
        self.data = tuple(t.to(device) for t in data)
        self.index_device = device

    def __len__(self) -> int:
        return self.data[0].shape[0]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # idx: (b,) int64 on the data's device
        return tuple(t[idx] for t in self.data)


class StreamedBatches:
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

    def __len__(self) -> int:
        return self.data[0].shape[0]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
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


def place_data(data: tuple[torch.Tensor, ...], device: torch.device, batch_size: int):
    """The batch source for ``data`` on ``device``: :class:`DeviceBatches` when it fits, else streamed."""
    if fits_on_device(data, device):
        return DeviceBatches(data, device)
    return StreamedBatches(data, device, batch_size)

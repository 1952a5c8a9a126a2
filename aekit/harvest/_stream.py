"""Training batches streamed from an activation store through a shuffle buffer: data larger than memory.

:class:`StoreBatches` implements the trainer's
:class:`~aekit.training.BatchSource` contract over the store's shards. The
rows are cut into blocks of ``block_rows`` consecutive rows (a block never
crosses a shard); one epoch visits the blocks in a random order, reads them
(one positioned read each) into a buffer of about ``buffer_rows`` rows, draws
a random permutation of the buffer and emits its full batches; the rows left
over (fewer than a batch) stay in the buffer and join the next blocks. So
every row is emitted exactly once per epoch, each batch mixes rows from many
places of the store (up to ``buffer_rows / block_rows`` blocks), and the
memory used is the buffer, whatever the size of the store. All randomness
comes from the generator the trainer hands to :meth:`shuffled`, so a resumed
run sees the same batches. Rows are kept in the store's dtype in the buffer
and converted to ``dtype`` (float32 by default) one batch at a time.
"""

from __future__ import annotations

import itertools

from collections.abc import Iterator

import numpy as np
import torch

from aekit._torch import resolve_device
from aekit.harvest._store import STORE_DTYPES, ActivationStore, from_storage
from aekit.training import Batch, BatchSource, DistContext, shard

__all__ = ["StoreBatches"]


class StoreBatches(BatchSource):
    """An activation store as a :class:`~aekit.training.BatchSource`, streamed out of core.

    Parameters
    ----------
    store : ActivationStore or path
        The store to read.
    device : str or torch.device, optional
        Where batches go. Default: the trainer's device (the ``ctx`` of
        :meth:`shuffled` / :meth:`ordered`), and the CPU for :meth:`chunks`
        before the trainer has asked for batches.
    dtype : torch.dtype
        The dtype of the batches (rows are converted per batch).
    buffer_rows : int
        Rows held in memory for shuffling (the buffer takes
        ``buffer_rows * d * itemsize`` bytes in the store's dtype).
    block_rows : int
        Consecutive rows read at once; smaller blocks mix better, larger
        ones read faster.
    """

    def __init__(self, store, *, device=None, dtype: torch.dtype = torch.float32, buffer_rows: int = 1 << 18,
                 block_rows: int = 4096):
        self.store = store if isinstance(store, ActivationStore) else ActivationStore(store)
        if len(self.store) == 0:
            raise ValueError(f"{self.store.path} holds no rows yet.")
        if buffer_rows < 1 or block_rows < 1:
            raise ValueError(f"buffer_rows and block_rows must be >= 1, got {buffer_rows} and {block_rows}.")
        self.device = resolve_device(device) if device is not None else None
        self._last_device = torch.device("cpu")
        self.dtype = dtype
        self.buffer_rows = int(buffer_rows)
        self.block_rows = int(block_rows)
        self._blocks = [(k, s, min(s + self.block_rows, n))
                        for k, n in enumerate(self.store.shard_rows) for s in range(0, n, self.block_rows)]

    def __len__(self) -> int:
        return len(self.store)

    @property
    def d(self) -> int:
        return self.store.d

    def describe(self) -> dict:
        return {"rows": len(self), "d": self.store.d, "store": self.store.fingerprint()}

    # ------------------------------------------------------------ batches
    def _groups(self, order, batch_size: int, generator: torch.Generator | None) -> Iterator[torch.Tensor]:
        """Global batches (rows in the store's dtype, on the CPU) from blocks read in ``order``.

        With a generator the buffer is permuted before its batches are cut
        (shuffled); without, rows come in block order (ordered).
        """
        capacity = max(self.buffer_rows, self.block_rows + batch_size)
        buf = np.empty((capacity, self.store.d), STORE_DTYPES[self.store.dtype][0])
        rows = from_storage(buf, self.store.dtype)  # shares memory with buf
        carry, i = 0, 0
        while i < len(order):
            n = carry
            while i < len(order):
                k, lo, hi = self._blocks[order[i]]
                if n + hi - lo > capacity:
                    break
                self.store.read_block(k, lo, hi, buf[n : n + hi - lo])
                n += hi - lo
                i += 1
            perm = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
            last = i == len(order)
            cut = n if last else n - n % batch_size
            for start in range(0, cut, batch_size):
                yield rows[perm[start : start + batch_size]]
            carry = n - cut
            if carry:
                rows[:carry] = rows[perm[cut:n]]  # the gather copies before the write

    def _emit(self, batches: Iterator[torch.Tensor], ctx: DistContext) -> Iterator[Batch]:
        device = self._last_device = self.device or ctx.device
        for batch in batches:
            idx, scale, count = shard(torch.arange(batch.shape[0]), ctx)
            local = batch[idx] if ctx.active else batch
            yield Batch((local.to(device=device, dtype=self.dtype),), scale, count)

    def shuffled(self, batch_size, generator, ctx, skip=0):
        order = torch.randperm(len(self._blocks), generator=generator).tolist()
        # a resumed epoch re-reads the batches it skips (the buffer's permutations draw from the generator)
        batches = itertools.islice(self._groups(order, batch_size, generator), skip, None)
        return self._emit(batches, ctx)

    def ordered(self, batch_size, ctx):
        return self._emit(self._groups(range(len(self._blocks)), batch_size, None), ctx)

    def chunks(self, rows, limit=None):
        n = len(self) if limit is None else min(limit, len(self))
        for start in range(0, n, rows):
            yield (self.store.rows(start, min(start + rows, n), dtype=self.dtype).to(self.device or self._last_device),)

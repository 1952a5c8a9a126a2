"""Data-parallel training: the same loop on every rank, one global batch split between them.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) or inside an
initialized process group the trainer runs data-parallel. Every rank holds the
whole data set and draws the same permutation from the same seed; each global
batch of B samples is cut into ``world_size`` nearly equal slices and rank r
trains on slice r. :class:`~torch.nn.parallel.DistributedDataParallel`
averages the gradients over the ranks, so rank r's loss is scaled by
``world_size * b_r / B``: the averaged gradient is then

    (1 / W) sum_r (W b_r / B) grad L_r = sum_r (b_r / B) grad L_r,

the gradient of the global batch's mean loss even when B is not a multiple of
W (terms that do not depend on the batch, such as weight decay, come out
unchanged too). Only terms that are non-linear in the whole batch (a sparsity
target estimated on the minibatch) differ from a single-process run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "setup_distributed", "shard", "all_reduce_sum", "barrier", "gather_generator_states", "wrap_module"]


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> DistContext:
    """Join (or start, from ``torchrun``'s environment) the process group; pick this rank's device.

    The backend of a group started here is NCCL for CUDA devices and gloo on the
    CPU. On CUDA each rank trains on ``cuda:LOCAL_RANK``. A group started here is
    left initialized for later fits in the same process, so a training script
    run by ``torchrun`` ends with ``torch.distributed.destroy_process_group()``
    (without it gloo's threads can abort the process at interpreter exit).
    """
    if not dist.is_available():
        return DistContext(device=device)
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return DistContext(device=device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    world_size = dist.get_world_size()
    if world_size <= 1:
        return DistContext(device=device)
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank() % torch.cuda.device_count()))
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return DistContext(rank=dist.get_rank(), world_size=world_size, device=device)


def shard(idx: torch.Tensor, ctx: DistContext) -> tuple[torch.Tensor, float, int]:
    """This rank's slice of the global batch ``idx``, its loss scale ``W * b_r / B`` and ``b_r``.

    A rank whose slice is empty (a last batch smaller than the world) computes
    on one sample with scale 0 (and counts 0 samples), so it still joins the
    gradient all-reduce without changing it.
    """
    if not ctx.active:
        return idx, 1.0, idx.shape[0]
    local = idx.tensor_split(ctx.world_size)[ctx.rank]
    if local.shape[0] == 0:
        return idx[:1], 0.0, 0
    return local, ctx.world_size * local.shape[0] / idx.shape[0], local.shape[0]


def all_reduce_sum(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``t`` over the ranks (in place; a no-op in a single process)."""
    if ctx.active:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (a no-op in a single process)."""
    if ctx.active:
        dist.barrier()


def gather_generator_states(generator: torch.Generator, ctx: DistContext) -> list[torch.Tensor]:
    """Every rank's state of its ``generator`` (uint8 tensors, rank order), for rank 0's checkpoint.

    Only when a checkpoint is due does this cost anything: the states are a
    few kilobytes. NCCL moves CUDA tensors only, so the states travel on the
    rank's device and come back to the CPU.
    """
    state = generator.get_state()
    if not ctx.active:
        return [state]
    local = state.to(ctx.device)
    gathered = [torch.empty_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, local)
    return [g.cpu() for g in gathered]


def wrap_module(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """``module`` in DistributedDataParallel when data-parallel (its forward is ``loss_terms``)."""
    if not ctx.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)

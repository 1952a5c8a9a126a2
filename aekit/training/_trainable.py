"""The contract between models and the generic trainer.

A model the trainer can train is a :class:`torch.nn.Module` that *names its
losses*: :meth:`TrainableModule.loss_terms` returns a dict of scalar tensors
(``{"reconstruction": ..., "kl_sparsity": ..., "weight_decay": ...}``). The
trainer sums them, backpropagates, steps the optimizer and logs every term; it
never asks what kind of model it trains. Everything model-specific (corruption,
k-schedules, sparsity estimates, classifier heads) lives behind these methods.

Batches are tuples of tensors on the model's device, cut from the training
data along the first axis: ``(X,)`` for autoencoders, ``(X, y)`` for
classifiers. The hooks that look at the whole training set
(:meth:`~TrainableModule.on_epoch_start`, :meth:`~TrainableModule.epoch_metrics`)
get it as a :class:`~aekit.training.BatchSource` and read it in chunks
(``data.chunks(rows, limit)``), so they work the same for data on the device,
in CPU memory or on disk. State that must survive a checkpoint (running
averages, the current ``k``) is kept in registered buffers, so ``state_dict``
carries it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TrainableModule", "FusedStep"]


class FusedStep:
    """A hand-written training step of one module: forward, loss terms and every gradient, no autograd graph.

    A module offers one through :meth:`TrainableModule.fused_step` when its
    configuration has one; the trainer then calls it instead of
    ``loss_terms`` + ``backward``. It is the same computation as the generic
    path (tests hold the two equal within rounding), written so that each
    step costs its matrix products plus few passes over memory: the
    low-precision weight copies used by the products are refreshed once per
    optimizer step (:meth:`after_optimizer_step`), not cast at every use.
    """

    def __call__(self, *batch: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The named loss terms on ``batch`` (detached scalars); each parameter's ``.grad`` holds the gradient of their sum.

        Every parameter that requires grad gets its ``.grad`` written
        (overwritten, not accumulated).
        """
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """The parameters changed in place: refresh whatever the step caches from them."""


class TrainableModule(nn.Module):
    """Base class of every model the :class:`aekit.training.Trainer` trains."""

    def loss_terms(self, *batch: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Named scalar loss terms on one batch; their sum is minimized.

        ``generator`` is the trainer's random generator (on the model's device),
        the only source of randomness a model may use while training (noise,
        dropout-like corruption), so runs are reproducible and resumable.
        """
        raise NotImplementedError

    def forward(self, *batch: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        # The trainer calls the module (possibly wrapped by DistributedDataParallel
        # or torch.compile) through forward, so forward *is* loss_terms here.
        # Plain-PyTorch users call encode / decode / reconstruct on the subclasses.
        return self.loss_terms(*batch, generator=generator)

    def fused_step(self, compute_dtype: torch.dtype) -> FusedStep | None:
        """A :class:`FusedStep` computing the matrix products in ``compute_dtype``, or None (the default).

        ``compute_dtype`` is ``torch.float32`` or the trainer's fast dtype
        (``torch.bfloat16``). Return None when this configuration has no
        hand-written step: the trainer then runs ``loss_terms`` under autocast
        and autograd.
        """
        return None

    def before_optimizer_step(self) -> None:
        """Hook after the gradients of a step are computed, before the optimizer uses them.

        E.g. project the gradient of a norm-constrained weight onto the
        constraint's tangent space.
        """

    def after_optimizer_step(self) -> None:
        """Hook after every optimizer step (e.g. put constrained weights back on their constraint)."""

    def on_epoch_start(self, epoch: int, max_epochs: int, data) -> None:
        """Hook before each epoch (0-based ``epoch``): schedules, full-data statistics of ``data`` (a BatchSource)."""

    def validation_metrics(self, *batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named scalar quantities on one validation batch that are not minimized (batch means).

        The trainer averages them over the validation data and logs them as
        ``val_<name>`` beside the loss terms, without adding them to
        ``val_loss``; ``Trainer(monitor=name)`` early-stops on one of them (lower
        is better), e.g. a classifier's ``error``. Called in eval mode under
        ``torch.no_grad``.
        """
        return {}

    @torch.no_grad()
    def epoch_metrics(self, data) -> dict[str, float]:
        """Diagnostics logged at each epoch end on (a sample of) the training data ``data`` (a BatchSource)."""
        return {}

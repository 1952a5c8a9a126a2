"""Early stopping on the validation loss, with the best weights kept.

After each epoch with validation loss v_t:

    improved  <=>  v_t < best - tol          (counter reset, else counter += 1)
    best      <-   min(best, v_t)            (its weights are copied)
    stop      <=>  counter >= n_iter_no_change

When training stops, early or at ``max_epochs``, the trainer restores the
weights of the epoch with the lowest validation loss (as scikit-learn's MLP
does with ``early_stopping=True``).
"""

from __future__ import annotations

import math

import torch

__all__ = ["EarlyStopping"]


class EarlyStopping:
    def __init__(self, n_iter_no_change: int, tol: float):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.no_improvement = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped = False

    def update(self, val_loss: float, epoch: int, module: torch.nn.Module) -> bool:
        """Record epoch ``epoch`` (1-based); True when training should stop."""
        if val_loss < self.best_loss - self.tol:
            self.no_improvement = 0
        else:
            self.no_improvement += 1
        if val_loss < self.best_loss:
            self.best_loss = val_loss
            self.best_epoch = epoch
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.stopped = self.no_improvement >= self.n_iter_no_change
        return self.stopped

    def restore_best(self, module: torch.nn.Module) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)

    # JSON part of a checkpoint (the best weights go to the tensor file)
    def state(self) -> dict:
        return {
            "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
            "best_epoch": self.best_epoch,
            "no_improvement": self.no_improvement,
            "stopped": self.stopped,
        }

    def load_state(self, state: dict, best_state: dict[str, torch.Tensor] | None) -> None:
        self.best_loss = math.inf if state["best_loss"] is None else float(state["best_loss"])
        self.best_epoch = state["best_epoch"]
        self.no_improvement = int(state["no_improvement"])
        self.stopped = bool(state["stopped"])
        self.best_state = best_state

"""Early stopping on a validation quantity, with the best weights kept.

The monitored quantity ``v`` is the validation loss or, with
``Trainer(monitor=NAME)``, another validation quantity where lower is better
(for a classifier, the error rate). After each epoch:

    improved  <=>  v_t < best - tol          (counter reset, else counter += 1)
    best      <-   (v_t, l_t) if (v_t, l_t) < (best, l_best)   (its weights are copied)
    stop      <=>  counter >= n_iter_no_change

``l`` breaks ties: the validation loss when another quantity is monitored
(error rates tie often; the epoch with the lower loss among equal errors is
kept), nothing when the loss itself is monitored. When training stops, early
or at ``max_epochs``, the trainer restores the weights of the best epoch (as
scikit-learn's MLP does with ``early_stopping=True``).
"""

from __future__ import annotations

import math

import torch

__all__ = ["EarlyStopping"]


class EarlyStopping:
    def __init__(self, n_iter_no_change: int, tol: float):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.best = math.inf
        self.best_tiebreak = math.inf
        self.best_epoch: int | None = None
        self.no_improvement = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped = False

    def update(self, value: float, epoch: int, module: torch.nn.Module, tiebreak: float = 0.0) -> bool:
        """Record epoch ``epoch`` (1-based) with monitored ``value``; True when training should stop."""
        if value < self.best - self.tol:
            self.no_improvement = 0
        else:
            self.no_improvement += 1
        if (value, tiebreak) < (self.best, self.best_tiebreak):
            self.best, self.best_tiebreak = value, tiebreak
            self.best_epoch = epoch
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.stopped = self.no_improvement >= self.n_iter_no_change
        return self.stopped

    def restore_best(self, module: torch.nn.Module) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)

    # JSON part of a checkpoint (the best weights go to the tensor file)
    def state(self) -> dict:
        def finite(x):
            return x if math.isfinite(x) else None

        return {
            "best": finite(self.best),
            "best_tiebreak": finite(self.best_tiebreak),
            "best_epoch": self.best_epoch,
            "no_improvement": self.no_improvement,
            "stopped": self.stopped,
        }

    def load_state(self, state: dict, best_state: dict[str, torch.Tensor] | None) -> None:
        def value(key):
            return math.inf if state.get(key) is None else float(state[key])

        self.best, self.best_tiebreak = value("best"), value("best_tiebreak")
        self.best_epoch = state["best_epoch"]
        self.no_improvement = int(state["no_improvement"])
        self.stopped = bool(state["stopped"])
        self.best_state = best_state

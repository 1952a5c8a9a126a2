"""The generic training loop and its contract with models."""

from aekit.training._history import history_to_csv, read_history, write_history
from aekit.training._module import TrainableModule
from aekit.training._schedules import resolve_schedule
from aekit.training._trainer import PRECISIONS, Trainer, bf16_supported

__all__ = [
    "TrainableModule",
    "Trainer",
    "PRECISIONS",
    "bf16_supported",
    "resolve_schedule",
    "write_history",
    "read_history",
    "history_to_csv",
]

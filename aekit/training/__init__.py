"""The generic training loop, its contract with models and with data, and its settings."""

from aekit.training._data import Batch, BatchSource, split_rows
from aekit.training._distributed import DistContext, shard
from aekit.training._history import history_to_csv, read_history, write_history
from aekit.training._options import CHECKPOINT_OPTIONS, RUN_OPTIONS, TRAINING_OPTIONS
from aekit.training._trainable import FusedStep, TrainableModule
from aekit.training._schedules import resolve_schedule
from aekit.training._trainer import AUTO_BFLOAT16_MIN_WEIGHTS, PRECISIONS, Trainer, bf16_supported

__all__ = [
    "TrainableModule",
    "FusedStep",
    "Trainer",
    "BatchSource",
    "Batch",
    "DistContext",
    "shard",
    "split_rows",
    "TRAINING_OPTIONS",
    "CHECKPOINT_OPTIONS",
    "RUN_OPTIONS",
    "PRECISIONS",
    "AUTO_BFLOAT16_MIN_WEIGHTS",
    "bf16_supported",
    "resolve_schedule",
    "write_history",
    "read_history",
    "history_to_csv",
]

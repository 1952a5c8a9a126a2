"""Training histories as files: one row per epoch, as CSV and as JSON.

A history is what :meth:`aekit.training.Trainer.fit` returns: a list of dicts
(``epoch``, ``loss``, every loss term, ``val_loss``, the model's epoch
metrics, ``learning_rate``, ``epoch_time``). Rows may differ in their keys (a
term that appears after a warm-up); the CSV has the union of the keys, in
order of first appearance, and leaves missing cells empty.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from aekit import io as aio

__all__ = ["history_to_csv", "write_history", "read_history"]


def history_to_csv(history: list[dict]) -> str:
    """The history as CSV text: a header of all keys, one line per epoch."""
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def write_history(directory, history: list[dict]) -> tuple[Path, Path]:
    """Write ``history.csv`` and ``history.json`` into ``directory`` (atomically, file by file)."""
    directory = Path(directory)
    json_path = aio.atomic_write_json(directory / "history.json", history)
    csv_path = aio.atomic_write_text(directory / "history.csv", history_to_csv(history))
    return csv_path, json_path


def read_history(path) -> list[dict]:
    """A history back from ``history.json`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "history.json"
    history = aio.read_json(path)
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise ValueError(f"{path} is not a training history (a JSON list of per-epoch objects).")
    return history

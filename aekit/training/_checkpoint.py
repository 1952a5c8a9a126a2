"""Training checkpoints: safetensors for every tensor, JSON for everything else.

A checkpoint folder holds::

    checkpoint.json                 the commit point: format, epoch, step, seed,
                                    trainer settings, history, early-stopping
                                    state, the optimizer's non-tensor state, and
                                    the name of
    state-epoch00012.safetensors    model ``state_dict`` ("module.*"), optimizer
                                    state tensors ("optimizer.<param>.<key>"),
                                    generator states as uint8 tensors
                                    ("generator.<name>"), the early-stopping
                                    best weights ("best.*") and, mid-epoch, the
                                    epoch's partial loss sums ("partial.*")

A checkpoint written within an epoch (``checkpoint_every``) records the steps
done in it (``state-epoch00012-step000500.safetensors``) and the shuffling
generator as it was when that epoch started, so that a resumed run draws the
same epoch and skips the batches already trained on.

Both files are written atomically (temporary file + rename), tensors first and
the JSON last, so a process killed at any instant leaves either the previous
checkpoint or the new one. Superseded tensor files are deleted afterwards.
Loading reads safetensors and JSON only: nothing is unpickled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aekit import io as aio
from aekit.training._distributed import barrier, gather_generator_states
from aekit.training._options import RESUME_FREE, TRAINING_OPTIONS

__all__ = [
    "CHECKPOINT_FILE",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "flatten_optimizer_state",
    "unflatten_optimizer_state",
    "run_settings",
    "save_run",
    "restore_run",
]

FORMAT = "aekit-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.json"
_TENSORS_PATTERN = re.compile(r"state-epoch\d+(-step\d+)?\.safetensors")


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly where it stopped."""

    epoch: int  # epochs completed
    module_state: dict[str, torch.Tensor]
    optimizer_state: dict
    generator_states: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor] | None = None
    info: dict = field(default_factory=dict)  # seed, settings, history, early stopping, ...
    step: int = 0  # steps completed within the next epoch (a mid-epoch checkpoint)
    partial_sums: dict[str, torch.Tensor] | None = None  # that epoch's loss-term sums so far


# ---------------------------------------------------------------- optimizer state
def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer ``state_dict`` as (tensors, JSON-able rest).

    ``state`` maps a parameter index to ``{key: value}``; tensor values become
    ``"<index>.<key>"`` entries, the others (floats, None) stay in the JSON part
    together with ``param_groups``.
    """
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict] = {}
    for index, entries in state_dict["state"].items():
        plain[str(index)] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                plain[str(index)][key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "state": plain}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict] = {int(i): dict(entries) for i, entries in rest["state"].items()}
    for name, value in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": rest["param_groups"]}


# ---------------------------------------------------------------- save / load
def save_checkpoint(directory, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` into ``directory`` atomically; returns the JSON path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    opt_tensors, opt_rest = flatten_optimizer_state(checkpoint.optimizer_state)
    tensors = {f"module.{k}": v for k, v in checkpoint.module_state.items()}
    tensors.update({f"optimizer.{k}": v for k, v in opt_tensors.items()})
    tensors.update({f"generator.{k}": v for k, v in checkpoint.generator_states.items()})
    if checkpoint.best_state is not None:
        tensors.update({f"best.{k}": v for k, v in checkpoint.best_state.items()})
    if checkpoint.partial_sums is not None:
        tensors.update({f"partial.{k}": v for k, v in checkpoint.partial_sums.items()})
    tensor_file = f"state-epoch{checkpoint.epoch:05d}"
    tensor_file += f"-step{checkpoint.step:06d}.safetensors" if checkpoint.step else ".safetensors"
    aio.save_tensors(directory / tensor_file, tensors, metadata={"format": FORMAT, "epoch": str(checkpoint.epoch)})
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "epoch": checkpoint.epoch,
        "step": checkpoint.step,
        "tensors": tensor_file,
        "has_best": checkpoint.best_state is not None,
        "optimizer": opt_rest,
        **checkpoint.info,
    }
    path = aio.atomic_write_json(directory / CHECKPOINT_FILE, payload)
    for old in directory.iterdir():
        if _TENSORS_PATTERN.fullmatch(old.name) and old.name != tensor_file:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(directory, device="cpu") -> Checkpoint | None:
    """The checkpoint in ``directory``, or None when there is none; corrupt files get clear errors."""
    directory = Path(directory)
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    payload = aio.from_jsonable(aio.read_json(path))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an aekit training checkpoint (no 'format': '{FORMAT}').")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer aekit; upgrade aekit to resume from it.")
    tensor_file = payload.get("tensors", "")
    if not _TENSORS_PATTERN.fullmatch(str(tensor_file)):
        raise ValueError(f"{path} names an invalid tensor file {tensor_file!r}; the checkpoint is corrupt.")
    tensors = aio.load_tensors(directory / tensor_file, device=device)
    groups: dict[str, dict[str, torch.Tensor]] = {"module": {}, "optimizer": {}, "generator": {}, "best": {}, "partial": {}}
    for name, t in tensors.items():
        kind, _, key = name.partition(".")
        if kind not in groups:
            raise ValueError(f"{directory / tensor_file} has an unknown entry {name!r}; the checkpoint is corrupt.")
        groups[kind][key] = t
    if int(payload["epoch"]) != int(_metadata_epoch(directory / tensor_file)):
        raise ValueError(f"{directory / tensor_file} does not belong to {path} (epochs differ); the checkpoint is corrupt.")
    reserved = ("format", "format_version", "tensors", "has_best", "optimizer", "epoch", "step")
    info = {k: v for k, v in payload.items() if k not in reserved}
    step = int(payload.get("step", 0))
    return Checkpoint(
        epoch=int(payload["epoch"]),
        module_state=groups["module"],
        optimizer_state=unflatten_optimizer_state(groups["optimizer"], payload["optimizer"]),
        generator_states={k: v.cpu() for k, v in groups["generator"].items()},
        best_state=groups["best"] if payload.get("has_best") else None,
        info=info,
        step=step,
        partial_sums=groups["partial"] if step else None,
    )


def _metadata_epoch(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return (fh.metadata() or {}).get("epoch", "-1")


# ---------------------------------------------------------------- a trainer's run
def run_settings(trainer, seed: int, ctx, train, val) -> dict:
    """What a checkpoint records to refuse resuming a different run: seed, world size, the settings
    that must not change (all but ``RESUME_FREE``; the precision as resolved) and the data's shape."""
    settings = {k: getattr(trainer, k) for k in TRAINING_OPTIONS if k not in RESUME_FREE}
    if not isinstance(settings["lr_schedule"], str):
        settings["lr_schedule"] = "<callable>"
    settings["precision"] = trainer.precision_
    return {
        "seed": seed,
        "world_size": ctx.world_size,
        "trainer": settings,
        "data": {"train": train.describe(), "val": None if val is None else val.describe()},
    }


def save_run(run, epoch: int, step: int = 0, partial=None) -> None:
    """Rank 0 writes ``run``'s state after ``epoch`` epochs and ``step`` more steps (every rank's noise
    generator included); mid-epoch, ``partial`` is that epoch's ``(loss-term sums, rows seen)``."""
    noise_states = gather_generator_states(run.noise_gen, run.ctx)  # a collective: every rank joins
    if run.ctx.is_main:
        # mid-epoch, the shuffling generator as the epoch started (the resumed run redraws that epoch)
        shuffle = run.epoch_shuffle_state if step else run.shuffle_gen.get_state()
        generators = {"shuffle": shuffle}
        generators.update({f"noise{r}": state for r, state in enumerate(noise_states)})
        info = {**run.settings, "history": run.history}
        sums = None
        if step:
            sums, info["partial_rows"] = dict(partial[0]), int(partial[1])
        best = None
        if run.stopper is not None:
            info["early_stopping"] = run.stopper.state()
            best = run.stopper.best_state
        checkpoint = Checkpoint(
            epoch, run.module.state_dict(), run.optimizer.state_dict(), generators, best, info, step, sums
        )
        save_checkpoint(run.trainer.checkpoint_dir, checkpoint)
    barrier(run.ctx)  # no rank runs ahead of the checkpoint on disk (a resume must see the same one)


def restore_run(run, checkpoint: Checkpoint) -> tuple[int, int, tuple | None]:
    """Put ``checkpoint`` back into ``run`` (refusing one written with other settings).

    Returns the epochs done, the steps done within the next epoch and, for a
    mid-epoch checkpoint, that epoch's ``(loss-term sums, rows seen)``; the
    shuffling generator is then left in the state the epoch started with
    (``run.epoch_shuffle_state``).
    """
    _check_resumable(checkpoint, run.settings, run.trainer.checkpoint_dir)
    run.module.load_state_dict(checkpoint.module_state)
    run.optimizer.load_state_dict(checkpoint.optimizer_state)
    run.shuffle_gen.set_state(checkpoint.generator_states["shuffle"])
    run.epoch_shuffle_state = checkpoint.generator_states["shuffle"]
    run.noise_gen.set_state(checkpoint.generator_states[f"noise{run.ctx.rank}"])
    run.history = list(checkpoint.info["history"])
    if run.stopper is not None:
        run.stopper.load_state(checkpoint.info["early_stopping"], checkpoint.best_state)
    partial = None
    if checkpoint.step:
        partial = (dict(checkpoint.partial_sums), int(checkpoint.info["partial_rows"]))
    return checkpoint.epoch, checkpoint.step, partial


def _check_resumable(checkpoint: Checkpoint, settings: dict, directory) -> None:
    """Refuse to resume a checkpoint written by a run with other settings or data."""
    saved = {k: checkpoint.info.get(k) for k in settings}
    if saved == aio.from_jsonable(aio.to_jsonable(settings)):
        return
    diffs = []
    for key in ("world_size", "data"):
        if saved[key] != aio.from_jsonable(aio.to_jsonable(settings[key])):
            diffs.append(f"{key}: checkpoint {saved[key]}, now {settings[key]}")
    for key, value in settings["trainer"].items():
        if (saved.get("trainer") or {}).get(key) != value:
            diffs.append(f"{key}: checkpoint {(saved.get('trainer') or {}).get(key)!r}, now {value!r}")
    raise ValueError(
        f"cannot resume from {directory}: the checkpoint was written by a run with other settings "
        f"({'; '.join(diffs) or 'seed'}). Use the same settings, or resume=False to start over."
    )

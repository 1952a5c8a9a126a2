"""The trainer's settings, each defined once.

:class:`~aekit.training.Trainer` takes every option of :data:`TRAINING_OPTIONS`,
:data:`CHECKPOINT_OPTIONS` and :data:`RUN_OPTIONS`; the estimators that train a
torch module take the same options (their signatures, constraints and docs are
built from these dicts, see :mod:`aekit._params`) and hand them on unchanged.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from aekit._params import Option

__all__ = ["TRAINING_OPTIONS", "CHECKPOINT_OPTIONS", "RUN_OPTIONS", "PRECISIONS", "RESUME_FREE"]

PRECISIONS = ("float32", "bfloat16", "auto")

TRAINING_OPTIONS: dict[str, Option] = {
    "optimizer": Option(
        "adam", [StrOptions({"adam", "sgd"})], "{'adam', 'sgd'}",
        "Adam (Kingma & Ba, 2015) or SGD with ``momentum`` (Nesterov when ``nesterov``); torch's fused kernels.",
        "sgd",
    ),
    "learning_rate": Option(
        1e-3, [Interval(Real, 0, None, closed="neither")], "float",
        "Base step size; multiplied by ``lr_schedule``'s factor at each epoch.", 0.01,
    ),
    "momentum": Option(
        0.9, [Interval(Real, 0, 1, closed="left")], "float in [0, 1)",
        "SGD momentum mu: ``v <- mu v + g; theta <- theta - lr v``.", 0.5,
    ),
    "nesterov": Option(False, ["boolean"], "bool", "Nesterov momentum (SGD only).", True),
    "batch_size": Option(
        128, [Interval(Integral, 1, None, closed="left")], "int",
        "Samples per step (the global batch under DistributedDataParallel).", 64,
    ),
    "max_epochs": Option(
        50, [Interval(Integral, 0, None, closed="left")], "int",
        "Passes over the training data; 0 leaves the model at its initial weights (an untrained control\n"
        "with the same seed and architecture).", 7,
    ),
    "lr_schedule": Option(
        "constant", [str, callable], "str or callable",
        "``\"constant\"``, ``\"step[:S[:G]]\"``, ``\"exponential[:G]\"``, ``\"cosine[:M]\"``, ``\"linear[:M]\"``, or a\n"
        "callable ``epoch -> factor`` (0-based epoch; see :mod:`aekit.training._schedules`).", "cosine",
    ),
    "warmup_steps": Option(
        0, [Interval(Integral, 0, None, closed="left")], "int",
        "Linear learning-rate warm-up: the rate of optimizer step ``s`` (0-based, counted over the\n"
        "whole run) is multiplied by ``min(1, (s + 1) / warmup_steps)``; 0 turns it off.", 100,
    ),
    "schedule_per_step": Option(
        False, ["boolean"], "bool",
        "Evaluate ``lr_schedule`` at every optimizer step, at the fractional epoch\n"
        "``epoch + step / steps_per_epoch``, instead of once per epoch (for runs of one or a few\n"
        "epochs over large data, such as a sparse autoencoder over a stream of activations).", True,
    ),
    "early_stopping": Option(
        False, ["boolean"], "bool",
        "Stop when the monitored validation quantity has not improved by more than ``tol`` for\n"
        "``n_iter_no_change`` epochs, and keep the weights of the best epoch (as scikit-learn's MLP\n"
        "does). The validation data is the one given to ``fit`` or, without it, a random\n"
        "``validation_fraction`` of the training data.", True,
    ),
    "validation_fraction": Option(
        0.1, [Interval(Real, 0, 1, closed="neither")], "float in (0, 1)",
        "Share of the data held out when early stopping has no validation data.", 0.2,
    ),
    "n_iter_no_change": Option(
        10, [Interval(Integral, 1, None, closed="left")], "int", "Epochs without improvement before stopping.", 3,
    ),
    "tol": Option(
        1e-4, [Interval(Real, 0, None, closed="left")], "float",
        "Smallest decrease of the monitored quantity that counts as improvement.", 1e-3,
    ),
    "monitor": Option(
        "loss", [str], "str",
        "What early stopping minimizes: ``\"loss\"`` (the validation loss), a loss term's name, or a\n"
        "name of the module's ``validation_metrics`` (``\"error\"`` for the classifiers), read from\n"
        "``val_<monitor>``; another quantity than the loss breaks ties by the validation loss.", "error",
    ),
    "precision": Option(
        "auto", [StrOptions(set(PRECISIONS))], "{'float32', 'bfloat16', 'auto'}",
        "``\"bfloat16\"`` computes the matrix products in bfloat16 (the module's fused step, else\n"
        "autocast; weights, optimizer and losses stay float32); ``\"auto\"`` picks bfloat16 where the\n"
        "hardware computes it natively (CUDA >= 8.0, CPUs with AVX512-BF16 or AMX) and the model's\n"
        "largest weight has at least ``AUTO_BFLOAT16_MIN_WEIGHTS`` (65 536) entries, else float32.", "float32",
    ),
    "fused_step": Option(
        True, ["boolean"], "bool",
        "Train with the module's hand-written step (:meth:`~aekit.training.TrainableModule.fused_step`:\n"
        "forward, losses and gradients without an autograd graph, low-precision weight copies refreshed\n"
        "once per step) when the module has one for its configuration and the run is a single process\n"
        "without ``compile``; False always runs the generic autograd path.", False,
    ),
    "compile": Option(
        False, ["boolean"], "bool", "Run the module's forward through :func:`torch.compile`.", True,
    ),
    "flush_denormal": Option(
        True, ["boolean"], "bool",
        "Treat denormal floats as zero while training on the CPU (saturated sigmoids make them, and\n"
        "elementwise work on them is slow); the previous mode is restored afterwards.", False,
    ),
}

CHECKPOINT_OPTIONS: dict[str, Option] = {
    "checkpoint_dir": Option(
        None, [str, os.PathLike, None], "str or None",
        "Folder where a checkpoint is written (atomically) at every epoch end.", "checkpoints",
    ),
    "checkpoint_every": Option(
        None, [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Also write a checkpoint every this many optimizer steps within an epoch (a resumed run then\n"
        "continues mid-epoch, exactly); None writes one at epoch ends only.", 500,
    ),
    "resume": Option(
        False, ["boolean"], "bool",
        "Continue from the checkpoint in ``checkpoint_dir`` when there is one (else start fresh);\n"
        "False starts over and overwrites it.", True,
    ),
}

RUN_OPTIONS: dict[str, Option] = {
    "random_state": Option(
        None, [Interval(Integral, 0, None, closed="left"), np.random.RandomState, np.random.Generator, None],
        "int, numpy Generator or None",
        "Seeds every random step (initial weights, shuffling, validation split, noise); the same seed\n"
        "gives bit-identical runs on the same machine and thread count.", 3,
    ),
    "device": Option(
        "cpu", [str, torch.device], "str", "``\"cpu\"``, ``\"cuda\"``, ``\"cuda:N\"`` or ``\"auto\"``.", "cuda",
    ),
    "verbose": Option(False, ["verbose"], "bool", "Show a progress bar with the loss and ETA.", True),
}

#: Settings a resumed run may change (everything else must match the checkpoint).
RESUME_FREE = ("max_epochs", "compile", "flush_denormal")

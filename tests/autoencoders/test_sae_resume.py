"""A sparse dictionary killed mid-epoch (SIGKILL) resumes from its step checkpoint to the same weights bit for bit.

The run trains BatchTopK with AuxK on (dead latents tracked in buffers, the
inference threshold a running average) through the fused step, checkpointing
every 3 optimizer steps; the state that must survive is the weights, Adam's
moments, the step counter, the dead-latent counts and the threshold.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aekit.training._checkpoint import CHECKPOINT_FILE, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]

WORKER = r'''
import sys
import time

import torch
from safetensors.torch import save_file

from aekit.autoencoders import SparseDictionaryModule
from aekit.datasets import make_sparse_dictionary_data
from aekit.training import Trainer


class Slowed(SparseDictionaryModule):
    """Sleeps after each step (changes nothing numerically) so that the run can be killed mid-epoch."""

    pause = 0.0

    def after_optimizer_step(self):
        super().after_optimizer_step()
        time.sleep(self.pause)


def train(checkpoint_dir=None, resume=False, pause=0.0):
    X, _, _ = make_sparse_dictionary_data(1200, 16, 64, 3, random_state=0)
    module = Slowed(16, 48, architecture="batchtopk", k=3, dead_tokens=150, auxk_k=4,
                    generator=torch.Generator().manual_seed(0))
    module.pause = pause
    trainer = Trainer(batch_size=50, max_epochs=2, learning_rate=3e-3, warmup_steps=5, lr_schedule="cosine",
                      schedule_per_step=True, checkpoint_dir=checkpoint_dir, checkpoint_every=3, resume=resume,
                      random_state=7, verbose=False)
    history = trainer.fit(module, torch.from_numpy(X))
    return module, history


def _forbidden(*args, **kwargs):
    raise AssertionError("resuming must not unpickle")


if __name__ == "__main__":
    checkpoint_dir, threads = sys.argv[1:3]
    torch.set_num_threads(int(threads))
    train(checkpoint_dir, pause=0.15)
'''


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sigkill_mid_epoch_then_resume_gives_bit_identical_weights(tmp_path, monkeypatch):
    script = tmp_path / "sae_worker.py"
    script.write_text(WORKER)
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.Popen([sys.executable, str(script), str(ckpt), "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    step = 0
    while time.monotonic() < deadline and step < 9:
        time.sleep(0.05)
        try:
            info = json.loads((ckpt / CHECKPOINT_FILE).read_text())
            step = info["epoch"] * 24 + info["step"]  # 24 steps per epoch
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        assert killed.poll() is None, killed.communicate()[1].decode()
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    saved = load_checkpoint(ckpt)
    assert saved.epoch * 24 + saved.step < 48 and saved.step > 0, "killed mid-epoch, before the end"
    assert int(saved.module_state["steps"]) == saved.epoch * 24 + saved.step
    assert "activation.threshold" in saved.module_state and "tokens_since_fired" in saved.module_state

    ns: dict = {"__name__": "sae_worker"}
    exec(compile(WORKER, "sae_worker", "exec"), ns)
    for target in (torch, pickle):
        for name in ("load", "loads"):
            if hasattr(target, name):
                monkeypatch.setattr(target, name, ns["_forbidden"])
    resumed, resumed_history = ns["train"](ckpt, resume=True)
    monkeypatch.undo()
    reference, history = ns["train"]()
    assert int(reference.steps) == 48 and "auxk" in history[0]  # AuxK trained dead latents
    for got, want in zip(resumed_history, history, strict=True):
        for key in want.keys() - {"epoch_time"}:
            assert got[key] == pytest.approx(want[key], rel=1e-12), key
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key

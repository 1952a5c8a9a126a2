"""Data-parallel training under torchrun: 2 CPU ranks (gloo) match one process with the same global batch."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aekit.io import read_json
from aekit.training._checkpoint import load_checkpoint

from _tolerance import rounding_bound, unit_roundoff

ROOT = Path(__file__).resolve().parents[2]

# The DDP run and the single process differ only in the order of floating-point sums: each rank averages
# its half of a batch's 16 per-sample gradients and the all-reduce adds the halves. That moves a gradient by
# at most rounding_bound(16) relative, hence an Adam step (|step| <= learning rate) by about as much, and
# each update rounds the weights (u |w|, |w| < 2 here). Over the 8 epochs x 8 batches, to first order (the
# feedback through the changed weights is neglected; measured: 9e-8):
STEPS, LEARNING_RATE, N_PARAMS = 8 * 8, 1e-2, 8 * 16 + 16 + 16 + 1
ATOL = STEPS * (LEARNING_RATE * rounding_bound(torch.float32, 16) + unit_roundoff(torch.float32) * 2.0)
# An epoch's logged loss: a float32 mean over at most 145 samples, plus what weights ATOL apart change in a
# loss whose slope in each weight is below 1 (a tanh network on unit-variance data).
LOSS_REL = rounding_bound(torch.float32, 145) + N_PARAMS * ATOL

WORKER = r'''
import json
import sys

import torch
from safetensors.torch import save_file
from torch import nn

from aekit.training import TrainableModule, Trainer


class MLP(TrainableModule):
    def __init__(self, noise=0.0, crash_at=None):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
        self.noise, self.crash_at = noise, crash_at

    def on_epoch_start(self, epoch, max_epochs, data):
        if epoch == self.crash_at:
            raise KeyboardInterrupt(f"interrupted before epoch {epoch}")

    def validation_metrics(self, X, y):
        return {"abs_error": (self.net(X).squeeze(1) - y).abs().mean()}

    def loss_terms(self, X, y, generator=None):
        if self.training and self.noise:
            X = X + self.noise * torch.randn(X.shape, generator=generator)
        return {
            "squared_error": ((self.net(X).squeeze(1) - y) ** 2).mean(),
            "weight_decay": 1e-3 * sum((p**2).sum() for p in self.net.parameters()),
        }


def make_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(145, 8, generator=g)  # 145 = 9 * 16 + 1: the last global batch has 1 sample for 2 ranks
    return X, torch.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]


def train(checkpoint_dir=None, noise=0.0, crash_at=None, resume=False, verbose=True):
    torch.manual_seed(0)
    module = MLP(noise, crash_at)
    trainer = Trainer(
        optimizer="adam", learning_rate=1e-2, batch_size=16, max_epochs=8, early_stopping=True,
        validation_fraction=0.2, n_iter_no_change=100, random_state=0, checkpoint_dir=checkpoint_dir,
        resume=resume, verbose=verbose,
    )
    history = trainer.fit(module, make_data())
    return module, history


if __name__ == "__main__":
    out, checkpoint_dir = sys.argv[1:3]
    module, history = train(checkpoint_dir)
    rank = torch.distributed.get_rank()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    with open(f"{out}/history{rank}.json", "w") as fh:
        json.dump(history, fh)

    # Interrupted and resumed under DDP (per-rank noise generators restored): the same weights, bit for bit.
    uninterrupted, _ = train(noise=0.3, verbose=False)
    try:
        train(f"{checkpoint_dir}-resume", noise=0.3, crash_at=3, verbose=False)
    except KeyboardInterrupt:
        pass
    resumed, _ = train(f"{checkpoint_dir}-resume", noise=0.3, resume=True, verbose=False)
    same = all(torch.equal(a, b) for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()))
    with open(f"{out}/resume{rank}.json", "w") as fh:
        json.dump({"bit_identical": same}, fh)
    torch.distributed.destroy_process_group()  # a clean gloo shutdown: no abort at interpreter exit
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.numerics
def test_two_cpu_ranks_match_a_single_process_run(tmp_path, one_torch_thread):  # torchrun gives each rank one thread too
    script = tmp_path / "ddp_worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), str(script), str(tmp_path), str(tmp_path / "ckpt"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ns: dict = {"__name__": "ddp_worker"}
    exec(compile(WORKER, "ddp_worker", "exec"), ns)
    single, history = ns["train"]()
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    for key, value in single.state_dict().items():
        assert torch.equal(ranks[0][key], ranks[1][key]), f"ranks disagree on {key}"
        assert torch.allclose(ranks[0][key], value, rtol=0, atol=ATOL), (key, (ranks[0][key] - value).abs().max())
        print(key, "max |DDP - single| =", (ranks[0][key] - value).abs().max().item())
    # the logged epoch means (train and validation) are global, identical on both ranks
    histories = [read_json(tmp_path / f"history{r}.json") for r in range(2)]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows]  # noqa: E731
    assert strip(histories[0]) == strip(histories[1])
    for got, want in zip(histories[0], history):
        for key in ("loss", "squared_error", "weight_decay", "val_loss", "val_abs_error"):
            assert got[key] == pytest.approx(want[key], rel=LOSS_REL), key
    # only rank 0 writes the checkpoint and draws the progress bar
    assert read_json(tmp_path / "ckpt" / "checkpoint.json")["world_size"] == 2
    # one bar (rank 0) over the 64 global steps: it starts once; tqdm may draw its last state more than once
    assert proc.stderr.count("8/8") == 0 and proc.stderr.count(" 0/64") == 1 and "64/64" in proc.stderr
    # a DDP run interrupted after 3 epochs and resumed ends with the uninterrupted run's weights, on both ranks
    assert [read_json(tmp_path / f"resume{r}.json")["bit_identical"] for r in range(2)] == [True, True]
    assert load_checkpoint(tmp_path / "ckpt-resume").epoch == 8
    assert {"noise0", "noise1"} <= set(load_checkpoint(tmp_path / "ckpt-resume").generator_states)

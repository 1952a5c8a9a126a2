"""A sparse dictionary trained under torchrun (2 CPU ranks, gloo) matches the same run in one process.

Under data parallelism the trainer runs the generic step (autograd through the
sparse kernels; the hand-written fused step is for one process), so the
reference is the single-process run of that same path; the fused step is
compared with it in ``test_sae_module.py``. TopK selects within each row, so
splitting a batch between the ranks changes only the order of the gradient
sums (each rank sums its half, the all-reduce adds the halves), and the
dead-latent counts are global (the latents fired on any rank, the rows of the
whole batch).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from _tolerance import rounding_bound, unit_roundoff

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.numerics

# The ranks' gradients differ from one process's by the order of the sums over the batch's rows: at most
# rounding_bound(B) relative (B = 64 rows). Adam's update of an entry is at most the learning rate in size and
# moves by about that relative error; the renormalization of the atoms and each update round the weights
# (u |w|, |w| <= 4 here: atoms at unit norm, biases of the order of the data's offset). Over the steps, to first
# order (no feedback through the changed weights, and no TopK selection flipped by differences this small):
STEPS, LEARNING_RATE, BATCH = 4 * 8, 2e-3, 64
ATOL = STEPS * (LEARNING_RATE * rounding_bound(torch.float32, BATCH) + unit_roundoff(torch.float32) * 4.0)
# An epoch's logged means: float32 sums of 8 x 64 rows x 16 features (the weights ATOL apart change them by far
# less; measured: 1e-7 relative).
LOSS_REL = rounding_bound(torch.float32, 8 * BATCH * 16)

WORKER = r'''
import json
import sys

import numpy as np
import torch
from safetensors.torch import save_file

from aekit.autoencoders import SparseDictionaryModule
from aekit.datasets import make_sparse_dictionary_data
from aekit.training import Trainer


def data():
    X, _, _ = make_sparse_dictionary_data(8 * 64, 16, 96, 4, random_state=0)
    return torch.from_numpy(X)


def train(fused=False, dead_tokens=256):
    module = SparseDictionaryModule(16, 64, k=4, dead_tokens=dead_tokens, auxk_k=4,
                                    generator=torch.Generator().manual_seed(0))
    trainer = Trainer(batch_size=64, max_epochs=4, learning_rate=2e-3, precision="float32", fused_step=fused,
                      random_state=0, verbose=False)
    history = trainer.fit(module, data())
    return module, history, trainer.fused_


if __name__ == "__main__":
    out = sys.argv[1]
    module, history, fused = train(fused=True)  # asks for the fused step: under DDP the trainer runs the generic one
    rank = torch.distributed.get_rank()
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    with open(f"{out}/history{rank}.json", "w") as fh:
        json.dump({"history": history, "fused": fused}, fh)
    torch.distributed.destroy_process_group()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_ranks_match_a_single_process_run(tmp_path, one_torch_thread):
    script = tmp_path / "sae_ddp_worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(script), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ns: dict = {"__name__": "sae_ddp_worker"}
    exec(compile(WORKER, "sae_ddp_worker", "exec"), ns)
    single, history, fused = ns["train"](fused=False)
    assert not fused
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    runs = [json.loads((tmp_path / f"history{r}.json").read_text()) for r in range(2)]
    assert [r["fused"] for r in runs] == [False, False]  # DDP falls back to the generic step
    for key, value in single.state_dict().items():
        assert torch.equal(ranks[0][key], ranks[1][key]), f"ranks disagree on {key}"
        if value.dtype.is_floating_point:
            diff = (ranks[0][key] - value).abs().max().item()
            print(key, "max |DDP - single| =", diff, "bound", ATOL)
            assert diff <= ATOL, (key, diff, ATOL)
        else:  # the dead-latent counts and the step counter: global, as in one process
            assert torch.equal(ranks[0][key], value), key
    assert "auxk" in history[-1]  # latents died within the 256-row window: the AuxK path ran
    for got, want in zip(runs[0]["history"], history):
        for key in ("reconstruction", "fvu", "dead_fraction", *(["auxk"] if "auxk" in want else [])):
            assert got[key] == pytest.approx(want[key], rel=LOSS_REL, abs=LOSS_REL), key

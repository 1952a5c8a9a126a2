"""Checkpoints: atomic, unpickled-free, and a killed run resumes to the same weights bit for bit."""

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
from torch import nn

from aekit.training import TrainableModule, Trainer
from aekit.training._checkpoint import (
    CHECKPOINT_FILE,
    flatten_optimizer_state,
    load_checkpoint,
    unflatten_optimizer_state,
)

ROOT = Path(__file__).resolve().parents[2]

# The run under test, shared by this process (uninterrupted reference) and the subprocesses
# (the run that gets killed, and the resumed one).
WORKER = r'''
import sys
import time

import torch
from safetensors.torch import save_file
from torch import nn

from aekit.training import TrainableModule, Trainer


class DenoisingNet(TrainableModule):
    """A small denoising autoencoder: noise from the trainer's generator, a running-average buffer."""

    def __init__(self, pause=0.0, crash_at=None):
        super().__init__()
        self.crash_at = crash_at
        self.encoder = nn.Linear(16, 32)
        self.decoder = nn.Linear(32, 16)
        self.register_buffer("mean_activation", torch.zeros(32))
        self.pause = pause

    def loss_terms(self, x, generator=None):
        noisy = x + 0.3 * torch.randn(x.shape, generator=generator, device=x.device) if self.training else x
        h = torch.sigmoid(self.encoder(noisy))
        if self.training:
            self.mean_activation.mul_(0.9).add_(0.1 * h.detach().mean(0))
        return {"reconstruction": ((self.decoder(h) - x) ** 2).mean(), "l1": 1e-3 * h.abs().mean()}

    def on_epoch_start(self, epoch, max_epochs, data):
        time.sleep(self.pause)  # slows the run to be killed; changes nothing numerically
        if epoch == self.crash_at:
            raise KeyboardInterrupt(f"interrupted before epoch {epoch}")

    def epoch_metrics(self, data):
        return {"mean_activation": float(self.mean_activation.mean())}


def make_data():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(600, 4, generator=g)
    return torch.tanh(z @ torch.randn(4, 16, generator=g))


def train(checkpoint_dir=None, resume=False, max_epochs=12, pause=0.0, crash_at=None):
    torch.manual_seed(0)
    module = DenoisingNet(pause, crash_at)
    trainer = Trainer(
        optimizer="adam", learning_rate=3e-3, batch_size=32, max_epochs=max_epochs, lr_schedule="cosine",
        early_stopping=True, n_iter_no_change=50, random_state=3, checkpoint_dir=checkpoint_dir,
        resume=resume, verbose=False,
    )
    history = trainer.fit(module, make_data())
    return module, history


def _forbidden(*args, **kwargs):
    raise AssertionError("resuming must not unpickle")


if __name__ == "__main__":  # the run that gets killed: slowed down, checkpointing every epoch
    checkpoint_dir, threads, out = sys.argv[1:4]
    torch.set_num_threads(int(threads))
    module, history = train(checkpoint_dir, pause=0.25)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, out)
'''


# Bit-identity is checked between processes: give them all the same intra-op thread count
# (one thread is also much faster for these tiny models on a busy machine).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _worker_namespace():
    ns: dict = {"__name__": "resume_worker"}
    exec(compile(WORKER, "resume_worker", "exec"), ns)
    return ns


def _run_worker(tmp_path, checkpoint_dir, out, **popen):
    script = tmp_path / "resume_worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(script), str(checkpoint_dir), str(torch.get_num_threads()), str(out)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_sigkill_mid_training_then_resume_gives_bit_identical_weights(tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    killed = _run_worker(tmp_path, ckpt, tmp_path / "never.safetensors")
    deadline = time.monotonic() + 60
    epoch = 0
    while time.monotonic() < deadline and epoch < 3:
        time.sleep(0.05)
        try:
            epoch = json.loads((ckpt / CHECKPOINT_FILE).read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass  # not written yet (the rename is atomic, so never half-written in fact)
        assert killed.poll() is None, killed.communicate()[1].decode()
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    stopped_at = load_checkpoint(ckpt).epoch
    assert 3 <= stopped_at < 12, "the run must be killed mid-training"
    assert not (tmp_path / "never.safetensors").exists()

    # resume here, in another process than the killed one; nothing may be unpickled
    ns = _worker_namespace()
    for target in (torch, pickle):
        for name in ("load", "loads"):
            if hasattr(target, name):
                monkeypatch.setattr(target, name, ns["_forbidden"])
    resumed, resumed_history = ns["train"](ckpt, resume=True)
    monkeypatch.undo()
    reference, history = ns["train"]()
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    saved = load_checkpoint(ckpt)
    assert saved.epoch == 12
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows]  # noqa: E731
    assert strip(saved.info["history"]) == strip(history) == strip(resumed_history)


def test_resume_in_process_continues_exactly_and_a_finished_run_returns_at_once(tmp_path):
    train = _worker_namespace()["train"]
    reference, ref_history = train(max_epochs=6)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, max_epochs=6, crash_at=2)  # interrupted after 2 epochs
    assert load_checkpoint(tmp_path).epoch == 2
    resumed, history = train(tmp_path, resume=True, max_epochs=6)
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert [r["loss"] for r in history] == [r["loss"] for r in ref_history]
    # resuming a finished run trains nothing and returns the same weights and history
    again, history2 = train(tmp_path, resume=True, max_epochs=6)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in reference.state_dict().items())
    assert history2 == history
    # only the newest tensor file is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE, "state-epoch00006.safetensors"]


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    train = _worker_namespace()["train"]
    a, _ = train(tmp_path / "empty", resume=True, max_epochs=2)
    b, _ = train(max_epochs=2)
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.8, 0.99)),
        lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=1e-2),
    ],
)
def test_optimizer_state_flattens_to_tensors_and_json_and_back(make):
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = make(net.parameters())
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    tensors, rest = flatten_optimizer_state(opt.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    rest = json.loads(json.dumps(__import__("aekit.io", fromlist=["x"]).to_jsonable(rest)))
    from aekit.io import from_jsonable

    restored = unflatten_optimizer_state(tensors, from_jsonable(rest))
    opt2 = make(net.parameters())
    opt2.load_state_dict(restored)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for k, v in a["state"][i].items():
            assert torch.equal(v, b["state"][i][k]) if isinstance(v, torch.Tensor) else v == b["state"][i][k]


class Tiny(TrainableModule):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))

    def loss_terms(self, x, generator=None):
        return {"mse": ((x - self.w) ** 2).mean()}


def test_resume_refuses_other_settings_and_corrupt_files(tmp_path):
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    Trainer(max_epochs=2, batch_size=8, random_state=0, checkpoint_dir=tmp_path, verbose=False).fit(Tiny(), x)
    with pytest.raises(ValueError, match=r"other settings \(batch_size: checkpoint 8, now 16"):
        Trainer(max_epochs=3, batch_size=16, random_state=0, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(
            Tiny(), x
        )
    with pytest.raises(ValueError, match=r"other settings \(data"):
        Trainer(max_epochs=3, batch_size=8, random_state=0, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(
            Tiny(), x[:30]
        )
    with pytest.raises(ValueError, match="seed"):
        Trainer(max_epochs=3, batch_size=8, random_state=1, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(
            Tiny(), x
        )
    # random_state=None resumes with the checkpoint's seed
    Trainer(max_epochs=3, batch_size=8, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(Tiny(), x)
    assert load_checkpoint(tmp_path).epoch == 3

    tensor_file = next(tmp_path.glob("state-epoch*.safetensors"))
    tensor_file.write_bytes(tensor_file.read_bytes()[:50])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        Trainer(max_epochs=4, batch_size=8, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(Tiny(), x)
    (tmp_path / CHECKPOINT_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Trainer(max_epochs=4, batch_size=8, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(Tiny(), x)
    (tmp_path / CHECKPOINT_FILE).write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not an aekit training checkpoint"):
        Trainer(max_epochs=4, batch_size=8, checkpoint_dir=tmp_path, resume=True, verbose=False).fit(Tiny(), x)


class _CrashAtStep(TrainableModule):
    """A small autoencoder that raises at a given optimizer step (a crash mid-epoch)."""

    def __init__(self, crash_at_step=None):
        super().__init__()
        self.encoder = nn.Linear(16, 8)
        self.decoder = nn.Linear(8, 16)
        self.crash_at_step, self.steps = crash_at_step, 0

    def loss_terms(self, x, generator=None):
        noisy = x + 0.2 * torch.randn(x.shape, generator=generator) if self.training else x
        return {"reconstruction": ((self.decoder(torch.tanh(self.encoder(noisy))) - x) ** 2).mean()}

    def after_optimizer_step(self):
        self.steps += 1
        if self.steps == self.crash_at_step:
            raise KeyboardInterrupt(f"interrupted after step {self.steps}")


def _train_steps(checkpoint_dir=None, resume=False, crash_at_step=None, **options):
    torch.manual_seed(0)
    module = _CrashAtStep(crash_at_step)
    trainer = Trainer(batch_size=32, max_epochs=3, learning_rate=1e-2, lr_schedule="cosine", schedule_per_step=True,
                      warmup_steps=7, random_state=5, checkpoint_dir=checkpoint_dir, resume=resume, **options)
    history = trainer.fit(module, _worker_namespace()["make_data"]())  # 600 rows: 19 steps per epoch
    return module, history


def test_checkpoint_every_resumes_mid_epoch_exactly(tmp_path):
    reference, ref_history = _train_steps()
    with pytest.raises(KeyboardInterrupt):
        _train_steps(tmp_path, crash_at_step=19 + 13, checkpoint_every=5)  # epoch 2, after its step 13
    saved = load_checkpoint(tmp_path)
    assert (saved.epoch, saved.step) == (1, 10)  # the last multiple of 5 within epoch 2
    assert saved.partial_sums is not None and saved.info["partial_rows"] == 10 * 32
    resumed, history = _train_steps(tmp_path, resume=True, checkpoint_every=5)
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows]  # noqa: E731
    assert strip(history) == strip(ref_history)  # the interrupted epoch's mean loss included
    final = load_checkpoint(tmp_path)
    assert (final.epoch, final.step) == (3, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE, "state-epoch00003.safetensors"]

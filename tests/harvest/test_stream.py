"""Streaming a store into training: every row once per epoch, deterministic, bounded memory."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from aekit.harvest import ActivationStore, StoreBatches, StoreWriter
from aekit.harvest._store import to_storage
from aekit.training import Trainer, TrainableModule
from aekit.training import DistContext


def _store(path, n=1000, d=4, rows_per_shard=64, dtype="float32"):
    """A store whose row i is (i, i, ...) + small noise: a row's first column names it."""
    X = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, d)
    writer = StoreWriter(path, d=d, dtype=dtype, rows_per_shard=rows_per_shard, columns=("i",), settings={})
    writer.append(to_storage(X, dtype), np.arange(n, dtype=np.int32)[:, None], 0)
    writer.finish(1)
    return ActivationStore(path)


def _epoch(source, batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    return [b.tensors[0][:, 0].long() for b in source.shuffled(batch_size, g, DistContext())]


@pytest.mark.parametrize("buffer_rows, block_rows, batch_size", [
    (256, 32, 50), (100, 64, 64), (8, 16, 30), (5000, 100, 1000), (256, 32, 1),
])
def test_every_row_exactly_once_per_epoch(tmp_path, buffer_rows, block_rows, batch_size):
    source = StoreBatches(_store(tmp_path / "s"), buffer_rows=buffer_rows, block_rows=block_rows)
    batches = _epoch(source, batch_size, 0)
    rows = torch.cat(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    assert all(b.shape[0] == batch_size for b in batches[:-1]) and 0 < batches[-1].shape[0] <= batch_size
    assert len(batches) == -(-1000 // batch_size)


def test_deterministic_given_the_generator_and_shuffled_across_shards(tmp_path):
    source = StoreBatches(_store(tmp_path / "s"), buffer_rows=256, block_rows=16)
    a, b, c = _epoch(source, 50, 0), _epoch(source, 50, 0), _epoch(source, 50, 1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    first = a[0]
    assert len(set((first // 64).tolist())) > 3  # one batch mixes rows of several shards
    assert not torch.equal(torch.cat(a), torch.arange(1000))


def test_ordered_and_chunks_follow_the_store(tmp_path):
    source = StoreBatches(_store(tmp_path / "s"), buffer_rows=100, block_rows=30)
    ordered = torch.cat([b.tensors[0][:, 0] for b in source.ordered(64, DistContext())]).long()
    assert torch.equal(ordered, torch.arange(1000))
    chunks = [c[0] for c in source.chunks(300, limit=700)]
    assert [c.shape[0] for c in chunks] == [300, 300, 100]
    assert torch.equal(torch.cat(chunks)[:, 0].long(), torch.arange(700))


def test_bfloat16_rows_become_float32_batches(tmp_path):
    store = _store(tmp_path / "s", n=200, dtype="bfloat16")
    source = StoreBatches(store, buffer_rows=64, block_rows=16)
    batch = next(iter(source.shuffled(32, torch.Generator().manual_seed(0), DistContext()))).tensors[0]
    assert batch.dtype == torch.float32
    assert set(batch[:, 0].tolist()) <= set(torch.arange(200).to(torch.bfloat16).float().tolist())
    source64 = StoreBatches(store, dtype=torch.float64)
    assert next(iter(source64.ordered(8, DistContext()))).tensors[0].dtype == torch.float64


def test_ranks_split_each_global_batch(tmp_path):
    source = StoreBatches(_store(tmp_path / "s"), buffer_rows=128, block_rows=32)
    ranks = [list(source.shuffled(50, torch.Generator().manual_seed(3), DistContext(rank=r, world_size=2)))
             for r in range(2)]
    whole = _epoch(source, 50, 3)
    for (b0, b1), full in zip(zip(*ranks), whole):
        torch.testing.assert_close(torch.cat([b0.tensors[0][:, 0], b1.tensors[0][:, 0]]).long(), full)
        assert b0.rows + b1.rows == full.shape[0] and b0.scale + b1.scale == pytest.approx(2.0)


class _LinearAE(TrainableModule):
    def __init__(self, d):
        super().__init__()
        self.enc, self.dec = torch.nn.Linear(d, 2), torch.nn.Linear(2, d)

    def loss_terms(self, x, generator=None):
        return {"reconstruction": ((self.dec(self.enc(x)) - x) ** 2).mean()}


def test_the_trainer_trains_from_a_store_and_repeats_itself(tmp_path):
    rng = np.random.default_rng(0)
    X = torch.from_numpy((rng.normal(size=(600, 2)) @ rng.normal(size=(2, 6))).astype(np.float32))
    writer = StoreWriter(tmp_path / "s", d=6, dtype="float32", rows_per_shard=100, columns=("i",), settings={})
    writer.append(to_storage(X, "float32"), np.zeros((600, 1), np.int32), 0)
    writer.finish(1)

    def fit():
        torch.manual_seed(0)
        module = _LinearAE(6)
        trainer = Trainer(max_epochs=5, batch_size=32, learning_rate=1e-2, random_state=0)
        history = trainer.fit(module, StoreBatches(tmp_path / "s", buffer_rows=200, block_rows=50))
        return module, history

    (m1, h1), (m2, h2) = fit(), fit()
    assert h1[-1]["loss"] < 0.2 * h1[0]["loss"]
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)


def test_skip_resumes_an_epoch_where_it_stopped(tmp_path):
    source = StoreBatches(_store(tmp_path / "s"), buffer_rows=256, block_rows=32)
    g = torch.Generator().manual_seed(3)
    whole = [b.tensors[0] for b in source.shuffled(50, g, DistContext())]
    after_whole = g.get_state()
    g = torch.Generator().manual_seed(3)
    rest = [b.tensors[0] for b in source.shuffled(50, g, DistContext(), skip=7)]
    assert len(rest) == len(whole) - 7 and all(torch.equal(a, b) for a, b in zip(rest, whole[7:]))
    assert torch.equal(g.get_state(), after_whole)  # the next epoch draws the same


def test_training_from_a_store_resumes_mid_epoch_exactly(tmp_path):
    rng = np.random.default_rng(1)
    X = torch.from_numpy((rng.normal(size=(640, 2)) @ rng.normal(size=(2, 6))).astype(np.float32))
    writer = StoreWriter(tmp_path / "s", d=6, dtype="float32", rows_per_shard=100, columns=("i",), settings={})
    writer.append(to_storage(X, "float32"), np.zeros((640, 1), np.int32), 0)
    writer.finish(1)

    class Crash(_LinearAE):
        steps = 0

        def after_optimizer_step(self):
            Crash.steps += 1
            if Crash.steps == 27:
                raise KeyboardInterrupt("killed mid-epoch")

    def fit(module, **options):
        torch.manual_seed(0)
        trainer = Trainer(max_epochs=2, batch_size=32, learning_rate=1e-2, random_state=0, **options)
        return module, trainer.fit(module, StoreBatches(tmp_path / "s", buffer_rows=200, block_rows=50))

    torch.manual_seed(0)
    reference, ref_history = fit(_LinearAE(6))
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        fit(Crash(6), checkpoint_dir=tmp_path / "ckpt", checkpoint_every=4)  # step 27 = epoch 2, step 7
    torch.manual_seed(0)
    resumed, history = fit(_LinearAE(6), checkpoint_dir=tmp_path / "ckpt", checkpoint_every=4, resume=True)
    for p, q in zip(reference.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    assert [r["loss"] for r in history] == [r["loss"] for r in ref_history]


def test_describe_identifies_the_store(tmp_path):
    a = StoreBatches(_store(tmp_path / "a"))
    b = StoreBatches(_store(tmp_path / "b"))
    c = StoreBatches(_store(tmp_path / "c", n=999))
    assert a.describe() == b.describe() != c.describe()
    json.dumps(a.describe())


_RSS_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np, torch
    from aekit.harvest import ActivationStore, StoreBatches
    from aekit.training._distributed import DistContext

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith(key))

    store = ActivationStore(sys.argv[1])
    source = StoreBatches(store, buffer_rows=int(sys.argv[2]), block_rows=1024)
    next(iter(source.ordered(256, DistContext())))  # warm up the allocator and lazy imports
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set size (VmHWM) to the current one
    before = status("VmRSS")
    if sys.argv[3] == "stream":
        seen = sum(b.rows for b in source.shuffled(256, torch.Generator().manual_seed(0), DistContext()))
    else:  # the control: read every row through memory maps that stay open
        maps = [store.shard(k) for k in range(store.n_shards)]
        seen = sum(int(np.asarray(m).sum() > 0) * m.shape[0] for m in maps)
    print(json.dumps({"before": before, "peak": status("VmHWM"), "seen": seen}))
""")


def _peak_growth(store_path, buffer_rows, mode):
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(store_path), str(buffer_rows), mode],
                         capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["peak"] - result["before"], result["seen"]


def test_peak_memory_stays_near_the_buffer_not_the_store(tmp_path):
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident set size")
    # 48 MB of float32 rows streamed through a 4 MB buffer, in a fresh process
    n, d = 48 * 2**20 // (4 * 256), 256
    writer = StoreWriter(tmp_path / "s", d=d, dtype="float32", rows_per_shard=16384, columns=("i",), settings={})
    chunk = np.ones((16384, d), np.float32)
    for b in range(n // 16384):
        writer.append(chunk, np.zeros((16384, 1), np.int32), b)
    writer.finish(n // 16384)
    growth, seen = _peak_growth(tmp_path / "s", 4096, "stream")
    assert seen == n
    assert growth < 16, growth  # the 4 MB buffer, a batch and allocator slack
    control, seen = _peak_growth(tmp_path / "s", 4096, "mmap")
    assert seen == n
    assert control > 40, control  # the measurement sees a store read through open memory maps

"""The harvest: rows equal the layer's output, position handling, extreme norms, budgets, images, resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny import BOS, EOS, tiny_llama, token_documents
from aekit.harvest import TEXT_COLUMNS, ActivationStore, FunctionModule, WindowFormat, cut_windows, harvest

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def _hidden(llama, windows, layer, batch_size):
    """Block ``layer``'s output over the windows, batch by batch as the harvest cuts them: (n, T, d)."""
    out = []
    with torch.no_grad():
        for s in range(0, len(windows), batch_size):
            ids = torch.from_numpy(windows.tokens[s : s + batch_size])
            out.append(llama(ids, output_hidden_states=True).hidden_states[layer + 1])
    return torch.cat(out)


def test_rows_are_the_layer_output_at_positions_from_1(tmp_path, llama, windows):
    report = harvest(llama, "model.layers.1", windows, tmp_path / "s", batch_size=4, store_dtype="float32",
                     rows_per_shard=100, progress=False, model_name="tiny")
    store = report.store
    expected = _hidden(llama, windows, 1, 4)[:, 1:].reshape(-1, 32)
    torch.testing.assert_close(store.rows(), expected, rtol=0, atol=0)
    assert len(store) == report.rows == report.new_rows == len(windows) * 15
    assert report.tokens == windows.n_tokens and report.tokens_per_second > 0
    assert store.columns == TEXT_COLUMNS and store.complete
    index = store.index_rows()
    assert index[:, 4].min() == 1  # position 0 (the BOS token) is never harvested
    np.testing.assert_array_equal(index[:, 0], windows.tokens[:, 1:].reshape(-1))
    np.testing.assert_array_equal(index[:, 3], np.repeat(np.arange(len(windows)), 15))
    text = index[:, 1] >= 0
    np.testing.assert_array_equal(index[text, 1:3], np.stack([windows.document[:, 1:], windows.position[:, 1:]], -1)
                                  .reshape(-1, 2)[text])
    s = store.settings
    assert s["model"] == "tiny" and s["layer"] == "model.layers.1" and s["exclude_positions"] == 1
    assert s["inputs"]["context"] == 16 and s["inputs"]["fingerprint"] == windows.fingerprint()
    assert s["inputs"]["window_format"] == {"prefix": [BOS], "suffix": [], "separator": [2]}
    assert store.manifest["progress"]["stats"]["tokens"] == windows.n_tokens



def test_overlapping_windows_keep_every_window_s_rows(tmp_path, llama):
    docs = token_documents()
    fmt = WindowFormat(prefix=(BOS,), separator=(EOS,))
    windows = cut_windows(docs, 16, fmt, stride=5)  # each text token in up to 3 windows
    stream = sum(t.shape[0] for t in docs.tokens) + len(docs)
    n = (stream - 15) // 5 + 1
    report = harvest(llama, "model.layers.1", windows, tmp_path / "s", batch_size=4, store_dtype="float32",
                     rows_per_shard=100, progress=False)
    store = report.store
    assert len(windows) == n and len(store) == n * 15  # the row count: every window's 15 positions from 1
    assert store.settings["inputs"]["stride"] == 5 and store.settings["inputs"]["context"] == 16
    torch.testing.assert_close(store.rows(), _hidden(llama, windows, 1, 4)[:, 1:].reshape(-1, 32), rtol=0, atol=0)
    # a text token harvested in two windows gives two rows: the same token with other context before it
    index, rows = store.index_rows(), store.rows()
    seen: dict[tuple[int, int], list[int]] = {}
    for r in np.flatnonzero(index[:, 1] >= 0):
        seen.setdefault((int(index[r, 1]), int(index[r, 2])), []).append(int(r))
    pairs = [(rs[0], rs[1]) for rs in seen.values() if len(rs) > 1]
    assert len(pairs) > len(seen) // 2 and max(len(rs) for rs in seen.values()) == 3
    for i, j in pairs:
        assert index[i, 0] == index[j, 0] and index[i, 3] < index[j, 3] and index[i, 4] > index[j, 4]
        assert not torch.equal(rows[i], rows[j])
    assert cut_windows(docs, 16, fmt).stride == 15
    default = harvest(llama, "model.layers.1", cut_windows(docs, 16, fmt), tmp_path / "d", batch_size=4,
                      progress=False).store
    assert default.settings["inputs"]["stride"] == 15

def test_mlp_and_attention_outputs(tmp_path, llama, windows):
    w = windows.take(6)
    for path, module in (("model.layers.0.mlp", llama.model.layers[0].mlp),
                         ("model.layers.0.self_attn", llama.model.layers[0].self_attn)):
        captured = []
        handle = module.register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
        with torch.no_grad():
            llama(torch.from_numpy(w.tokens))
        handle.remove()
        store = harvest(llama, path, w, tmp_path / path, batch_size=6, store_dtype="float32", progress=False).store
        torch.testing.assert_close(store.rows(), captured[0][:, 1:].reshape(-1, 32), rtol=0, atol=0)


def _sink(llama, factor=500.0):
    """Make block 1's output at position 0 ``factor`` times larger: an attention sink like SmolLM2's."""

    def hook(module, inputs, output):
        h = output[0] if isinstance(output, tuple) else output
        h = torch.cat([h[:, :1] * factor, h[:, 1:]], dim=1)
        return (h, *output[1:]) if isinstance(output, tuple) else h

    return llama.model.layers[1].register_forward_hook(hook)


def test_position_0_is_excluded_and_extreme_rows_are_counted_and_dropped(tmp_path, windows):
    llama = tiny_llama()
    handle = _sink(llama)
    try:
        common = dict(batch_size=4, store_dtype="float32", progress=False)
        kept = harvest(llama, "model.layers.1", windows, tmp_path / "a", **common)
        assert kept.extreme_rows == 0 and kept.excluded_norm_ratio > 100  # the sink is measured, not stored
        with_bos = harvest(llama, "model.layers.1", windows, tmp_path / "b", exclude_positions=0, **common)
        assert len(with_bos.store) == len(windows) * 16
        assert with_bos.extreme_rows == len(windows) and with_bos.dropped_rows == 0  # every position-0 row
        assert with_bos.norm_threshold == pytest.approx(10 * with_bos.median_norm)
        dropped = harvest(llama, "model.layers.1", windows, tmp_path / "c", exclude_positions=0, drop_extreme=True,
                          **common)
        assert dropped.dropped_rows == len(windows) and len(dropped.store) == len(windows) * 15
        np.testing.assert_array_equal(dropped.store.index_rows(), kept.store.index_rows())
        torch.testing.assert_close(dropped.store.rows(), kept.store.rows(), rtol=0, atol=0)
    finally:
        handle.remove()


def test_a_bare_array_of_token_ids(tmp_path, llama, windows):
    bare = harvest(llama, "model.layers.1", windows.tokens[:6], tmp_path / "bare", batch_size=3, store_dtype="float32",
                   progress=False).store
    full = harvest(llama, "model.layers.1", windows.take(6), tmp_path / "full", batch_size=3, store_dtype="float32",
                   progress=False).store
    torch.testing.assert_close(bare.rows(), full.rows(), rtol=0, atol=0)
    np.testing.assert_array_equal(bare.index_rows()[:, 1], np.repeat(np.arange(6), 15))  # each row its own document
    np.testing.assert_array_equal(bare.index_rows()[:, 2], np.tile(np.arange(1, 16), 6))


def test_token_budget_stops_at_exactly_that_many_rows(tmp_path, llama, windows):
    full = harvest(llama, "model.layers.1", windows, tmp_path / "full", batch_size=4, store_dtype="float32",
                   rows_per_shard=40, progress=False).store
    part = harvest(llama, "model.layers.1", windows, tmp_path / "part", batch_size=4, store_dtype="float32",
                   rows_per_shard=40, max_rows=100, progress=False)
    assert part.rows == 100 and part.store.complete and part.store.shard_rows == [40, 40, 20]
    torch.testing.assert_close(part.store.rows(), full.rows(0, 100), rtol=0, atol=0)
    assert part.tokens == 2 * 4 * 16  # 60 rows per batch: two batches were run


def test_autocast_and_bfloat16_store(tmp_path, llama, windows):
    w = windows.take(8)
    ref = _hidden(llama, w, 1, 8)[:, 1:].reshape(-1, 32)
    store = harvest(llama, "model.layers.1", w, tmp_path / "s", batch_size=8, autocast=True, progress=False).store
    assert store.dtype == "bfloat16" and store.settings["autocast"] is True
    # bfloat16 matmuls and storage: about 3 significant digits, relative to the scale of the rows
    assert float((store.rows() - ref).norm() / ref.norm()) < 0.05


def test_an_autoencoders_codes_and_a_cnns_feature_maps(tmp_path):
    from aekit.autoencoders import Autoencoder
    from aekit.datasets import load_digits

    X = load_digits().X[:300]
    ae = Autoencoder(n_components=16, max_epochs=2, random_state=0).fit(X)
    codes = harvest(FunctionModule(ae.torch_encoder(), ae.module_), "", X, tmp_path / "ae", batch_size=64,
                    store_dtype="float32", progress=False).store
    assert codes.d == 16 and len(codes) == 300 and codes.columns == ("sample", "location")
    torch.testing.assert_close(codes.rows(), torch.from_numpy(ae.transform(X)), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(codes.index_rows()[:, 0], np.arange(300))

    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 5, 3))
    images = torch.from_numpy(X[:20].reshape(20, 1, 8, 8))
    with torch.no_grad():
        maps = cnn[:2](images)  # (20, 4, 6, 6)
    per_location = harvest(cnn, "1", images, tmp_path / "loc", batch_size=8, locations=True, store_dtype="float32",
                           progress=False).store
    torch.testing.assert_close(per_location.rows(), maps.permute(0, 2, 3, 1).reshape(-1, 4), rtol=0, atol=0)
    index = per_location.index_rows()
    np.testing.assert_array_equal(index[:, 0], np.repeat(np.arange(20), 36))
    np.testing.assert_array_equal(index[:, 1], np.tile(np.arange(36), 20))
    flat = harvest(cnn, "1", images, tmp_path / "flat", batch_size=8, store_dtype="float32", progress=False).store
    assert flat.d == 4 * 36 and len(flat) == 20
    with pytest.raises(ValueError, match="locations=True needs a"):
        harvest(FunctionModule(ae.torch_encoder(), ae.module_), "", X, tmp_path / "bad", locations=True, progress=False)


def test_bad_inputs(tmp_path, llama, windows):
    with pytest.raises(KeyError, match="Closest names: model.layers.1"):
        harvest(llama, "model.layer.1", windows, tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()  # nothing written
    with pytest.raises(ValueError, match="exclude_positions=16"):
        harvest(llama, "model.layers.1", windows, tmp_path / "s", exclude_positions=16, progress=False)
    with pytest.raises(ValueError, match=r"\(batch, positions, d\)"):
        harvest(FunctionModule(lambda ids: ids.float()), "", windows, tmp_path / "s", progress=False)
    harvest(llama, "model.layers.1", windows.take(4), tmp_path / "done", progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        harvest(llama, "model.layers.1", windows.take(4), tmp_path / "done", progress=False)
    again = harvest(llama, "model.layers.1", windows.take(4), tmp_path / "done", resume=True, progress=False)
    assert again.new_rows == 0 and again.rows == 4 * 15
    with pytest.raises(ValueError, match="settings.layer: stored 'model.layers.1', now 'model.layers.0'"):
        harvest(llama, "model.layers.0", windows.take(4), tmp_path / "done", resume=True, progress=False)
    with pytest.raises(ValueError, match="settings.model_fingerprint"):  # other weights
        harvest(tiny_llama(seed=1), "model.layers.1", windows.take(4), tmp_path / "done", resume=True, progress=False)


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("stride", [None, 6])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, llama, windows, stride):
    if stride is not None:  # overlapping windows resume as exactly
        windows = cut_windows(token_documents(), 16, WindowFormat(prefix=(BOS,), separator=(EOS,)), stride=stride)
    common = dict(batch_size=3, store_dtype="float32", rows_per_shard=40, progress=False)
    reference = harvest(llama, "model.layers.2", windows, tmp_path / "ref", **common)
    for stop_after in (2, 5, 9):  # interrupts inside a shard, at various offsets
        calls = {"n": 0}

        def boom(module, inputs):
            calls["n"] += 1
            if calls["n"] > stop_after:
                raise _Interrupt

        handle = llama.model.layers[0].register_forward_pre_hook(boom)
        with pytest.raises(_Interrupt):
            harvest(llama, "model.layers.2", windows, tmp_path / "s", resume=True, **common)
        handle.remove()
    resumed = harvest(llama, "model.layers.2", windows, tmp_path / "s", resume=True, **common)
    assert resumed.new_rows < resumed.rows
    _assert_same_store(resumed.store, reference.store)


def _assert_same_store(a: ActivationStore, b: ActivationStore):
    torch.testing.assert_close(a.rows(), b.rows(), rtol=0, atol=0)
    np.testing.assert_array_equal(a.index_rows(), b.index_rows())
    assert a.shard_rows == b.shard_rows and a.complete and b.complete
    assert a.manifest["progress"] == b.manifest["progress"]  # statistics counted once
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]
    a.verify()


_CHILD = textwrap.dedent("""
    import sys, time, torch
    sys.path[:0] = [sys.argv[1]]
    torch.set_num_threads(1)
    from _tiny import BOS, EOS, tiny_llama, token_documents
    from aekit.harvest import WindowFormat, cut_windows, harvest

    llama = tiny_llama()
    windows = cut_windows(token_documents(), 16, WindowFormat(prefix=(BOS,), separator=(EOS,)))
    delay = float(sys.argv[3])
    if delay:
        llama.model.layers[0].register_forward_pre_hook(lambda m, i: time.sleep(delay))
    harvest(llama, "model.layers.2", windows, sys.argv[2], batch_size=2, store_dtype="float32", rows_per_shard=25,
            resume=True, progress=False)
""")


def _shards(path: Path) -> int:
    try:
        return len(json.loads((path / "manifest.json").read_text())["shards"])
    except (OSError, ValueError):
        return 0


def _run_child(store: Path, delay: float, kill_at_shards: int | None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(HERE), str(store), str(delay)], env=env)
    if kill_at_shards is None:
        assert child.wait(timeout=300) == 0
        return
    deadline = time.monotonic() + 300
    while _shards(store) < kill_at_shards:
        assert child.poll() is None, "the harvest finished before it could be killed; raise the delay"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL


def test_sigkill_and_resume_end_with_exactly_the_rows_of_an_uninterrupted_run(tmp_path, windows):
    reference = harvest(tiny_llama(), "model.layers.2", windows, tmp_path / "ref", batch_size=2, store_dtype="float32",
                        rows_per_shard=25, progress=False)
    store = tmp_path / "killed"
    _run_child(store, 0.05, kill_at_shards=3)
    first = ActivationStore(store)
    assert not first.complete and 3 <= first.n_shards < reference.store.n_shards
    _run_child(store, 0.05, kill_at_shards=first.n_shards + 4)  # killed again, after resuming
    assert not ActivationStore(store).complete
    _run_child(store, 0.0, kill_at_shards=None)
    _assert_same_store(ActivationStore(store), reference.store)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (root only; skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + done.stderr.decode().strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_stops_the_harvest_cleanly_and_it_resumes(small_disk, tmp_path, llama, windows):
    common = dict(batch_size=4, store_dtype="float32", rows_per_shard=100, progress=False)
    reference = harvest(llama, "model.layers.1", windows, tmp_path / "ref", **common).store
    assert sum(reference.shard_path(k).stat().st_size for k in range(reference.n_shards)) > 64 * 1024
    with pytest.raises(OSError, match=r"No space left on the device .* The store is consistent: \d+ complete shard"):
        harvest(llama, "model.layers.1", windows, small_disk / "s", **common)
    partial = ActivationStore(small_disk / "s", verify=True)
    assert 0 < len(partial) < len(reference) and not partial.complete
    subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True)  # free some space
    resumed = harvest(llama, "model.layers.1", windows, small_disk / "s", resume=True, **common)
    _assert_same_store(resumed.store, reference)

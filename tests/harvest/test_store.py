"""The activation store: round trips, manifest, checksums, clear errors, out of disk."""

import errno
import json

import numpy as np
import pytest
import torch

from aekit.harvest import STORE_DTYPES, ActivationStore, StoreError, StoreWriter
from aekit.harvest._store import from_storage, to_storage

COLUMNS = ("sample", "location")


def _write(path, X, *, rows_per_shard=7, dtype="float32", batch=5, settings=None):
    """Store X (n, d) in batches of ``batch`` rows; the index records each row's number."""
    writer = StoreWriter(path, d=X.shape[1], dtype=dtype, rows_per_shard=rows_per_shard, columns=COLUMNS,
                         settings=settings or {"what": "test"})
    for b, start in enumerate(range(0, X.shape[0], batch)):
        rows = to_storage(X[start : start + batch], dtype)
        n = rows.shape[0]
        index = np.stack([np.arange(start, start + n), np.full(n, b)], axis=1).astype(np.int32)
        writer.append(rows, index, b, {"rows_seen": n})
    writer.finish(b + 1)
    return ActivationStore(path)


@pytest.fixture
def X():
    return torch.randn(40, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("dtype", list(STORE_DTYPES))
def test_round_trip_in_every_dtype(tmp_path, X, dtype):
    store = _write(tmp_path / "s", X, dtype=dtype)
    expected = X.to(STORE_DTYPES[dtype][1]).float()  # what the dtype keeps, exactly
    torch.testing.assert_close(store.rows(), expected, rtol=0, atol=0)
    torch.testing.assert_close(store.rows(5, 23), expected[5:23], rtol=0, atol=0)  # across shards
    assert store.shard_rows == [7, 7, 7, 7, 7, 5] and len(store) == 40 and store.d == 6
    np.testing.assert_array_equal(store.index_rows()[:, 0], np.arange(40))
    assert store.shard(0).dtype == STORE_DTYPES[dtype][0] and store.shard(0).shape == (7, 6)
    torch.testing.assert_close(from_storage(np.asarray(store.shard(1)), dtype).float(), expected[7:14], rtol=0, atol=0)
    store.verify()


def test_manifest_records_data_settings_checksums_and_progress(tmp_path, X):
    store = _write(tmp_path / "s", X, settings={"model": "m", "layer": "l"})
    m = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert m["format"] == "aekit-activations" and m["d"] == 6 and m["dtype"] == "float32" and m["rows"] == 40
    assert m["rows_per_shard"] == 7 and m["columns"] == list(COLUMNS) and m["complete"] is True
    assert m["settings"] == {"model": "m", "layer": "l"}
    assert [s["rows"] for s in m["shards"]] == store.shard_rows
    assert all(len(s["sha256"]) == 64 and len(s["index_sha256"]) == 64 for s in m["shards"])
    assert m["progress"] == {"batch": 8, "skip": 0, "stats": {"rows_seen": 40}}
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(
        ["manifest.json"] + [f"shard-{k:06d}{ext}" for k in range(6) for ext in (".npy", ".index.npy")])
    assert store.fingerprint() == _write(tmp_path / "t", X).fingerprint()


def test_resume_point_names_the_batch_to_rerun_and_the_rows_to_skip(tmp_path, X):
    writer = StoreWriter(tmp_path / "s", d=6, dtype="float32", rows_per_shard=7, columns=COLUMNS, settings={})
    writer.append(to_storage(X[:5], "float32"), np.zeros((5, 2), np.int32), 0, {"n": 1})
    assert writer.resume_point == (0, 0) and writer.rows == 0  # nothing committed yet
    writer.append(to_storage(X[5:10], "float32"), np.zeros((5, 2), np.int32), 1, {"n": 1})
    # the shard filled with 2 of batch 1's rows: rerun batch 1 skipping 2; batch 1's stats are not counted yet
    assert writer.resume_point == (1, 2) and writer.rows == 7 and writer.stats == {"n": 1}
    writer.append(to_storage(X[10:14], "float32"), np.zeros((4, 2), np.int32), 2, {"n": 1})
    assert writer.resume_point == (3, 0) and writer.rows == 14 and writer.stats == {"n": 3}  # ended on a batch end


def test_corrupt_shard_is_detected_by_its_checksum(tmp_path, X):
    store = _write(tmp_path / "s", X)
    path = store.shard_path(2)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40  # one bit of one value
    path.write_bytes(bytes(data))
    reopened = ActivationStore(tmp_path / "s")  # sizes and headers still match
    with pytest.raises(StoreError, match=r"checksum mismatch in shard-000002\.npy"):
        reopened.verify()
    with pytest.raises(StoreError, match="checksum mismatch"):
        ActivationStore(tmp_path / "s", verify=True)


def test_corrupt_index_is_detected_too(tmp_path, X):
    store = _write(tmp_path / "s", X)
    path = store.index_path(0)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"shard-000000\.index\.npy"):
        store.verify()


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "shard-000003.npy").unlink(), "lists shard-000003.npy, which is missing"),
    (lambda p: (p / "shard-000001.npy").write_bytes((p / "shard-000001.npy").read_bytes()[:-8]), "truncated"),
    (lambda p: np.save(p / "shard-000001.npy", np.zeros((7, 5), np.float32)), r"holds float32 \(7, 5\)"),
    (lambda p: (p / "manifest.json").unlink(), "manifest.json is missing"),
    (lambda p: (p / "manifest.json").write_text("{"), "not readable JSON"),
    (lambda p: _edit(p, rows=41), "rows=41 but its shards hold 40"),
    (lambda p: _edit(p, format="other"), "not an aekit activation-store manifest"),
    (lambda p: _edit(p, version=99), "format version 99"),
    (lambda p: _edit(p, dtype="int8"), "unknown dtype 'int8'"),
])
def test_a_store_that_does_not_match_its_manifest_is_refused(tmp_path, X, damage, message):
    _write(tmp_path / "s", X)
    damage(tmp_path / "s")
    with pytest.raises(StoreError, match=message):
        ActivationStore(tmp_path / "s")


def _edit(path, **changes):
    m = json.loads((path / "manifest.json").read_text())
    m.update(changes)
    (path / "manifest.json").write_text(json.dumps(m))


def test_d_mismatch_between_store_and_consumer(tmp_path, X):
    store = _write(tmp_path / "s", X, settings={"model": "tiny", "layer": "model.layers.1"})
    store.check_dim(6)
    with pytest.raises(StoreError, match=r"width d=6 \(layer 'model.layers.1' of 'tiny'\), but the SAE expects d=8"):
        store.check_dim(8, "the SAE")


def test_existing_folders_are_not_overwritten(tmp_path, X):
    _write(tmp_path / "s", X)
    with pytest.raises(FileExistsError, match="resume"):
        StoreWriter(tmp_path / "s", d=6, dtype="float32", rows_per_shard=7, columns=COLUMNS, settings={"what": "test"})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an activation store"):
        StoreWriter(tmp_path / "other", d=6, dtype="float32", rows_per_shard=7, columns=COLUMNS, settings={})


def test_resuming_with_other_settings_names_every_difference(tmp_path, X):
    _write(tmp_path / "s", X, settings={"model": "m", "layer": "a", "inputs": {"context": 16}})
    with pytest.raises(StoreError) as info:
        StoreWriter(tmp_path / "s", d=6, dtype="float16", rows_per_shard=7, columns=COLUMNS,
                    settings={"model": "m", "layer": "b", "inputs": {"context": 32}}, resume=True)
    message = str(info.value)
    for line in ("dtype: stored 'float32', now 'float16'", "settings.layer: stored 'a', now 'b'",
                 "settings.inputs.context: stored 16, now 32"):
        assert line in message
    assert "settings.model" not in message


def test_out_of_disk_leaves_a_consistent_store_that_resumes(tmp_path, X, monkeypatch):
    reference = _write(tmp_path / "ref", X)
    real_write = StoreWriter._write
    calls = {"n": 0}

    def full_disk(path, array):
        calls["n"] += 1
        if calls["n"] == 6:  # the data file of shard 2 was written, its index hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, array)

    monkeypatch.setattr(StoreWriter, "_write", staticmethod(full_disk))
    with pytest.raises(OSError, match=r"No space left .* shard 2 .* consistent: 2 complete shard\(s\), 14 rows.*--resume") as info:
        _write(tmp_path / "s", X)
    assert info.value.errno == errno.ENOSPC
    store = ActivationStore(tmp_path / "s", verify=True)
    assert len(store) == 14 and not store.complete
    assert not (tmp_path / "s" / "shard-000002.npy").exists()  # the half-written shard gave its space back
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(StoreWriter, "_write", staticmethod(real_write))

    writer = StoreWriter(tmp_path / "s", d=6, dtype="float32", rows_per_shard=7, columns=COLUMNS,
                         settings={"what": "test"}, resume=True)
    b0, skip = writer.resume_point
    assert (b0, skip) == (2, 4)  # batch 2 holds rows 10..14; rows 10..13 are stored
    for b in range(b0, 8):
        rows = to_storage(X[5 * b : 5 * b + 5], "float32")
        index = np.stack([np.arange(5 * b, 5 * b + 5), np.full(5, b)], axis=1).astype(np.int32)
        start = skip if b == b0 else 0
        writer.append(rows[start:], index[start:], b, {"rows_seen": 5})
    writer.finish(8)
    resumed = ActivationStore(tmp_path / "s", verify=True)
    torch.testing.assert_close(resumed.rows(), reference.rows(), rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.index_rows(), reference.index_rows())
    assert resumed.manifest["progress"] == reference.manifest["progress"]  # statistics counted once


def test_out_of_disk_on_the_manifest_write(tmp_path, X, monkeypatch):
    import aekit.harvest._store as store_module

    real = store_module.atomic_write_json
    calls = {"n": 0}

    def full(path, obj):
        calls["n"] += 1
        if calls["n"] == 3:  # creation, shard 0, then shard 1's manifest
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, obj)

    monkeypatch.setattr(store_module, "atomic_write_json", full)
    with pytest.raises(OSError, match="consistent: 1 complete shard"):
        _write(tmp_path / "s", X)
    assert len(ActivationStore(tmp_path / "s", verify=True)) == 7
    assert not (tmp_path / "s" / "shard-000001.npy").exists()


def test_read_block_into_a_buffer(tmp_path, X):
    store = _write(tmp_path / "s", X)
    out = np.empty((3, 6), np.float32)
    store.read_block(1, 2, 5, out)
    np.testing.assert_array_equal(out, X[9:12].numpy())
    with pytest.raises(ValueError, match="C-contiguous"):
        store.read_block(1, 2, 5, np.empty((2, 6), np.float32))

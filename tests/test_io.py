import json

import numpy as np
import pytest
import torch

from aekit import io as aio


def test_atomic_write_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "a.txt"
    aio.atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with aio.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_replaces_whole_folder(tmp_path):
    target = tmp_path / "d"
    with aio.atomic_dir(target) as tmp:
        (tmp / "x").write_text("1")
    with aio.atomic_dir(target) as tmp:
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["y"]
    with pytest.raises(ValueError):
        with aio.atomic_dir(target) as tmp:
            (tmp / "z").write_text("3")
            raise ValueError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["y"]


def test_json_roundtrip_keeps_tuples_and_arrays():
    obj = {"a": (1, 2), "b": [np.float32(1.5), np.int64(3)], "c": np.arange(3), "d": None}
    back = aio.from_jsonable(json.loads(json.dumps(aio.to_jsonable(obj))))
    assert back["a"] == (1, 2)
    assert back["b"] == [1.5, 3]
    np.testing.assert_array_equal(back["c"], np.arange(3))


def test_to_jsonable_refuses_callables():
    with pytest.raises(TypeError, match="by name"):
        aio.to_jsonable({"f": lambda x: x})


def test_tensors_roundtrip_and_corrupt_file(tmp_path):
    path = tmp_path / "t.safetensors"
    aio.save_tensors(path, {"w": torch.arange(6.0).reshape(2, 3)})
    assert torch.equal(aio.load_tensors(path)["w"], torch.arange(6.0).reshape(2, 3))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        aio.load_tensors(path)


def test_load_refuses_foreign_classes(tmp_path):
    (tmp_path / "m").mkdir()
    aio.atomic_write_json(
        tmp_path / "m" / "config.json",
        {"format": "aekit-model", "format_version": 1, "class": "os.system", "params": {}, "state": {}},
    )
    with pytest.raises(ValueError, match="only aekit classes"):
        aio.load(tmp_path / "m")


def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        aio.atomic_write_text(tmp_path / "f.txt", "x")
        with aio.atomic_dir(tmp_path / "d") as tmp:
            (tmp / "y").write_text("y")
    finally:
        os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_file_digest_matches_hashlib(tmp_path):
    import hashlib

    from aekit.io import file_digest

    data = bytes(range(256)) * 5000  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    assert file_digest(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert file_digest(tmp_path / "f", "md5") == hashlib.md5(data).hexdigest()

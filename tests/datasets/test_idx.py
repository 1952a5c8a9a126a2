"""IDX reader: every dtype, gzip and raw, and clear errors on bad files."""

import gzip
import struct

import numpy as np
import pytest

from aekit.datasets import read_idx
from aekit.datasets._idx import IDX_DTYPES


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_DTYPES[code]).tobytes()


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip_every_dtype(tmp_path, code, compressed):
    rng = np.random.default_rng(code)
    a = rng.integers(-100, 100, size=(3, 4, 5)) if code != 0x08 else rng.integers(0, 256, size=(3, 4, 5))
    if code in (0x0D, 0x0E):
        a = rng.normal(size=(3, 4, 5))
    raw = idx_bytes(a, code)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    out = read_idx(path)
    assert out.shape == (3, 4, 5)
    assert out.dtype == IDX_DTYPES[code].newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, a.astype(IDX_DTYPES[code]))


def test_labels_file_is_1d(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.array([5, 0, 4, 1]), 0x08))
    np.testing.assert_array_equal(read_idx(path), [5, 0, 4, 1])


@pytest.fixture
def good(tmp_path):
    return idx_bytes(np.arange(2 * 3 * 3).reshape(2, 3, 3), 0x08)


@pytest.mark.parametrize(
    "mangle, match",
    [
        (lambda b: b[:-1], r"truncated IDX file: dimensions \(2, 3, 3\) of uint8 need 18 data bytes, found 17"),
        (lambda b: b + b"\x00\x00", r"corrupt IDX file: .* found 20 \(2 extra\)"),
        (lambda b: b[:10], "truncated IDX file: the header announces 3 dimensions"),
        (lambda b: b"\x89PNG\r\n\x1a\n" + b[8:], "not an IDX file: the magic number must start with two zero bytes"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown dtype code 0x07"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
        (lambda b: b"\x00\x00", "too short"),
    ],
)
def test_bad_raw_files(tmp_path, good, mangle, match):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mangle(good))
    with pytest.raises(ValueError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_and_corrupt_gzip(tmp_path, good):
    gz = gzip.compress(good * 50)
    path = tmp_path / "half.gz"
    path.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)
    flipped = bytearray(gz)
    flipped[len(gz) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=str(path)):
        read_idx(path)


def test_huge_dimensions_in_a_garbage_header(tmp_path):
    path = tmp_path / "garbage"
    path.write_bytes(bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 8)
    with pytest.raises(ValueError, match="truncated IDX file"):
        read_idx(path)


def test_a_gzip_of_something_else(tmp_path):
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"hello, this is text"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such IDX file"):
        read_idx(tmp_path / "nope.gz")

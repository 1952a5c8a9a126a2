"""MNIST / Fashion-MNIST loading and downloading, offline: local file:// and http:// mirrors."""

import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from aekit.datasets import DownloadError, load_fashion_mnist, load_mnist
from aekit.datasets import _mnist

N_TRAIN, N_TEST = 7, 3


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A folder with small fake MNIST files; the md5 table is patched to their checksums."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        img_name, lab_name = _mnist.FILES[split]
        arrays[split] = (images, labels)
        for name, arr in ((img_name, images), (lab_name, labels)):
            (folder / name).write_bytes(gzip.compress(_idx(arr), mtime=0))
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    for kind in ("mnist", "fashion-mnist"):
        monkeypatch.setitem(_mnist.MD5, kind, md5)
        monkeypatch.setitem(_mnist.MIRRORS, kind, [folder.as_uri() + "/"])
    return folder, arrays


def _check(ds, arrays, split):
    images, labels = arrays[split]
    n = images.shape[0]
    assert ds.X.shape == (n, 784) and ds.X.dtype == np.float32
    assert ds.image_shape == (28, 28)
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, labels)
    np.testing.assert_array_equal(ds.X, images.reshape(n, 784).astype(np.float32) / np.float32(255))
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0


def _leftovers(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_download_from_file_mirror_then_cached(tmp_path, mirror, monkeypatch):
    folder, arrays = mirror
    home = tmp_path / "home"
    dead = (tmp_path / "no-such-mirror").as_uri() + "/"
    monkeypatch.setitem(_mnist.MIRRORS, "mnist", [dead, folder.as_uri() + "/"])  # first mirror fails
    ds = load_mnist("train", data_home=home)
    _check(ds, arrays, "train")
    assert sorted(p.name for p in (home / "mnist").iterdir()) == sorted(_mnist.FILES["train"])
    # now cached: no network needed
    monkeypatch.setitem(_mnist.MIRRORS, "mnist", [dead])
    _check(load_mnist("train", data_home=home, download=False), arrays, "train")
    assert ds.name == "mnist"


def test_download_over_http(tmp_path, mirror, monkeypatch):
    folder, arrays = mirror
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setitem(_mnist.MIRRORS, "fashion-mnist", [f"http://127.0.0.1:{server.server_port}/"])
        ds = load_fashion_mnist("test", data_home=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    _check(ds, arrays, "test")
    assert ds.name == "fashion-mnist-test" and ds.extras["classes"][9] == "Ankle boot"
    assert (tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def test_checksum_mismatch_is_refused_and_not_kept(tmp_path, mirror, monkeypatch):
    folder, _ = mirror
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for p in folder.iterdir():
        (bad / p.name).write_bytes(p.read_bytes()[:-3] + b"xyz")
    monkeypatch.setitem(_mnist.MIRRORS, "mnist", [bad.as_uri() + "/"])
    home = tmp_path / "home"
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        load_mnist("test", data_home=home)
    assert "it was not kept" in str(err.value)
    assert list((home / "mnist").iterdir()) == []  # neither the bad file nor a temporary one


def test_offline_error_says_which_files_to_put_where(tmp_path, mirror, monkeypatch):
    monkeypatch.setitem(_mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/"])  # discard port: refused
    with pytest.raises(DownloadError) as err:
        load_mnist("test", data_home=tmp_path)
    msg = str(err.value)
    assert "no network?" in msg and "http://127.0.0.1:9/t10k-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in msg
    assert "AEKIT_DATA" in msg
    with pytest.raises(FileNotFoundError, match="download=False") as err:
        load_mnist("train", data_home=tmp_path, download=False)
    for name in _mnist.FILES["train"]:
        assert str(tmp_path / "mnist" / name) in str(err.value)
        assert _mnist.MD5["mnist"][name] in str(err.value)


def test_local_file_with_wrong_checksum(tmp_path, mirror):
    folder, _ = mirror
    (tmp_path / "mnist").mkdir()
    for name in _mnist.FILES["test"]:
        (tmp_path / "mnist" / name).write_bytes((folder / name).read_bytes())
    target = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(_idx(np.zeros(N_TEST, np.uint8)), mtime=1))
    with pytest.raises(ValueError, match="checksum mismatch") as err:
        load_mnist("test", data_home=tmp_path, download=False)
    assert str(target) in str(err.value) and "Delete it" in str(err.value)


def test_uncompressed_files_and_env_data_home(tmp_path, mirror, monkeypatch):
    folder, arrays = mirror
    (tmp_path / "mnist").mkdir()
    for name in _mnist.FILES["test"]:
        raw = gzip.decompress((folder / name).read_bytes())
        (tmp_path / "mnist" / name.removesuffix(".gz")).write_bytes(raw)
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    _check(load_mnist("test", download=False), arrays, "test")


def test_default_data_home_is_user_cache(tmp_path, monkeypatch):
    from aekit.datasets import get_data_home

    monkeypatch.delenv("AEKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path / ".cache" / "aekit"
    assert get_data_home("~/x") == tmp_path / "x"


def test_label_count_mismatch(tmp_path, mirror):
    folder, _ = mirror
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes()))
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(N_TEST + 1, np.uint8)))
    with pytest.raises(ValueError, match=f"expected {N_TEST} labels"):
        load_mnist("test", data_home=tmp_path, download=False)


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="Unknown split 'validation': use 'train' or 'test'"):
        load_mnist("validation", data_home=tmp_path)


def _home_with_mnist(mnist_home, tmp_path) -> Path:
    if (mnist_home / "mnist").is_dir():
        return mnist_home
    os.symlink(mnist_home, tmp_path / "mnist")
    return tmp_path


@pytest.mark.slow
@pytest.mark.mnist
def test_canonical_mnist(mnist_home, tmp_path):
    home = _home_with_mnist(mnist_home, tmp_path)
    train = load_mnist("train", data_home=home, download=False)  # md5s of the canonical files are checked
    test = load_mnist("test", data_home=home, download=False)
    assert train.X.shape == (60000, 784) and test.X.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(train.y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(np.bincount(test.y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    np.testing.assert_array_equal(train.y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    assert float(train.X.astype(np.float64).mean() * 255) == pytest.approx(33.3184, abs=1e-4)
    assert float(test.X.astype(np.float64).mean() * 255) == pytest.approx(33.7912, abs=1e-4)
    assert train.X.min() == 0.0 and train.X.max() == 1.0

"""get_dataset / list_datasets: names, options, paths, cache status."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from aekit.datasets import dataset_names, get_dataset, list_datasets, load_digits
from aekit.datasets import _mnist


def test_names_match_the_shared_interface():
    expected = {"digits", "mnist", "mnist-test", "fashion-mnist", "patches", "swiss-roll", "s-curve",
                "ica-mixture", "sfa-signal"}
    assert expected <= set(dataset_names())


def test_get_offline_datasets_by_name():
    np.testing.assert_array_equal(get_dataset("digits").X, load_digits().X)
    roll = get_dataset("swiss-roll", n_samples=100, noise=0.1, random_state=2)
    assert roll.X.shape == (100, 3) and roll.name == "swiss-roll"
    assert get_dataset("s-curve", n_samples=50).X.shape == (50, 3)
    assert get_dataset("patches", n_patches=20, patch_size=4).X.shape == (20, 16)


@pytest.mark.parametrize("name", ["ica-mixture", "sfa-signal"])
def test_signal_datasets_by_name(name):
    ds = get_dataset(name)
    assert ds.X.ndim == 2 and ds.X.dtype == np.float32


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnsit': use one of 'digits', 'mnist', 'mnist-test'.*or the path"):
        get_dataset("mnsit")


def test_unknown_option_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'n' for dataset 'swiss-roll': valid options are n_samples, noise, hole, random_state"):
        get_dataset("swiss-roll", n=10)
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'split' for dataset 'mnist-test': valid options are data_home, download"):
        get_dataset("mnist-test", split="train")
    with pytest.raises(ValueError, match=r"valid options are \(none\)"):
        get_dataset("digits", scale=2)


def test_paths_go_to_load(tmp_path):
    np.save(tmp_path / "codes.npy", np.ones((3, 2)))
    assert get_dataset(str(tmp_path / "codes.npy")).X.shape == (3, 2)
    assert get_dataset(tmp_path / "codes.npy").name == "codes"
    with pytest.raises(FileNotFoundError):
        get_dataset(str(tmp_path / "missing.csv"))


def _fake_mnist(folder, split):
    folder.mkdir(parents=True, exist_ok=True)
    images = np.zeros((2, 28, 28), np.uint8)
    labels = np.array([3, 4], np.uint8)
    md5 = {}
    for name, arr in zip(_mnist.FILES[split], (images, labels)):
        raw = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        (folder / name).write_bytes(gzip.compress(raw, mtime=0))
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    return md5


def test_list_datasets_reports_cache(tmp_path, monkeypatch):
    rows = {r["name"]: r for r in list_datasets(data_home=tmp_path)}
    assert set(rows) == set(dataset_names())
    assert all(set(r) == {"name", "description", "offline", "location", "cached"} for r in rows.values())
    assert rows["digits"]["offline"] and rows["digits"]["cached"] and rows["digits"]["location"] is None
    assert not rows["mnist"]["offline"] and not rows["mnist"]["cached"]
    assert rows["mnist"]["location"] == str(tmp_path / "mnist")
    assert rows["fashion-mnist"]["location"] == str(tmp_path / "fashion-mnist")
    md5 = _fake_mnist(tmp_path / "mnist", "test")
    rows = {r["name"]: r for r in list_datasets(data_home=tmp_path)}
    assert rows["mnist-test"]["cached"] and not rows["mnist"]["cached"]
    monkeypatch.setitem(_mnist.MD5, "mnist", md5)
    ds = get_dataset("mnist-test", data_home=tmp_path, download=False)
    assert ds.name == "mnist-test" and ds.y.tolist() == [3, 4]

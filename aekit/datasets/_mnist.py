"""MNIST and Fashion-MNIST: find the four IDX files in the data home, download missing ones.

Files live in ``<data_home>/mnist/`` and ``<data_home>/fashion-mnist/`` under
their canonical names (``train-images-idx3-ubyte.gz`` ...). A missing file is
fetched from each mirror in :data:`MIRRORS` in turn, its md5 checked against
the published checksum while it streams into a temporary file, and the file is
renamed into place only when the checksum matches; a mismatch is refused and
the bad bytes are deleted. Uncompressed files (the same names without ``.gz``)
are accepted too.
"""

from __future__ import annotations

import http.client
import urllib.error
from pathlib import Path

import numpy as np

from aekit.datasets._base import Dataset, get_data_home
from aekit.datasets._download import fetch
from aekit.datasets._idx import read_idx
from aekit.io import file_digest

__all__ = ["load_mnist", "load_fashion_mnist", "cached_files", "DownloadError", "MIRRORS", "MD5", "FILES"]

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Base URLs tried in order; a file is <base>/<file name>.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

# md5 of the canonical gzip files, as published (torchvision lists the same).
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


class DownloadError(OSError):
    """A dataset file could not be fetched from any mirror (offline, or every copy was bad)."""


def _md5(path: Path) -> str:
    return file_digest(path, "md5")


def _check_split(split) -> str:
    if split not in FILES:
        raise ValueError(f"Unknown split {split!r}: use 'train' or 'test'.")
    return split


def _local(folder: Path, name: str) -> Path | None:
    """The file as stored: the .gz name, else its uncompressed twin, else None."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def cached_files(kind: str, split: str, data_home=None) -> tuple[Path, bool]:
    """``(folder, present)``: where ``kind``'s files live and whether both files of ``split`` are there."""
    folder = get_data_home(data_home) / kind
    return folder, all(_local(folder, name) is not None for name in FILES[_check_split(split)])


def _where_to_put(kind: str, folder: Path, names) -> str:
    lines = "\n".join(f"  {folder / n}   (md5 {MD5[kind][n]})" for n in names)
    return (
        f"Put these {_TITLES[kind]} files there:\n{lines}\n"
        f"(from {MIRRORS[kind][0]} or any mirror), or point data_home= / the AEKIT_DATA "
        f"environment variable at a folder whose {kind}/ subfolder holds them."
    )


def _download(kind: str, folder: Path, name: str) -> Path:
    failures = []
    for base in MIRRORS[kind]:
        url = base.rstrip("/") + "/" + name
        try:
            fetch(url, folder / name, MD5[kind][name], "md5")
            return folder / name
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(
                exc, urllib.error.HTTPError) else exc
            failures.append(f"  {url}: {reason}")
    tried = "\n".join(failures)
    bad = any("checksum mismatch" in f for f in failures)
    raise DownloadError(
        f"Could not download {name} for {_TITLES[kind]}"
        f"{' (a mirror served a file whose checksum is wrong; it was not kept)' if bad else ' (no network?)'}.\n"
        f"Tried:\n{tried}\n" + _where_to_put(kind, folder, [name])
    )


def _resolve(kind: str, split: str, data_home, download: bool) -> tuple[Path, Path]:
    folder = get_data_home(data_home) / kind
    names = FILES[_check_split(split)]
    found = {n: _local(folder, n) for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing and not download:
        raise FileNotFoundError(
            f"{_TITLES[kind]} {split} files are missing from {folder} and download=False.\n"
            + _where_to_put(kind, folder, missing)
        )
    for name in missing:
        found[name] = _download(kind, folder, name)
    for name, path in found.items():
        if path.suffix == ".gz":
            got = _md5(path)
            if got != MD5[kind][name]:
                raise ValueError(
                    f"{path}: checksum mismatch (md5 {got}, expected {MD5[kind][name]}): this is not the "
                    f"canonical {_TITLES[kind]} file. Delete it (aekit then downloads it again) or replace it."
                )
    return found[names[0]], found[names[1]]


def _load(kind: str, split: str, data_home, download: bool) -> Dataset:
    images_path, labels_path = _resolve(kind, split, data_home, download)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images of shape (n, rows, cols), got {images.dtype} {images.shape}.")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} labels (one per image in {images_path.name}), "
            f"got shape {labels.shape}."
        )
    n, rows, cols = images.shape
    X = images.reshape(n, rows * cols).astype(np.float32)
    X /= 255.0
    return Dataset(
        name=kind if split == "train" else f"{kind}-test",
        X=X,
        y=labels.astype(np.int64),
        image_shape=(rows, cols),
        description=f"{_TITLES[kind]} {split} set: {n} grayscale {rows}x{cols} images in [0, 1], labels 0-9.",
        extras={"classes": list(_CLASSES[kind]), "files": [str(images_path), str(labels_path)]},
    )


def load_mnist(split="train", *, data_home=None, download=True) -> Dataset:
    """The MNIST handwritten digits.

    Parameters
    ----------
    split : {"train", "test"}
        60000 training or 10000 test images.
    data_home : str, Path or None
        Cache root; the files live in ``data_home/mnist/``. Default: the
        ``AEKIT_DATA`` environment variable, else ``~/.cache/aekit``.
    download : bool
        Fetch missing files from the public mirrors (md5-checked). Without
        network, or with ``download=False``, a missing file raises an error that
        lists which files to put where.

    Returns
    -------
    Dataset
        ``X`` float32 (n, 784) in [0, 1] (pixel / 255, rows flattened),
        ``y`` int64 (n,), ``image_shape`` (28, 28).

    References
    ----------
    LeCun, Bottou, Bengio & Haffner (1998), Gradient-based learning applied to
    document recognition, Proc. IEEE 86(11).
    """
    return _load("mnist", split, data_home, download)


def load_fashion_mnist(split="train", *, data_home=None, download=True) -> Dataset:
    """Zalando's Fashion-MNIST: 28x28 grayscale clothing images in 10 classes.

    Same files, layout and return value as :func:`load_mnist`, in
    ``data_home/fashion-mnist/``; ``extras["classes"]`` names the 10 classes.

    References
    ----------
    Xiao, Rasul & Vollgraf (2017), Fashion-MNIST: a novel image dataset for
    benchmarking machine learning algorithms, arXiv:1708.07747.
    """
    return _load("fashion-mnist", split, data_home, download)

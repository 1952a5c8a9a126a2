"""Datasets by name: ``get_dataset("mnist")`` and ``list_datasets()``.

One table, ``_REGISTRY``, maps each name to its loader, a description, whether
it works offline, and the cache folder (under the data home) that downloaded
datasets use. Anything that is not a registered name but names a file or
folder goes to :func:`aekit.datasets.load`.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from aekit.datasets._base import Dataset

__all__ = ["get_dataset", "list_datasets", "dataset_names"]


def _lazy(module: str, function: str) -> Callable:
    """A loader imported on first use (keeps ``import aekit.datasets`` light)."""

    def resolve():
        return getattr(importlib.import_module(module), function)

    resolve.lazy_target = f"{module}.{function}"
    return resolve


@dataclass(frozen=True)
class _Entry:
    loader: Callable  # () -> the dataset function
    description: str
    offline: bool
    bound: dict = field(default_factory=dict)  # options fixed by the name (e.g. split="test")
    cache: Callable | None = None  # (data_home) -> (folder, all files present?)


def _mnist_cache(kind: str, split: str):
    def cache(data_home):
        from aekit.datasets._mnist import cached_files

        return cached_files(kind, split, data_home)

    return cache


_REGISTRY: dict[str, _Entry] = {
    "digits": _Entry(_lazy("aekit.datasets._digits", "load_digits"),
                     "scikit-learn 8x8 handwritten digits, 1797 images (embedded)", True),
    "mnist": _Entry(_lazy("aekit.datasets._mnist", "load_mnist"),
                    "MNIST handwritten digits, 60000 training images 28x28 (downloaded)", False,
                    {"split": "train"}, _mnist_cache("mnist", "train")),
    "mnist-test": _Entry(_lazy("aekit.datasets._mnist", "load_mnist"),
                         "MNIST handwritten digits, 10000 test images 28x28 (downloaded)", False,
                         {"split": "test"}, _mnist_cache("mnist", "test")),
    "fashion-mnist": _Entry(_lazy("aekit.datasets._mnist", "load_fashion_mnist"),
                            "Fashion-MNIST clothing images, 60000 training images 28x28 (downloaded)", False,
                            {"split": "train"}, _mnist_cache("fashion-mnist", "train")),
    "fashion-mnist-test": _Entry(_lazy("aekit.datasets._mnist", "load_fashion_mnist"),
                                 "Fashion-MNIST clothing images, 10000 test images 28x28 (downloaded)", False,
                                 {"split": "test"}, _mnist_cache("fashion-mnist", "test")),
    "patches": _Entry(_lazy("aekit.datasets._patches", "natural_image_patches"),
                      "8x8 grayscale patches of scikit-learn's sample photographs, scaled to [0.1, 0.9]", True),
    "swiss-roll": _Entry(_lazy("aekit.datasets._manifolds", "make_swiss_roll"),
                         "swiss roll: 2-D sheet rolled up in 3-D, y = position along the roll", True),
    "s-curve": _Entry(_lazy("aekit.datasets._manifolds", "make_s_curve"),
                      "S-curve: 2-D sheet bent into an S in 3-D, y = position along the S", True),
    "ica-mixture": _Entry(_lazy("aekit.datasets._signals", "make_ica_mixture"),
                          "linear mixture of known independent sources (extras: sources, mixing)", True),
    "sfa-signal": _Entry(_lazy("aekit.datasets._signals", "make_sfa_signal"),
                         "slow-feature test signal with a known slowly varying driving force", True),
}


def dataset_names() -> list[str]:
    """The registered dataset names, in table order."""
    return list(_REGISTRY)


def _looks_like_path(name: str) -> bool:
    p = Path(name)
    return p.exists() or p.suffix.lower() in {".npy", ".npz", ".csv"} or "/" in name or "\\" in name


def _unknown(name) -> ValueError:
    valid = ", ".join(repr(n) for n in _REGISTRY)
    return ValueError(
        f"Unknown dataset {name!r}: use one of {valid}, "
        f"or the path of a .npy, .npz or .csv file or of a folder of images."
    )


def _check_options(name: str, func: Callable, bound: dict, options: dict) -> None:
    params = inspect.signature(func).parameters
    allowed = [p for p in params if p not in bound and params[p].kind is not inspect.Parameter.VAR_KEYWORD]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        valid = ", ".join(allowed) if allowed else "(none)"
        raise ValueError(f"Unknown option(s) {', '.join(map(repr, unknown))} for dataset {name!r}: valid options are {valid}.")


def get_dataset(name, **options) -> Dataset:
    """Load a dataset by its registered name, or user data by path.

    Parameters
    ----------
    name : str or path
        One of :func:`dataset_names` (``"digits"``, ``"mnist"``, ``"mnist-test"``,
        ``"fashion-mnist"``, ``"patches"``, ``"swiss-roll"``, ``"s-curve"``,
        ``"ica-mixture"``, ``"sfa-signal"``, ...), or the path of a ``.npy`` /
        ``.npz`` / ``.csv`` file or of a folder of images (see :func:`aekit.datasets.load`).
    **options
        Passed to the loader (e.g. ``data_home=`` for MNIST, ``n_samples=`` for
        the swiss roll). Unknown option names raise an error listing the valid ones.
    """
    if not isinstance(name, (str, Path)):
        raise TypeError(f"dataset name must be a string or a path, got {type(name).__name__}.")
    key = str(name)
    if key in _REGISTRY:
        entry = _REGISTRY[key]
        func = entry.loader()
        _check_options(key, func, entry.bound, options)
        return func(**entry.bound, **options)
    if isinstance(name, Path) or _looks_like_path(key):
        from aekit.datasets._user import load

        _check_options(key, load, {"path": None}, options)
        return load(name, **options)
    raise _unknown(key)


def list_datasets(data_home=None) -> list[dict]:
    """What :func:`get_dataset` can load, and what is cached where.

    Returns
    -------
    list of dict
        One per dataset, with keys ``name``, ``description``, ``offline`` (True
        when it needs no download), ``location`` (the cache folder for
        downloaded datasets, else None) and ``cached`` (True when every file it
        needs is present there; always True for offline datasets).
    """
    rows = []
    for name, entry in _REGISTRY.items():
        location, cached = None, True
        if entry.cache is not None:
            folder, cached = entry.cache(data_home)
            location = str(folder)
        rows.append(
            {"name": name, "description": entry.description, "offline": entry.offline,
             "location": location, "cached": bool(cached)}
        )
    return rows

"""The :class:`Dataset` record every loader returns, and where downloads are cached."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "get_data_home", "check_finite_array"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data matrix with its labels, image shape and provenance.

    Parameters
    ----------
    name : str
        Short name (``"mnist"``, ``"swiss-roll"``, or the file name for user data).
    X : ndarray of shape (n_samples, n_features), float32
        One sample per row. Images are flattened row by row (C order).
    y : ndarray of shape (n_samples,) or None
        Integer class labels (int64), or a continuous target such as the
        position along a synthetic manifold or the time of a signal.
    image_shape : tuple of int or None
        Shape of one image (``(28, 28)`` for MNIST) when the rows are images,
        so that ``X[i].reshape(image_shape)`` is the i-th picture.
    description : str
        One line saying what the data is and where it came from.
    extras : dict
        Ground truth or side information, e.g. ``{"sources": S, "mixing": A}``
        for an ICA mixture or ``{"classes": [...]}`` for a folder of images.
    """

    name: str
    X: np.ndarray
    y: np.ndarray | None = None
    image_shape: tuple | None = None
    description: str = ""
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise ValueError(f"Dataset {self.name!r}: X must be 2-D (n_samples, n_features), got shape {X.shape}.")
        object.__setattr__(self, "X", np.ascontiguousarray(X, dtype=np.float32))
        if self.y is not None:
            y = np.asarray(self.y)
            if y.shape != (X.shape[0],):
                raise ValueError(
                    f"Dataset {self.name!r}: y must have shape ({X.shape[0]},) to match X, got {y.shape}."
                )
            object.__setattr__(self, "y", y)
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if int(np.prod(shape)) != X.shape[1]:
                raise ValueError(
                    f"Dataset {self.name!r}: image_shape {shape} holds {int(np.prod(shape))} pixels "
                    f"but X has {X.shape[1]} features."
                )
            object.__setattr__(self, "image_shape", shape)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def __len__(self) -> int:
        return self.X.shape[0]

    def __repr__(self) -> str:
        y = "None" if self.y is None else f"{self.y.dtype}[{self.y.shape[0]}]"
        return (
            f"Dataset(name={self.name!r}, X=float32{list(self.X.shape)}, y={y}, "
            f"image_shape={self.image_shape}, extras={sorted(self.extras)})"
        )


def get_data_home(data_home=None) -> Path:
    """Folder where downloaded datasets are cached.

    ``data_home`` if given, else the ``AEKIT_DATA`` environment variable, else
    ``~/.cache/aekit``. Each dataset lives in its own subfolder (``mnist/``,
    ``fashion-mnist/``). The folder is not created here.
    """
    if data_home is None:
        data_home = os.environ.get("AEKIT_DATA") or Path("~") / ".cache" / "aekit"
    return Path(data_home).expanduser()


def check_finite_array(X: np.ndarray, where: str) -> None:
    """Raise a clear error when ``X`` holds NaN or infinity, naming the first bad entry."""
    finite = np.isfinite(X)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        pos = ", ".join(str(int(i)) for i in bad)
        raise ValueError(
            f"{where} contains NaN or infinity (first at index [{pos}], value {X[tuple(bad)]}); "
            "clean or impute the data first."
        )

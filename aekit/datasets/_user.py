"""User data through one ``load(path)``: .npy, .npz, .csv, or a folder of images."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from aekit.datasets._base import Dataset, check_finite_array

__all__ = ["load", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".webp")
_X_KEYS = ("X", "x", "data")
_Y_KEYS = ("y", "labels", "target", "targets")


# ---------------------------------------------------------------- helpers
def _numeric(A: np.ndarray, where: str) -> np.ndarray:
    if A.dtype == np.bool_:
        return A.astype(np.float32)
    if not (np.issubdtype(A.dtype, np.integer) or np.issubdtype(A.dtype, np.floating)):
        raise ValueError(f"{where} holds {A.dtype} values, not numbers; store the data as a numeric array.")
    return A


def _features(A: np.ndarray, where: str) -> tuple[np.ndarray, tuple | None]:
    """(n, d) float32 and the image shape for (n, h, w, ...) arrays."""
    A = _numeric(np.asarray(A), where)
    if A.ndim < 2:
        raise ValueError(
            f"{where} is {A.ndim}-D with shape {A.shape}; aekit needs (n_samples, n_features): "
            "reshape a single feature with a.reshape(-1, 1), a single sample with a.reshape(1, -1)."
        )
    if A.shape[0] == 0:
        raise ValueError(f"{where} has zero samples.")
    if math.prod(A.shape[1:]) == 0:
        raise ValueError(f"{where} has zero features (shape {A.shape}).")
    check_finite_array(A, where)
    image_shape = tuple(A.shape[1:]) if A.ndim >= 3 else None
    return A.reshape(A.shape[0], -1).astype(np.float32), image_shape


def _labels(values, where: str) -> tuple[np.ndarray, list | None]:
    """int64 labels for integer (or integral-valued) data, float64 for a continuous target,
    and codes 0..k-1 plus the class names for strings."""
    y = np.asarray(values)
    if y.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D, got shape {y.shape}.")
    if y.dtype.kind in "USO":
        classes, codes = np.unique(y.astype(str), return_inverse=True)
        return codes.astype(np.int64), [str(c) for c in classes]
    y = _numeric(y, where)
    check_finite_array(y, where)
    if np.issubdtype(y.dtype, np.integer) or np.all(y == np.round(y)):
        return y.astype(np.int64), None
    return y.astype(np.float64), None


# ---------------------------------------------------------------- formats
def _load_npy(path: Path, **_) -> Dataset:
    try:
        A = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read it as a .npy array without unpickling ({exc}).") from None
    X, image_shape = _features(A, str(path))
    return Dataset(path.stem, X, None, image_shape, f"array from {path.name}")


def _load_npz(path: Path, *, x_key=None, y_key=None, **_) -> Dataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc}).") from None
    with archive:
        keys = list(archive.files)
        listing = ", ".join(repr(k) for k in keys) or "(none)"
        if x_key is None:
            found = [k for k in _X_KEYS if k in keys]
            if found:
                x_key = found[0]
            elif len(keys) == 1:
                x_key = keys[0]
            else:
                raise ValueError(
                    f"{path}: cannot tell which array is the data; it holds {listing}. "
                    f"Name it 'X' (and the labels 'y') or pass x_key= (and y_key=)."
                )
        if x_key not in keys:
            raise ValueError(f"{path}: no array {x_key!r}; it holds {listing}.")
        if y_key is None:
            y_key = next((k for k in _Y_KEYS if k in keys), None)
        elif y_key not in keys:
            raise ValueError(f"{path}: no array {y_key!r}; it holds {listing}.")
        try:
            A = archive[x_key]
            labels = archive[y_key] if y_key is not None else None
        except ValueError as exc:
            raise ValueError(f"{path}: cannot read it without unpickling ({exc}).") from None
    X, image_shape = _features(A, f"{path}[{x_key!r}]")
    extras = {}
    y = None
    if labels is not None:
        y, classes = _labels(labels, f"{path}[{y_key!r}]")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{path}: {y_key!r} has {y.shape[0]} labels but {x_key!r} has {X.shape[0]} samples.")
        if classes is not None:
            extras["classes"] = classes
    return Dataset(path.stem, X, y, image_shape, f"array {x_key!r} from {path.name}", extras)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _csv_rows(path: Path) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """``(header or None, [(line number, cells), ...])`` of the non-blank rows; a first row without numbers is the header."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: the CSV file is empty.")
    header = None
    if not any(_is_number(c) for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: the CSV file has a header but zero samples.")
    return header, rows


def _label_index(path: Path, label_column, header: list[str] | None, width: int) -> int | None:
    """The 0-based index of the label column (given by name or by number, negative from the end), or None."""
    if label_column is None:
        return None
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None or label_column not in header:
            cols = ", ".join(map(repr, header)) if header else "(no header: give a column number)"
            raise ValueError(f"{path}: no column named {label_column!r}; columns are {cols}.")
        return header.index(label_column)
    label = int(label_column)
    if not -width <= label < width:
        raise ValueError(f"{path}: label_column={label_column} is outside the {width} columns.")
    return label % width


def _csv_table(path: Path, rows, names: list[str], label: int | None) -> tuple[np.ndarray, list[str]]:
    """The feature cells as a float64 array (n, width - 1 with labels) and the label cells, row by row checked."""
    width = len(names)
    X = np.empty((len(rows), width - (label is not None)), dtype=np.float64)
    y = []
    for r, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise ValueError(f"{path}: row {line} has {len(cells)} cells, expected {width} like the first row.")
        values = []
        for j, cell in enumerate(cells):
            if j == label:
                y.append(cell.strip())
                continue
            try:
                values.append(float(cell))
            except ValueError:
                raise ValueError(
                    f"{path}: row {line}, column {j + 1} ({names[j]!r}) holds {cell!r}, which is not a number; "
                    "fix the cell, or pass label_column= if this column holds labels."
                ) from None
        X[r] = values
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        r, j = bad[0]
        j_file = j + (label is not None and j >= label)
        raise ValueError(
            f"{path}: row {rows[r][0]}, column {j_file + 1} ({names[j_file]!r}) is {X[r, j]}; "
            "clean or impute missing values first."
        )
    if X.shape[1] == 0:
        raise ValueError(f"{path}: no feature columns left after taking the labels out.")
    return X, y


def _load_csv(path: Path, *, label_column=None, **_) -> Dataset:
    header, rows = _csv_rows(path)
    width = len(header) if header is not None else len(rows[0][1])
    names = header or [str(j + 1) for j in range(width)]
    label = _label_index(path, label_column, header, width)
    X, y = _csv_table(path, rows, names, label)
    extras = {"columns": [n for j, n in enumerate(names) if j != label]}
    labels = None
    if label is not None:
        numeric = all(_is_number(v) for v in y)
        labels, classes = _labels(np.array([float(v) for v in y]) if numeric else np.array(y), f"{path} labels")
        if classes is not None:
            extras["classes"] = classes
    return Dataset(path.stem, X.astype(np.float32), labels, None, f"table from {path.name}", extras)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_folder(path: Path, **_) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    top = _image_files(path)
    subdirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".") and _image_files(d))
    if top and subdirs:
        raise ValueError(
            f"{path}: mixes images at the top level with class subfolders "
            f"({', '.join(d.name for d in subdirs)}); put every image in a class subfolder, or none."
        )
    if subdirs:
        files = [(f, k) for k, d in enumerate(subdirs) for f in _image_files(d)]
        classes = [d.name for d in subdirs]
    else:
        files = [(f, None) for f in top]
        classes = None
    if not files:
        raise ValueError(f"{path}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}).")

    pixels, shape, first = [], None, None
    for f, _ in files:
        try:
            with Image.open(f) as img:
                a = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"{f}: not a readable image ({exc}).") from None
        if shape is None:
            shape, first = a.shape, f
        elif a.shape != shape:
            raise ValueError(
                f"{f}: image is {a.shape[1]}x{a.shape[0]} (width x height) but {first.name} is "
                f"{shape[1]}x{shape[0]}; all images must have the same size (resize them first)."
            )
        pixels.append(a.ravel())
    X = np.stack(pixels)
    y = None if classes is None else np.array([k for _, k in files], dtype=np.int64)
    extras = {"files": [str(f.relative_to(path)) for f, _ in files]}
    if classes is not None:
        extras["classes"] = classes
    return Dataset(path.name, X, y, shape, f"{len(files)} grayscale images from {path.name}/", extras)


_LOADERS = {".npy": _load_npy, ".npz": _load_npz, ".csv": _load_csv}


def load(path, *, x_key=None, y_key=None, label_column=None) -> Dataset:
    """Load user data from a file or folder.

    Parameters
    ----------
    path : str or Path
        - ``.npy``: a 2-D array (n_samples, n_features), or (n_samples, h, w)
          images (flattened, ``image_shape`` (h, w)). Never unpickled.
        - ``.npz``: the data is the array named ``x_key``, else ``X`` / ``x`` /
          ``data``, else the only array; labels ``y_key``, else ``y`` / ``labels`` /
          ``target``. With several arrays and none of these names, the error
          lists the keys.
        - ``.csv``: comma-separated numbers, one sample per row; a first row
          without any number is taken as the header. Every non-label cell must
          be a number (the error names the row and column).
        - a folder of images (PNG, JPEG, BMP, GIF, TIFF, PGM...), read as
          grayscale in [0, 1]; all must have the same size. If the images sit
          in subfolders, the subfolder names are the classes (``y`` = index into
          the sorted names, ``extras["classes"]``).
    x_key, y_key : str, optional
        Array names in a ``.npz`` archive.
    label_column : int or str, optional
        CSV column holding the labels (0-based index, negative from the end,
        or header name); labels that are not numbers become class indices.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, n_features); NaN or infinity anywhere is an error.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder.")
    if path.is_dir():
        return _load_folder(path)
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ValueError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .npy, .npz, .csv or a folder of images."
        )
    return loader(path, x_key=x_key, y_key=y_key, label_column=label_column)

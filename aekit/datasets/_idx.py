"""Reader for the IDX format of MNIST-style files (gzip-compressed or raw).

An IDX file is a 4-byte magic number, then one big-endian uint32 per
dimension, then the data in C order, big-endian::

    byte 0-1   0x00 0x00
    byte 2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions
    then       ndim x uint32 sizes, then prod(sizes) items

References
----------
LeCun, Cortes & Burges, The MNIST database of handwritten digits (file format section).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "parse_idx", "IDX_DTYPES"]

IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file; ``source`` names it in errors."""
    if len(raw) < 4:
        raise ValueError(f"{source}: not an IDX file: only {len(raw)} bytes, too short for the 4-byte header.")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{source}: not an IDX file: the magic number must start with two zero bytes, "
            f"found 0x{raw[0]:02x} 0x{raw[1]:02x}."
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{source}: not an IDX file: unknown dtype code 0x{code:02X} (valid: {valid}).")
    if ndim == 0:
        raise ValueError(f"{source}: corrupt IDX header: 0 dimensions.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{source}: truncated IDX file: the header announces {ndim} dimensions "
            f"({header} header bytes) but the file has only {len(raw)} bytes."
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on a garbage header
    found = len(raw) - header
    if found < expected:
        raise ValueError(
            f"{source}: truncated IDX file: dimensions {shape} of {dtype.name} need {expected} data bytes, "
            f"found {found}; download the file again."
        )
    if found > expected:
        raise ValueError(
            f"{source}: corrupt IDX file: dimensions {shape} of {dtype.name} need {expected} data bytes, "
            f"found {found} ({found - expected} extra)."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected from its content) or raw.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ndarray
        Native byte order, shape and dtype from the header (uint8 for MNIST images,
        shape (n, 28, 28); labels shape (n,)).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not IDX (bad magic or dtype code), its gzip stream is
        corrupt or truncated, or its length does not match its dimensions.
        The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file.")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"{path}: corrupt or truncated gzip file ({exc}); delete it and download it again."
            ) from None
    return parse_idx(raw, str(path))

"""Arrays in the explorer document: typed, base64-encoded little-endian buffers.

Every NumPy array in the document becomes ``{"dtype": D, "shape": [...],
"b64": "..."}`` with ``D`` one of ``float32``, ``float16``, ``int32`` or
``uint8``, which the page decodes into a typed array (float16 is widened to
float32 in the page). With ``float16=True`` every float array is stored as
float16 (weight matrices, codebooks, points), halving the page, except those
wrapped in :class:`Exact`: the inputs the page computes from, biases and
offsets, which stay float32, so that the weights' rounding is the only one
(see :func:`aekit.viz.explorer._mlp.error_bound`).
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["Exact", "encode_arrays", "decode_array", "quantize_images", "FLOAT16_MAX"]

FLOAT16_MAX = 65504.0  # the largest finite float16


class Exact:
    """An array that stays float32 in a float16 page (inputs the page computes from, biases, offsets)."""

    def __init__(self, values):
        self.values = np.asarray(values)


def _encode(a: np.ndarray, float16: bool) -> dict:
    if a.dtype.kind == "f":
        if float16:
            big = float(np.abs(a).max()) if a.size else 0.0
            if big > FLOAT16_MAX:
                raise ValueError(
                    f"an array of the page holds {big:.4g}, beyond float16's range ({FLOAT16_MAX:g}); "
                    "write the page without --float16."
                )
            a = a.astype("<f2")
        else:
            a = a.astype("<f4")
    elif a.dtype.kind in "iu" and a.dtype != np.uint8:
        a = a.astype("<i4")
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8)
    dtype = {"f4": "float32", "f2": "float16", "i4": "int32", "u1": "uint8"}[a.dtype.str[1:]]
    data = base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")
    return {"dtype": dtype, "shape": list(a.shape), "b64": data}


def encode_arrays(obj, *, float16: bool = False):
    """``obj`` with every NumPy array replaced by its typed base64 form (recursively, dicts and lists)."""
    if isinstance(obj, Exact):
        return _encode(obj.values, False)
    if isinstance(obj, np.ndarray):
        return _encode(obj, float16)
    if isinstance(obj, dict):
        return {str(k): encode_arrays(v, float16=float16) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode_arrays(v, float16=float16) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def decode_array(d: dict) -> np.ndarray:
    """Inverse of the encoding (for tests and tools): a typed dict back to a NumPy array."""
    dtype = {"float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1"}[d["dtype"]]
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=dtype).reshape(d["shape"])


def quantize_images(X, lo: float | None = None, hi: float | None = None) -> tuple[np.ndarray, float, float]:
    """Images (n, d) as uint8 over ``[lo, hi]`` (default: their min and max), for display only."""
    X = np.asarray(X, dtype=np.float64)
    lo = float(X.min()) if lo is None and X.size else (0.0 if lo is None else lo)
    hi = float(X.max()) if hi is None and X.size else (1.0 if hi is None else hi)
    span = hi - lo if hi > lo else 1.0
    return np.clip(np.rint((X - lo) / span * 255.0), 0, 255).astype(np.uint8), lo, hi

"""scikit-learn's 8x8 handwritten digits, always available offline."""

from __future__ import annotations

import numpy as np

from aekit.datasets._base import Dataset

__all__ = ["load_digits"]


def load_digits() -> Dataset:
    """The 1797 8x8 digit images that ship with scikit-learn.

    Returns
    -------
    Dataset
        ``X`` float32 of shape (1797, 64) in [0, 1] (the 0..16 pixel counts
        divided by 16), ``y`` int64 labels 0..9, ``image_shape`` (8, 8).

    References
    ----------
    Alpaydin & Kaynak (1998), Optical Recognition of Handwritten Digits, UCI.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return Dataset(
        name="digits",
        X=(bunch.data / 16.0).astype(np.float32),
        y=bunch.target.astype(np.int64),
        image_shape=(8, 8),
        description="scikit-learn 8x8 handwritten digits (1797 images, pixels / 16 in [0, 1]).",
    )

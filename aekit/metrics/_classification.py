"""How much label information codes carry: a linear probe and k nearest neighbours.

Both fit a simple classifier on training codes and report its accuracy on
test codes. A representation is judged by how *easy* the labels are to read
from it, so the classifier is deliberately weak: linear (the probe) or
non-parametric (k-NN).
"""

from __future__ import annotations

import numbers

import numpy as np

from aekit.metrics._reconstruction import as_float_array

__all__ = ["linear_probe_accuracy", "knn_accuracy"]


def _codes_and_labels(Z_train, y_train, Z_test, y_test):
    Z_train = as_float_array(Z_train, "Z_train")
    Z_test = as_float_array(Z_test, "Z_test")
    Z_train = Z_train.reshape(Z_train.shape[0], -1)
    Z_test = Z_test.reshape(Z_test.shape[0], -1)
    if Z_train.shape[1] != Z_test.shape[1]:
        raise ValueError(
            f"Z_train has {Z_train.shape[1]} features but Z_test has {Z_test.shape[1]}; "
            "encode both sets with the same model."
        )
    labels = []
    for name, y, Z in (("y_train", y_train, Z_train), ("y_test", y_test, Z_test)):
        y = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y)
        if y.ndim != 1 or y.shape[0] != Z.shape[0]:
            raise ValueError(f"{name} must have shape ({Z.shape[0]},), one label per code, got {y.shape}.")
        labels.append(y)
    return Z_train, labels[0], Z_test, labels[1]


def linear_probe_accuracy(Z_train, y_train, Z_test, y_test, *, C=1.0, max_iter=1000, random_state=0) -> float:
    """Test accuracy of a logistic regression trained on standardized codes.

    The codes are standardized with the mean and standard deviation of
    ``Z_train`` (constant features are left at 0), then a multinomial
    :class:`sklearn.linear_model.LogisticRegression` (L2 penalty, strength
    ``1 / C``, lbfgs) is fitted on them.

    Parameters
    ----------
    Z_train : array of shape (n_train, n_components)
    y_train : array of shape (n_train,)
    Z_test : array of shape (n_test, n_components)
    y_test : array of shape (n_test,)
    C : float > 0
        Inverse regularization strength.
    max_iter : int
        lbfgs iterations.
    random_state : int or None

    Returns
    -------
    float
        Fraction of test codes classified correctly.

    References
    ----------
    Alain & Bengio (2016), Understanding intermediate layers using linear
    classifier probes, arXiv:1610.01644.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not C > 0:
        raise ValueError(f"C must be a positive number, got {C!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    Z_train, y_train, Z_test, y_test = _codes_and_labels(Z_train, y_train, Z_test, y_test)
    if np.unique(y_train).size < 2:
        raise ValueError("y_train holds a single class; logistic regression needs at least two.")
    probe = make_pipeline(
        StandardScaler(), LogisticRegression(C=float(C), max_iter=int(max_iter), random_state=random_state)
    )
    probe.fit(Z_train, y_train)
    return float(np.mean(probe.predict(Z_test) == y_test))


def knn_accuracy(Z_train, y_train, Z_test, y_test, k=5) -> float:
    """Test accuracy of a k-nearest-neighbour majority vote in code space.

    Each test code gets the most common label among its ``k`` nearest
    training codes (Euclidean distance, uniform weights; scikit-learn's
    :class:`~sklearn.neighbors.KNeighborsClassifier`, which breaks a tied
    vote towards the smallest label).

    Parameters
    ----------
    Z_train : array of shape (n_train, n_components)
    y_train : array of shape (n_train,)
    Z_test : array of shape (n_test, n_components)
    y_test : array of shape (n_test,)
    k : int, 1 <= k <= n_train

    Returns
    -------
    float
        Fraction of test codes classified correctly.
    """
    from sklearn.neighbors import KNeighborsClassifier

    Z_train, y_train, Z_test, y_test = _codes_and_labels(Z_train, y_train, Z_test, y_test)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= Z_train.shape[0]:
        raise ValueError(f"k must be an integer between 1 and n_train={Z_train.shape[0]}, got {k!r}.")
    knn = KNeighborsClassifier(n_neighbors=int(k)).fit(Z_train, y_train)
    return float(np.mean(knn.predict(Z_test) == y_test))

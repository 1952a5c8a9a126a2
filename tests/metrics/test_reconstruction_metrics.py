"""Reconstruction metrics on tiny hand-computed cases."""

import math

import numpy as np
import pytest
import torch

from aekit.metrics import denoising_error, psnr, reconstruction_error

from _tolerance import rounding_bound, unit_roundoff

FEW = rounding_bound(np.float64, 8)  # hand values: a few float64 roundings of numbers of order one

X = np.array([[0.0, 1.0], [1.0, 0.0]])
X_HAT = np.array([[0.5, 1.0], [1.0, 0.5]])


def test_mse_reductions():
    # squared errors: [[0.25, 0], [0, 0.25]]
    assert reconstruction_error(X, X_HAT) == 0.125
    assert reconstruction_error(X, X_HAT, reduction="sum") == 0.25
    np.testing.assert_array_equal(reconstruction_error(X, X_HAT, reduction="none"), [0.25, 0.25])
    assert reconstruction_error(X, X) == 0.0


def test_cross_entropy_by_hand():
    x, p = [[1.0, 0.0]], [[0.5, 0.25]]
    expected = -math.log(0.5) - math.log(0.75)  # 0.98082925...
    assert reconstruction_error(x, p, "cross_entropy", reduction="sum") == pytest.approx(expected, abs=FEW)
    assert reconstruction_error(x, p, "cross_entropy") == pytest.approx(expected / 2, abs=FEW)
    # soft targets: -[0.5 log 0.5 + 0.5 log 0.5] = log 2
    assert reconstruction_error([[0.5]], [[0.5]], "cross_entropy") == pytest.approx(math.log(2), abs=FEW)


def test_cross_entropy_clips():
    # a confident wrong pixel costs -log(eps), not infinity
    assert reconstruction_error([[1.0]], [[0.0]], "cross_entropy") == pytest.approx(-math.log(1e-7), rel=FEW)
    assert reconstruction_error([[0.0]], [[1.0]], "cross_entropy", eps=1e-3) == pytest.approx(-math.log(1e-3), rel=FEW)
    # -log(1 - 1e-7) = 1e-7 (1 + 5e-8 + ...); 1 - 1e-7 is rounded in float64, which is 1e-9 of 1e-7
    rel = 1e-7 / 2 + 2 * unit_roundoff(np.float64) / 1e-7
    assert reconstruction_error([[1.0, 0.0]], [[1.0, 0.0]], "cross_entropy") == pytest.approx(1e-7, rel=rel)


def test_psnr_by_hand():
    assert psnr([[0.0, 0.0]], [[0.1, 0.1]]) == pytest.approx(20.0)  # mse 0.01
    assert psnr([[0.0, 0.0]], [[25.5, 25.5]], data_range=255) == pytest.approx(20.0)
    assert psnr(X, X) == math.inf


def test_denoising_error_targets_clean_data_and_mask():
    clean = np.array([[1.0, 1.0, 0.0, 0.0]])
    recon = np.array([[0.5, 1.0, 0.0, 1.0]])  # squared errors 0.25, 0, 0, 1
    mask = np.array([[True, True, False, False]])
    assert denoising_error(clean, recon) == pytest.approx(1.25 / 4)
    assert denoising_error(clean, recon, mask=mask) == pytest.approx(0.25 / 2)
    assert denoising_error(clean, recon, mask=mask, reduction="sum") == pytest.approx(0.25)
    assert denoising_error(clean, recon, mask=torch.tensor(~mask)) == pytest.approx(1.0 / 2)
    with pytest.raises(ValueError, match="mask selects no entries"):
        denoising_error(clean, recon, mask=np.zeros_like(mask))


def test_accepts_tensors_and_image_shapes():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.full((2, 1, 2, 2), 0.5, requires_grad=True)
    assert reconstruction_error(a, b) == 0.25
    np.testing.assert_allclose(reconstruction_error(a, b, reduction="none"), [1.0, 1.0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: reconstruction_error(X, X_HAT, kind="l1"), "Unknown kind 'l1': use one of 'mse', 'cross_entropy'"),
        (lambda: reconstruction_error(X, X_HAT, reduction="max"), "Unknown reduction 'max'"),
        (lambda: reconstruction_error(X, X_HAT[:1]), "same shape"),
        (lambda: reconstruction_error(np.ones(3), np.ones(3)), r"\(n_samples, n_features\)"),
        (lambda: reconstruction_error(np.zeros((0, 2)), np.zeros((0, 2))), "zero samples"),
        (lambda: reconstruction_error([[np.nan, 0.0]], [[0.0, 0.0]]), "NaN or infinity"),
        (lambda: reconstruction_error([[2.0]], [[0.5]], "cross_entropy"), r"targets in \[0, 1\]"),
        (lambda: psnr(X, X_HAT, data_range=0), "data_range"),
        (lambda: denoising_error(X, X_HAT, mask=np.ones((2, 2))), "boolean"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()

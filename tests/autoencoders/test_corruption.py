"""Corruptions: exact counts, mask correctness, binomial frequencies, determinism, bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aekit.autoencoders import Corruption, gaussian, make_corruption, masking, salt_and_pepper


def gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.fixture
def batch():
    # strictly positive entries so a masked 0 is distinguishable from data
    return torch.rand(500, 100, generator=gen(123)) * 0.8 + 0.1


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.9])
def test_masking_exact_count_and_mask(batch, fraction):
    before = batch.clone()
    out, mask = masking(batch, fraction, generator=gen())
    k = math.floor(fraction * 100 + 0.5)
    assert mask.dtype == torch.bool and mask.shape == batch.shape
    assert (mask.sum(dim=1) == k).all()
    assert (out[mask] == 0).all()
    assert torch.equal(out[~mask], batch[~mask])
    assert torch.equal(batch, before)  # input untouched


def test_masking_subset_is_uniform_and_independent(batch):
    n, d = 4000, 50
    x = torch.ones(n, d)
    _, mask = masking(x, 0.3, generator=gen(1))
    p = 15 / d  # exactly 15 of 50 per row
    counts = mask.sum(dim=0).numpy()  # each column hit with probability p per row
    sigma = math.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < 5 * sigma)
    # pairs of columns: co-occurrence probability p * (14 / 49) for a uniform subset
    co = (mask[:, 0] & mask[:, 1]).float().mean().item()
    q = p * 14 / 49
    assert abs(co - q) < 5 * math.sqrt(q * (1 - q) / n)
    # rows differ from one another (independent draws per sample)
    assert len({tuple(r.nonzero().flatten().tolist()) for r in mask[:200]}) > 190


def test_masking_determinism(batch):
    a, ma = masking(batch, 0.25, generator=gen(7))
    b, mb = masking(batch, 0.25, generator=gen(7))
    c, mc = masking(batch, 0.25, generator=gen(8))
    assert torch.equal(a, b) and torch.equal(ma, mb)
    assert not torch.equal(ma, mc)


def test_masking_keeps_shape_and_dtype():
    x = torch.rand(6, 1, 4, 5, dtype=torch.float64, generator=gen()) + 1
    out, mask = masking(x, 0.5, generator=gen())
    assert out.shape == x.shape and out.dtype == torch.float64 and mask.shape == x.shape
    assert (mask.reshape(6, -1).sum(1) == 10).all()
    empty, empty_mask = masking(torch.zeros(0, 5), 0.5)
    assert empty.shape == (0, 5) and empty_mask.shape == (0, 5)
    one = torch.rand(10, generator=gen()) + 1  # 1-D: one sample
    out, mask = masking(one, 0.3, generator=gen())
    assert int(mask.sum()) == 3 and (out[mask] == 0).all()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 20), d=st.integers(1, 40), fraction=st.floats(0, 0.999))
def test_masking_count_property(n, d, fraction):
    x = torch.ones(n, d)
    out, mask = masking(x, fraction, generator=gen())
    k = min(d, math.floor(fraction * d + 0.5))
    assert (mask.sum(1) == k).all()
    assert torch.equal(out, (~mask).float())


def test_salt_and_pepper_values_and_balance(batch):
    out, mask = salt_and_pepper(batch, 0.2, generator=gen(3))
    assert (mask.sum(1) == 20).all()
    lo, hi = batch.min(), batch.max()
    vals = out[mask]
    assert torch.all((vals == lo) | (vals == hi))
    assert torch.equal(out[~mask], batch[~mask])
    n_hi = int((vals == hi).sum())
    trials = vals.numel()
    assert abs(n_hi - trials / 2) < 5 * math.sqrt(trials / 4)


def test_salt_and_pepper_explicit_range(batch):
    out, mask = salt_and_pepper(batch, 0.1, generator=gen(), low=0.0, high=1.0)
    assert set(out[mask].unique().tolist()) == {0.0, 1.0}
    a = salt_and_pepper(batch, 0.1, generator=gen(5))
    b = salt_and_pepper(batch, 0.1, generator=gen(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="low must be <= high"):
        salt_and_pepper(batch, 0.1, low=1.0, high=0.0)


def test_gaussian_noise_statistics(batch):
    out, mask = gaussian(batch, 0.3, generator=gen(2))
    assert mask.all()
    noise = out - batch
    assert abs(noise.mean().item()) < 5 * 0.3 / math.sqrt(noise.numel())
    assert abs(noise.std().item() - 0.3) < 0.01
    same, mask0 = gaussian(batch, 0.0, generator=gen())
    assert torch.equal(same, batch) and not mask0.any()
    assert torch.equal(gaussian(batch, 0.3, generator=gen(2))[0], out)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan"), True, "0.2"])
def test_fraction_outside_range_is_refused(batch, fraction):
    for fn in (masking, salt_and_pepper):
        with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\)"):
            fn(batch, fraction)


def test_bad_inputs():
    with pytest.raises(ValueError, match="std must be"):
        gaussian(torch.zeros(2, 2), -1.0)
    with pytest.raises(TypeError, match="floating-point"):
        masking(torch.zeros(2, 2, dtype=torch.int64), 0.1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        masking(np.zeros((2, 2)), 0.1)
    with pytest.raises(ValueError, match="0-d"):
        masking(torch.tensor(1.0), 0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_corruptions_on_cuda():
    x = torch.rand(128, 784, device="cuda")
    g = gen(0, "cuda")
    for fn, level in ((masking, 0.25), (salt_and_pepper, 0.25), (gaussian, 0.3)):
        out, mask = fn(x, level, generator=g)
        assert out.device == x.device and mask.device == x.device
    assert (masking(x, 0.25, generator=g)[1].sum(1) == 196).all()
    with pytest.raises(ValueError, match="generator lives on cpu"):
        masking(x, 0.25, generator=gen())


def test_make_corruption_specs(batch):
    c = make_corruption("masking:0.25")
    assert c == Corruption("masking", 0.25) and str(c) == "masking:0.25"
    out, mask = c(batch, gen(4))
    ref, ref_mask = masking(batch, 0.25, generator=gen(4))
    assert torch.equal(out, ref) and torch.equal(mask, ref_mask)
    assert make_corruption("salt-and-pepper:0.1").kind == "salt_and_pepper"
    assert str(make_corruption(" Gaussian:0.3 ")) == "gaussian:0.3"
    assert make_corruption(str(make_corruption("salt_and_pepper:0.15"))) == Corruption("salt_and_pepper", 0.15)
    none_out, none_mask = make_corruption(None)(batch)
    assert torch.equal(none_out, batch) and not none_mask.any()
    assert make_corruption("none") == Corruption("none")


@pytest.mark.parametrize(
    "spec, match",
    [
        ("blur:0.1", "Unknown corruption 'blur:0.1': use one of 'gaussian:LEVEL', 'masking:LEVEL'"),
        ("masking", "needs a level"),
        ("masking:abc", "not a number"),
        ("masking:1.2", r"fraction must be a number in \[0, 1\)"),
        ("gaussian:-1", "std must be"),
        ("none:0.1", "takes no level"),
    ],
)
def test_make_corruption_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        make_corruption(spec)

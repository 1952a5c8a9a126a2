import numpy as np
import pytest
import torch

from aekit import io as aio
from aekit.datasets import make_sfa_signal
from aekit.decomposition import SFA
from aekit.decomposition._sfa import delay_embedding, quadratic_expansion

from _tolerance import rounding_bound, unit_roundoff


def whitening_tol(X):
    """How far float64 SFA outputs of X may be from white: the covariance's sums of len(X) terms, amplified
    by its condition number through the whitening (Y has unit variance, so the scale is one)."""
    return np.linalg.cond(np.cov(X, rowvar=False)) * rounding_bound(np.float64, X.shape[0])


@pytest.fixture(scope="module")
def sines():
    """Five sines of increasing frequency, linearly mixed into five channels."""
    t = np.linspace(0, 2 * np.pi, 3000)
    S = np.column_stack([np.sin(f * t + p) for f, p in [(1, 0.3), (3, 1.0), (7, 0.1), (15, 2.0), (40, 0.5)]])
    A = np.random.default_rng(0).normal(size=(5, 5))
    return t, S, S @ A.T


def test_delay_embedding_and_quadratic_expansion_exact():
    X = torch.arange(12.0).reshape(6, 2)  # rows (0,1), (2,3), ...
    E = delay_embedding(X, 3, 2)
    # Row for time t = 4: [x(4), x(2), x(0)].
    torch.testing.assert_close(E, torch.tensor([[8.0, 9, 4, 5, 0, 1], [10.0, 11, 6, 7, 2, 3]]))
    torch.testing.assert_close(delay_embedding(X, 1, 5), X)
    Q = quadratic_expansion(torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(Q, torch.tensor([[2.0, 3.0, 4.0, 6.0, 9.0]]))


@pytest.mark.numerics
def test_linear_sfa_outputs_are_white_and_ordered_by_slowness(sines):
    t, S, X = sines
    sfa = SFA().fit(X)
    Y = sfa.transform(X)
    tol = whitening_tol(X)
    np.testing.assert_allclose(Y.mean(0), 0, atol=tol)
    np.testing.assert_allclose(np.cov(Y, rowvar=False), np.eye(5), atol=tol)
    assert np.all(np.diff(sfa.delta_values_) > 0)
    # delta_values_ is the slowness of each output: <(y(t+1) - y(t))^2>, the eigenvalues of the
    # derivatives' covariance in the white space (conditioned like the whitening)
    np.testing.assert_allclose(np.mean(np.diff(Y, axis=0) ** 2, axis=0), sfa.delta_values_, rtol=tol)
    # Outputs are the sources, slowest first.
    corr = np.abs(np.corrcoef(Y.T, S.T)[:5, 5:])
    assert np.all(np.diag(corr) > 0.999)


def test_sign_convention_positive_trend_with_time(sines):
    _, _, X = sines
    Y = SFA().fit(X).transform(X)
    t = np.arange(len(Y))
    assert np.all(Y.T @ (t - t.mean()) > 0)


def test_quadratic_sfa_solves_the_wiskott_sejnowski_example():
    # x1 = sin t + cos^2(11 t), x2 = cos(11 t): the slow sin t = x1 - x2^2 is quadratic in x.
    t = np.linspace(0, 2 * np.pi, 2000)
    X = np.column_stack([np.sin(t) + np.cos(11 * t) ** 2, np.cos(11 * t)])
    slow = lambda model: np.abs(np.corrcoef(model.fit(X).transform(X)[:, 0], np.sin(t))[0, 1])  # noqa: E731
    assert slow(SFA(1, degree=2)) > 0.999
    assert slow(SFA(1, degree=1)) < 0.9


def test_quadratic_sfa_recovers_the_driving_force():
    data = make_sfa_signal(4000, random_state=0)
    sfa = SFA(1, degree=2, embedding_dim=3).fit(data.X)
    y = sfa.transform(data.X)[:, 0]
    assert y.shape == (4000 - 2,)
    force = data.extras["driving_force"][2:]  # row i belongs to time step i + 2
    assert abs(np.corrcoef(y, force)[0, 1]) >= 0.9
    linear = SFA(1, embedding_dim=3).fit(data.X).transform(data.X)[:, 0]
    assert abs(np.corrcoef(linear, force)[0, 1]) < 0.5


def test_rank_deficient_expansion_drops_dead_directions():
    # A binary channel squares to a constant and a duplicated channel adds nothing.
    t = np.arange(500)
    square = np.sign(np.sin(2 * np.pi * t / 50) + 1e-9)
    smooth = np.sin(2 * np.pi * t / 500)
    X = np.column_stack([square, smooth, smooth])
    sfa = SFA(degree=2).fit(X)
    # 2 independent sphered inputs -> 2 + 3 monomials, one of them (square^2) constant.
    assert sfa.n_components_ == 4
    Y = sfa.transform(X)
    # the expansion's covariance is singular; the kept directions are conditioned like the sphered inputs'
    # monomials (their covariance without the constant and the duplicate)
    E = np.column_stack([square, smooth, smooth**2, square * smooth])
    np.testing.assert_allclose(np.cov(Y, rowvar=False), np.eye(4), atol=whitening_tol(E))
    with pytest.raises(ValueError, match="numerical rank 4"):
        SFA(5, degree=2).fit(X)


def test_save_load_roundtrip_with_embedding(tmp_path):
    data = make_sfa_signal(1000, random_state=1)
    sfa = SFA(3, degree=2, embedding_dim=4, delay=2).fit(data.X)
    back = aio.load(aio.save(sfa, tmp_path / "sfa"))
    np.testing.assert_array_equal(back.transform(data.X), sfa.transform(data.X))
    lin = SFA(1).fit(np.column_stack([data.X[:, 0], data.X[::-1, 0]]))
    back = aio.load(aio.save(lin, tmp_path / "lin"))
    assert back.whitening_ is None and back.degree == 1


def test_bad_input():
    with pytest.raises(ValueError, match="needs at least 11 samples"):
        SFA(embedding_dim=10).fit(np.random.default_rng(0).normal(size=(10, 1)))
    with pytest.raises(ValueError, match="1 sample"):
        SFA().fit(np.ones((1, 2)))
    with pytest.raises(ValueError, match="no variance"):
        SFA().fit(np.ones((20, 2)))
    with pytest.raises(ValueError, match="NaN"):
        SFA().fit(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="reduce the input first"):
        SFA(degree=2).fit(np.random.default_rng(0).normal(size=(300, 120)))
    sfa = SFA(embedding_dim=4).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ValueError, match="at least 4"):
        sfa.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="features"):
        sfa.transform(np.zeros((10, 3)))


def test_sfa_signal_follows_the_logistic_map():
    data = make_sfa_signal(500, random_state=3)
    x = data.X[:, 0].astype(np.float64)
    r = data.extras["growth_rate"]
    # The series is computed in float64 and stored in float32 (within u |x| <= u): recomputing a step from
    # the stored value moves it by r |1 - 2x| u <= r u more.
    np.testing.assert_allclose(x[1:], r[1:] * x[:-1] * (1 - x[:-1]), rtol=0, atol=(1 + r.max()) * unit_roundoff(np.float32))
    t = data.extras["t"]
    np.testing.assert_allclose(r, 3.6 + 0.13 * data.extras["driving_force"])
    np.testing.assert_allclose(
        data.extras["driving_force"], np.sin(10 * np.pi * t) + np.sin(22 * np.pi * t) + np.sin(26 * np.pi * t)
    )
    assert np.all((x > 0) & (x < 1))
    with pytest.raises(ValueError, match="n_samples"):
        make_sfa_signal(10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    data = make_sfa_signal(2000, random_state=0)
    cpu = SFA(2, degree=2, embedding_dim=3).fit(data.X)
    gpu = SFA(2, degree=2, embedding_dim=3, device="cuda").fit(data.X)
    np.testing.assert_allclose(gpu.delta_values_, cpu.delta_values_, rtol=1e-6)
    np.testing.assert_allclose(gpu.transform(data.X), cpu.transform(data.X), atol=1e-5)


import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import FastICA as SkFastICA
from sklearn.exceptions import ConvergenceWarning

from aekit import io as aio
from aekit.datasets import make_ica_mixture
from aekit.decomposition import PCA, FastICA
from aekit.decomposition._fastica import CONTRASTS, escape_saddles, symmetric_decorrelation

from _tolerance import rounding_bound, unit_roundoff


def transform_bound(ica, X):
    """How far a float32 ``transform`` of X may lie from its exact value, per entry (one computation)."""
    scale = (np.abs(X - ica.mean_) @ np.abs(ica.components_).T).max()
    return rounding_bound(X.dtype, X.shape[1] + 2, scale) / 2


def matched_abs_correlations(A, B):
    """|corr| between the columns of A and B after the best one-to-one matching (Hungarian)."""
    k = A.shape[1]
    C = np.abs(np.corrcoef(A.T, B.T)[:k, k:])
    rows, cols = linear_sum_assignment(-C)
    return C[rows, cols]


@pytest.fixture(scope="module")
def mixture():
    return make_ica_mixture(2000, n_sources=4, random_state=0)


@pytest.mark.parametrize("algorithm", ["parallel", "deflation"])
@pytest.mark.parametrize("fun", ["logcosh", "exp", "cube"])
def test_recovers_every_known_source(mixture, algorithm, fun):
    ica = FastICA(4, algorithm=algorithm, fun=fun, random_state=0).fit(mixture.X)
    S_hat = ica.transform(mixture.X)
    corr = matched_abs_correlations(mixture.extras["sources"], S_hat)
    assert corr.min() >= 0.99, corr
    # Sources come out white: unit variance, uncorrelated. Exactly so for the float64 unmixing (whitening,
    # then an orthogonal W); the float32 outputs are within e of it, which moves a covariance entry by at
    # most 2 mean|s| e (plus e^2).
    e = transform_bound(ica, mixture.X)
    atol = 2 * np.abs(S_hat).mean() * e + e**2 + rounding_bound(np.float64, S_hat.shape[0])
    np.testing.assert_allclose(np.cov(S_hat.astype(np.float64), rowvar=False), np.eye(4), atol=atol)


def test_the_untrained_control_does_not_separate_the_sources(mixture):
    # What the 0.99 bar above is measured against: the sensors themselves (0.45) and their whitening by
    # PCA, FastICA's starting point (0.67), are far from the sources.
    S = mixture.extras["sources"]
    assert matched_abs_correlations(S, mixture.X).min() < 0.6
    assert matched_abs_correlations(S, PCA(4, whiten=True).fit_transform(mixture.X)).min() < 0.8


def test_three_sources_with_more_sensors():
    data = make_ica_mixture(1500, n_sources=3, n_features=6, random_state=1)
    ica = FastICA(3, random_state=0).fit(data.X)
    assert matched_abs_correlations(data.extras["sources"], ica.transform(data.X)).min() >= 0.99
    assert ica.mixing_.shape == (6, 3) and ica.components_.shape == (3, 6)


def test_agrees_with_sklearn(mixture):
    ours = FastICA(4, random_state=0).fit(mixture.X).transform(mixture.X)
    ref = SkFastICA(4, whiten="unit-variance", random_state=0).fit(mixture.X).transform(mixture.X)
    assert matched_abs_correlations(ours, ref).min() >= 0.999


def test_mixing_recovers_true_mixing_columns_up_to_order_and_sign(mixture):
    ica = FastICA(4, random_state=0).fit(mixture.X)
    A = mixture.extras["mixing"]
    cos = np.abs((A / np.linalg.norm(A, axis=0)).T @ (ica.mixing_ / np.linalg.norm(ica.mixing_, axis=0)))
    rows, cols = linear_sum_assignment(-cos)
    assert cos[rows, cols].min() >= 0.99
    # the unmixing and mixing matrices are float64 inverses of each other (a pseudo-inverse through the
    # whitening, conditioned by the mixture's covariance)
    cond = np.linalg.cond(np.cov(mixture.X.astype(np.float64), rowvar=False))
    scale = (np.abs(ica.components_) @ np.abs(ica.mixing_)).max()
    np.testing.assert_allclose(ica.components_ @ ica.mixing_, np.eye(4), atol=cond * rounding_bound(np.float64, 8, scale))
    # float32 round trip: the sources' error through |A|, plus the rounding of the length-4 product and the mean
    e = transform_bound(ica, mixture.X)
    S = ica.transform(mixture.X)
    back = e * np.abs(ica.mixing_).sum(1).max()
    back += rounding_bound(np.float32, 4 + 2, (np.abs(S) @ np.abs(ica.mixing_).T + np.abs(ica.mean_)).max()) / 2
    np.testing.assert_allclose(ica.inverse_transform(S), mixture.X, rtol=0, atol=back)


def test_signs_and_order_are_deterministic(mixture):
    a = FastICA(4, random_state=0).fit(mixture.X)
    b = FastICA(4, random_state=5).fit(mixture.X)  # another start, same solution
    cols = np.arange(4)
    assert np.all(a.mixing_[np.abs(a.mixing_).argmax(0), cols] > 0)
    # A solver tolerance, not a rounding one: each run stops once no row turns by more than
    # |cos - 1| < tol, i.e. an angle of sqrt(2 tol); two starts then agree to about that angle (twice,
    # once per run) times the columns' scale.
    np.testing.assert_allclose(a.mixing_, b.mixing_, atol=2 * np.sqrt(2 * a.tol) * np.abs(a.mixing_).max())


def test_saddle_test_escapes_a_spurious_fixed_point(mixture):
    # The start of random_state=5 ends, without the test, at a saddle mixing two sources.
    plain = FastICA(4, saddle_test=False, random_state=5).fit(mixture.X)
    fixed = FastICA(4, random_state=5).fit(mixture.X)
    S = mixture.extras["sources"]
    assert matched_abs_correlations(S, plain.transform(mixture.X)).min() < 0.9
    assert matched_abs_correlations(S, fixed.transform(mixture.X)).min() >= 0.99


def test_escape_saddles_rotates_a_half_sum_pair():
    rng = np.random.default_rng(0)
    S = np.column_stack([np.sign(rng.normal(size=4000)), rng.laplace(size=4000)])
    S = torch.from_numpy((S - S.mean(0)) / S.std(0))
    g, G = CONTRASTS["logcosh"]
    W = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64) / np.sqrt(2)
    from aekit.decomposition._fastica import _gaussian_expectation

    W_new, rotated = escape_saddles(S.T, W, G, 1.0, _gaussian_expectation("logcosh", 1.0))
    assert rotated
    # a rotation by pi/4 of the float64 pair: a handful of roundings of O(1) numbers
    np.testing.assert_allclose(np.abs(W_new.numpy()), np.eye(2), atol=rounding_bound(np.float64, 8))


@pytest.mark.parametrize("fun", ["logcosh", "exp", "cube"])
def test_contrast_derivatives_match_finite_differences(fun):
    g, G = CONTRASTS[fun]
    y = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]  # 61 signals of one sample each
    h = 1e-6
    gy, gp = g(y, 1.5)  # gp: the mean of g' over each signal's samples = g'(y) here
    # Central differences err by h^2 |f^(3)| / 6 (truncation) + 2 u |f| / h (rounding of f(y +- h)); on
    # [-3, 3] every contrast has |G|, |g| <= 27 and |G^(3)|, |g^(3)| <= 18 (the cube's g = y^3: g^(3) = 6,
    # G^(3) = 6y); 1.5 scales them by at most 1.5^3.
    atol = 1.5**3 * (h**2 * 18 / 6 + 2 * unit_roundoff(torch.float64) * 27 / h)
    torch.testing.assert_close(gy, (G(y + h, 1.5) - G(y - h, 1.5)) / (2 * h), rtol=0, atol=atol)
    torch.testing.assert_close(gp, ((g(y + h, 1.5)[0] - g(y - h, 1.5)[0]) / (2 * h))[:, 0], rtol=0, atol=atol)


@pytest.mark.numerics
def test_symmetric_decorrelation_gives_the_nearest_orthogonal_matrix():
    W = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Q = symmetric_decorrelation(W)
    torch.testing.assert_close(Q @ Q.T, torch.eye(5, dtype=torch.float64))
    U, _, Vh = torch.linalg.svd(W)
    torch.testing.assert_close(Q, U @ Vh)  # polar factor
    torch.testing.assert_close(symmetric_decorrelation(Q), Q)


def test_convergence_warning(mixture):
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        FastICA(4, max_iter=1, random_state=0).fit(mixture.X)


def test_save_load_roundtrip(mixture, tmp_path):
    ica = FastICA(3, algorithm="deflation", random_state=0).fit(mixture.X)
    back = aio.load(aio.save(ica, tmp_path / "ica"))
    np.testing.assert_array_equal(back.transform(mixture.X), ica.transform(mixture.X))
    np.testing.assert_array_equal(back.mixing_, ica.mixing_)
    assert back.n_iter_ == ica.n_iter_


def test_bad_input_and_options(mixture):
    with pytest.raises(ValueError, match="NaN"):
        FastICA().fit(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]))
    with pytest.raises(ValueError, match="1 sample"):
        FastICA().fit(np.ones((1, 3)))
    with pytest.raises(ValueError, match="fun"):
        FastICA(fun="tanh").fit(mixture.X)
    with pytest.raises(ValueError, match=r"w_init has shape \(2, 2\)"):
        FastICA(3, w_init=np.eye(2)).fit(mixture.X)
    with pytest.raises(ValueError, match="n_components=9"):
        FastICA(9).fit(mixture.X)
    ica = FastICA(2, random_state=0).fit(mixture.X)
    with pytest.raises(ValueError, match="features"):
        ica.transform(mixture.X[:, :3])
    with pytest.raises(ValueError, match="2 components"):
        ica.inverse_transform(np.zeros((3, 4)))


def test_ica_mixture_is_a_linear_mixture_of_unit_variance_sources():
    data = make_ica_mixture(1000, n_sources=5, n_features=7, random_state=2)
    S, A = data.extras["sources"], data.extras["mixing"]
    assert data.extras["source_kinds"] == ["sine", "square", "sawtooth", "laplacian", "uniform"]
    np.testing.assert_allclose(S.std(0), 1.0)
    np.testing.assert_allclose(data.X, S @ A.T, rtol=0, atol=rounding_bound(np.float32, 5, (np.abs(S) @ np.abs(A).T).max()))
    assert np.linalg.cond(A) < 10
    with pytest.raises(ValueError, match="n_sources"):
        make_ica_mixture(100, n_sources=6)
    with pytest.raises(ValueError, match="n_features"):
        make_ica_mixture(100, n_sources=3, n_features=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(mixture):
    cpu = FastICA(4, random_state=0).fit(mixture.X)
    gpu = FastICA(4, random_state=0, device="cuda").fit(mixture.X)
    assert matched_abs_correlations(cpu.transform(mixture.X), gpu.transform(mixture.X)).min() >= 0.9999

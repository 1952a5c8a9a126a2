"""The scikit-learn estimators: API conformance, training on digits, persistence, bad input."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from aekit import io as aio
from aekit.autoencoders import (
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
    SparseAutoencoder,
)
from aekit.datasets import load_digits

from _tolerance import decoder_layers, encoder_layers, forward_bound, rounding_bound

FAST = dict(n_components=6, max_epochs=3, batch_size=16, learning_rate=1e-2)


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return ds.X[:600], ds.y[:600]


VARIANTS = {
    "plain": lambda: Autoencoder(32, loss="cross_entropy"),
    "sparse": lambda: SparseAutoencoder(48, loss="cross_entropy"),
    "ksparse": lambda: KSparseAutoencoder(48, k=8, learning_rate=3e-3),
    "denoising": lambda: DenoisingAutoencoder(32, loss="cross_entropy", corrupted_weight=2.0),
    "contractive": lambda: ContractiveAutoencoder(32, loss="cross_entropy"),
    "deep-contractive": lambda: ContractiveAutoencoder(16, hidden_layer_sizes=(24,), loss="cross_entropy"),
    "sparse+denoising": lambda: SparseAutoencoder(48, loss="cross_entropy", corruption="salt_and_pepper:0.1"),
    "kurtosis+l1": lambda: Autoencoder(32, kurtosis_weight=0.1, activity_l1=0.01, l1_weights=1e-4),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_loss_decreases_on_digits(name, digits):
    X, _ = digits
    est = VARIANTS[name]().set_params(max_epochs=8, batch_size=64, random_state=0)
    est.fit(X)
    losses = [row["loss"] for row in est.history_]
    recon = [row["reconstruction_error"] for row in est.history_]
    assert len(losses) == 8 and np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses
    assert recon[-1] < recon[0], recon
    Z = est.transform(X)
    assert Z.shape == (X.shape[0], est.n_components) and Z.dtype == np.float32


@pytest.mark.parametrize("estimate", ["batch", "running", "full"])
def test_kl_sparsity_reaches_the_target_mean_activation(estimate, digits):
    X, _ = digits
    rho0 = 0.05
    est = SparseAutoencoder(
        64, loss="cross_entropy", sparsity_target=rho0, sparsity_estimate=estimate,
        max_epochs=40, batch_size=32, learning_rate=1e-2, random_state=0,
    ).fit(X)
    rho_hat = est.transform(X).mean(axis=0)  # each unit's average activation on the training set
    assert abs(rho_hat.mean() - rho0) < 0.02, rho_hat.mean()
    assert np.abs(rho_hat - rho0).max() < 0.1, rho_hat  # every unit pulled from ~0.5 towards rho0
    assert abs(est.history_[-1]["mean_activation"] - rho0) < 0.02
    plain = Autoencoder(64, loss="cross_entropy", max_epochs=5, random_state=0).fit(X)
    assert plain.transform(X).mean() > 0.2  # without the penalty the code is far from sparse


def test_tied_weights_stay_tied(digits):
    X, _ = digits
    est = KSparseAutoencoder(40, k=6, max_epochs=3, random_state=0).fit(X)
    m = est.module_
    assert est.tied_weights and len(m.decoder_weights) == 0
    W = m.encoder_weights[0]
    assert m.decoder_weight(0).data_ptr() == W.data_ptr()
    assert sum(p.numel() for p in m.parameters()) == 40 * 64 + 40 + 64
    with torch.no_grad():  # changing the encoder weight changes the decoder identically
        W.mul_(2.0)
    h = torch.rand(3, 40)
    torch.testing.assert_close(m.decode(h), h @ W.detach() + m.decoder_biases[0].detach())


@pytest.mark.parametrize(
    "est",
    [
        Autoencoder(12, hidden_layer_sizes=(20,), loss="cross_entropy", sparsity_weight=0.5,
                    sparsity_estimate="running"),
        KSparseAutoencoder(30, k=5),
        DenoisingAutoencoder(12, corruption="gaussian:0.2"),
        ContractiveAutoencoder(12, tied_weights=True),
    ],
    ids=["deep-kl-running", "ksparse", "denoising", "contractive"],
)
def test_save_load_transform_identical(est, digits, tmp_path):
    X, _ = digits
    est.set_params(max_epochs=2, random_state=0).fit(X)
    aio.save(est, tmp_path / "model")
    loaded = aio.load(tmp_path / "model")
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.history_ == est.history_
    torch.testing.assert_close(loaded.module_.rho_hat, est.module_.rho_hat, rtol=0, atol=0)


def test_fit_is_reproducible_and_predict_is_deterministic(digits):
    X, _ = digits
    a = DenoisingAutoencoder(16, max_epochs=2, random_state=3).fit(X)
    b = DenoisingAutoencoder(16, max_epochs=2, random_state=3).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict(X), a.predict(X))  # no corruption outside training


def test_transform_inverse_transform_predict_score(digits):
    X, _ = digits
    est = Autoencoder(16, loss="cross_entropy", max_epochs=3, random_state=0).fit(X)
    Z = est.transform(X)
    # decoding the float32 codes or encoding-and-decoding at once: both within float32 rounding of the model
    bound = forward_bound(torch.float32, X, encoder_layers(est.module_) + decoder_layers(est.module_))
    assert np.all(np.abs(est.inverse_transform(Z) - est.predict(X)) <= bound)
    R = est.predict(X)
    assert R.shape == X.shape and (R >= 0).all() and (R <= 1).all()
    eps = 1e-7
    Rc = np.clip(R.astype(np.float64), eps, 1 - eps)
    ce = -(X * np.log(Rc) + (1 - X) * np.log(1 - Rc)).sum(axis=1).mean()
    # by hand from the float32 probabilities R (within bound of the model's): |d CE / dR| = x/R + (1-x)/(1-R)
    # per pixel, plus the rounding of the 600 x 64 non-negative terms' sum
    slack = (bound * (X / Rc + (1 - X) / (1 - Rc))).sum(axis=1).mean() + rounding_bound(torch.float32, X.size, ce)
    assert est.score(X) == pytest.approx(-ce, abs=slack)
    with pytest.raises(ValueError, match="n_components=16"):
        est.inverse_transform(Z[:, :5])
    k = KSparseAutoencoder(40, k=4, k_alpha=2.5, max_epochs=2, random_state=0).fit(X)
    assert (np.count_nonzero(k.transform(X), axis=1) == 10).all()


def test_pipeline_and_grid_search(digits):
    X, y = digits
    def pipeline_score(epochs):
        pipe = Pipeline([("ae", Autoencoder(8, loss="cross_entropy", max_epochs=epochs, learning_rate=1e-2,
                                             batch_size=32, random_state=0)),
                         ("clf", LogisticRegression(max_iter=500))])
        return pipe.fit(X[:400], y[:400]).score(X[400:], y[400:])

    # An 8-unit bottleneck against its untrained control (same seed, initial weights): over seeds 0-3 the
    # trained codes scored 0.675-0.765 and the untrained 0.415-0.53 (smallest gap 0.185), on 200 test digits.
    assert pipeline_score(40) >= pipeline_score(0) + 0.1
    ae = Autoencoder(loss="cross_entropy", max_epochs=5, learning_rate=1e-2, batch_size=32, random_state=0)
    grid = GridSearchCV(ae, {"n_components": [4, 32]}, cv=2)
    grid.fit(X)
    assert grid.best_params_ == {"n_components": 32}  # a larger code reconstructs better


def test_bad_input_gives_clear_errors(digits):
    X, _ = digits
    est = Autoencoder(8, max_epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but Autoencoder is expecting 64 features"):
        est.transform(X[:, :10])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Autoencoder(8, max_epochs=1).fit(bad)
    with pytest.raises(ValueError, match="KL sparsity needs encoder activations in \\(0, 1\\).*'tanh'"):
        SparseAutoencoder(8, encoder_activation="tanh", max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="KL sparsity needs encoder activations"):
        Autoencoder(8, encoder_activation="topk", k=2, sparsity_weight=1.0, max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="k=30 must be between 1 and the number of hidden units \\(20\\)"):
        KSparseAutoencoder(20, k=30, max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="encoder_activation.*'sigmoid'"):
        Autoencoder(8, encoder_activation="sigmoidd", max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="needs inputs in \\[0, 1\\]"):
        Autoencoder(8, loss="cross_entropy", max_epochs=1).fit(X * 2 - 0.5)
    with pytest.raises(ValueError, match="Unknown corruption"):
        DenoisingAutoencoder(8, corruption="blur:0.3", max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="needs k"):
        Autoencoder(8, encoder_activation="topk", max_epochs=1).fit(X)


def test_center_subtracts_the_training_mean_before_encoding(digits):
    X, _ = digits
    est = KSparseAutoencoder(40, k=5, max_epochs=1, random_state=0).fit(X)
    assert est.center
    mean = X.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(est.module_.input_offset.numpy(), mean, rtol=0,
                               atol=rounding_bound(torch.float32, X.shape[0], mean.max()))
    off = Autoencoder(8, max_epochs=1, random_state=0).fit(X)
    assert not off.module_.centered and not off.module_.input_offset.any()

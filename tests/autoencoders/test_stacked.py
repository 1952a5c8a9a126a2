"""Stacked autoencoders: greedy pretraining on clean codes, fine-tuning, the scikit-learn API, persistence."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from aekit import io as aio
from aekit.autoencoders import (
    Autoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedClassifierModule,
    StackedModule,
)
from aekit.datasets import load_digits

from _tolerance import decoder_layers, encoder_layers, forward_bound, rounding_bound


def tiny_layers(epochs=2):
    return [
        Autoencoder(6, max_epochs=epochs, batch_size=16, learning_rate=1e-2),
        Autoencoder(4, max_epochs=epochs, batch_size=16, learning_rate=1e-2),
    ]


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(ds.X.shape[0])
    X, y = ds.X[order], ds.y[order]
    return X[:1200], y[:1200], X[1200:], y[1200:]


@pytest.mark.numerics
def test_row_order_changes_codes_by_rounding_only(digits):
    X = digits[0][:300]
    est = StackedAutoencoder(tiny_layers(), random_state=0).fit(X)
    perm = np.random.default_rng(1).permutation(X.shape[0])
    bound = forward_bound(torch.float32, X, [layer for m in est.module_.layers for layer in encoder_layers(m)])
    assert np.all(np.abs(est.transform(X[perm]) - est.transform(X)[perm]) <= bound[perm])


def test_each_layer_learns_from_the_clean_codes_of_the_one_below(digits, monkeypatch):
    X = digits[0][:400]
    seen = []
    original = Autoencoder.fit_tensor

    def spy(self, X, val_X=None):
        seen.append(X.clone())
        return original(self, X, val_X)

    monkeypatch.setattr(Autoencoder, "fit_tensor", spy)
    layers = [
        DenoisingAutoencoder(24, loss="cross_entropy", corruption="masking:0.5", max_epochs=2),
        SparseAutoencoder(12, loss="cross_entropy", max_epochs=2),
        KSparseAutoencoder(10, k=3, k_alpha=2.0, max_epochs=2),
    ]
    est = StackedAutoencoder(layers, random_state=0).fit(X)
    assert len(seen) == 3
    torch.testing.assert_close(seen[0], torch.from_numpy(X), rtol=0, atol=0)
    h = torch.from_numpy(X)
    for i, module in enumerate(est.module_.layers[:-1]):
        with torch.no_grad():
            h = module.features(h)  # clean input, feature form
        torch.testing.assert_close(seen[i + 1], h, rtol=0, atol=0)
    # the deepest codes are the k-sparse layer's feature form: ceil(2 * 3) = 6 non-zeros per row
    Z = est.transform(X)
    assert (np.count_nonzero(Z, axis=1) == 6).all()
    assert len(est.history_["pretraining"]) == 3 and est.history_["fine_tuning"] == []
    # the templates are untouched (cloned, not fitted)
    assert not hasattr(layers[0], "module_")


def test_denoising_layer_corrupts_only_during_its_own_pretraining(digits):
    X, y = digits[0][:300], digits[1][:300]
    layers = [DenoisingAutoencoder(16, loss="cross_entropy", corruption="masking:0.5", max_epochs=2), Autoencoder(8, max_epochs=2)]
    clf = StackedAutoencoderClassifier(layers, head_max_epochs=2, max_epochs=2, random_state=0).fit(X, y)
    net = clf.module_
    first = net.layers[0]
    xb = torch.from_numpy(X[:64])
    yb = torch.from_numpy(clf._encode_labels(y[:64], True))
    first.train()
    a = first.loss_terms(xb, generator=torch.Generator().manual_seed(1))["reconstruction"]
    b = first.loss_terms(xb, generator=torch.Generator().manual_seed(2))["reconstruction"]
    assert not torch.equal(a, b)  # its own objective corrupts (different noise, different loss)
    net.train()
    c = net.loss_terms(xb, yb, generator=torch.Generator().manual_seed(1))["classification"]
    d = net.loss_terms(xb, yb, generator=torch.Generator().manual_seed(2))["classification"]
    assert torch.equal(c, d)  # fine-tuning never corrupts
    net.eval()
    np.testing.assert_array_equal(clf.transform(X), clf.transform(X))


def test_fine_tuning_improves_on_the_softmax_on_frozen_codes(digits):
    X, y, X_test, y_test = digits
    layers = [
        SparseAutoencoder(48, loss="cross_entropy", max_epochs=8, batch_size=32, learning_rate=3e-3),
        SparseAutoencoder(24, loss="cross_entropy", max_epochs=8, batch_size=32, learning_rate=3e-3),
    ]
    clf = StackedAutoencoderClassifier(
        layers, fine_tune=False, head_max_epochs=20, max_epochs=20, batch_size=32, learning_rate=3e-3, random_state=0
    ).fit(X, y)
    before = clf.score(X_test, y_test)
    assert clf.stage_accuracy_["fine_tuned"] is None
    clf.set_params(fine_tune=True, warm_start=True).fit(X, y)
    after = clf.score(X_test, y_test)
    # the claim is the improvement over the same stack's frozen codes (its own control), by 5 points
    assert after > before + 0.05, (before, after)
    hist = clf.history_
    assert set(hist) == {"pretraining", "softmax", "fine_tuning"}
    assert len(hist["softmax"]) == 20 and len(hist["fine_tuning"]) == 20
    assert {"classification", "accuracy"} <= set(hist["fine_tuning"][0])
    assert clf.stage_accuracy_["fine_tuned"]["train"] > clf.stage_accuracy_["softmax"]["train"]


def test_probabilities_labels_and_decision_function(digits):
    X, y, X_test, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = StackedAutoencoderClassifier(tiny_layers(), head_max_epochs=3, max_epochs=3, random_state=0).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    P = clf.predict_proba(X_test)
    assert P.shape == (X_test.shape[0], 10) and (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=rounding_bound(P.dtype, 10))
    pred = clf.predict(X_test)
    assert set(pred) <= set(names)
    np.testing.assert_array_equal(pred, clf.classes_[P.argmax(axis=1)])
    # exp(log p) against p: the log-softmax and the softmax of the same logits, each a few roundings of
    # a 10-term sum away (float64 probabilities)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), P, rtol=rounding_bound(P.dtype, 10 + 4))
    binary = y < 5
    two = StackedAutoencoderClassifier(tiny_layers(), head_max_epochs=3, max_epochs=3, random_state=0)
    two.fit(X, np.where(binary, "low", "high"))
    d = two.decision_function(X_test)
    assert d.shape == (X_test.shape[0],)
    np.testing.assert_array_equal(two.classes_[(d > 0).astype(int)], two.predict(X_test))


def test_save_load_round_trip_is_identical(digits, tmp_path):
    X, y, X_test, _ = digits
    layers = [DenoisingAutoencoder(16, loss="cross_entropy", max_epochs=2), KSparseAutoencoder(8, k=2, max_epochs=2)]
    clf = StackedAutoencoderClassifier(layers, head_max_epochs=2, max_epochs=2, random_state=0).fit(X, y.astype(str))
    aio.save(clf, tmp_path / "clf")
    back = aio.load(tmp_path / "clf")
    assert isinstance(back.layers[1], KSparseAutoencoder) and back.layers[1].k == 2
    np.testing.assert_array_equal(back.predict_proba(X_test), clf.predict_proba(X_test))
    np.testing.assert_array_equal(back.transform(X_test), clf.transform(X_test))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    assert back.history_ == clf.history_
    sae = StackedAutoencoder(layers, fine_tune=True, max_epochs=2, random_state=0).fit(X)
    aio.save(sae, tmp_path / "sae")
    back = aio.load(tmp_path / "sae")
    for method in ("transform", "predict"):
        np.testing.assert_array_equal(getattr(back, method)(X_test), getattr(sae, method)(X_test))
    Z = sae.transform(X_test)
    np.testing.assert_array_equal(back.inverse_transform(Z), sae.inverse_transform(Z))


def test_random_state_makes_fits_reproducible(digits):
    X, y = digits[0][:400], digits[1][:400]
    layers = [DenoisingAutoencoder(12, max_epochs=2), Autoencoder(6, max_epochs=2)]
    a = StackedAutoencoderClassifier(layers, head_max_epochs=2, max_epochs=2, random_state=3).fit(X, y)
    b = StackedAutoencoderClassifier(layers, head_max_epochs=2, max_epochs=2, random_state=3).fit(X, y)
    c = StackedAutoencoderClassifier(layers, head_max_epochs=2, max_epochs=2, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_unrolled_fine_tuning_lowers_the_reconstruction_loss(digits):
    X, X_test = digits[0], digits[2]
    layers = [Autoencoder(32, loss="cross_entropy", max_epochs=5, batch_size=32), Autoencoder(16, max_epochs=5, batch_size=32)]
    sae = StackedAutoencoder(layers, fine_tune=False, max_epochs=15, batch_size=32, random_state=0).fit(X)
    before = sae.score(X_test)
    sae.set_params(fine_tune=True, warm_start=True).fit(X)
    assert sae.score(X_test) > before  # higher score = lower loss
    assert sae.n_iter_ == 15 and "reconstruction" in sae.history_["fine_tuning"][0]
    Z = sae.transform(X_test)
    assert Z.shape == (X_test.shape[0], 16)
    X_hat = sae.inverse_transform(Z)
    layers = [layer for m in sae.module_.layers for layer in encoder_layers(m)]
    layers += [layer for m in reversed(sae.module_.layers) for layer in decoder_layers(m)]
    assert np.all(np.abs(X_hat - sae.predict(X_test)) <= forward_bound(torch.float32, X_test, layers))
    assert ((X_hat > 0) & (X_hat < 1)).all()  # layer 1's sigmoid decoder
    with pytest.raises(ValueError, match="16 columns"):
        sae.inverse_transform(Z[:, :5])


def test_early_stopping_holds_out_validation_rows(digits):
    X, y, X_val, y_val = digits
    clf = StackedAutoencoderClassifier(tiny_layers(), head_max_epochs=3, max_epochs=3, early_stopping=True, random_state=0)
    clf.fit(X, y)
    assert "val_loss" in clf.history_["fine_tuning"][0] and clf.stage_accuracy_["fine_tuned"]["validation"] is not None
    clf.fit(X, y, X_val=X_val[:200], y_val=y_val[:200])
    assert "val_classification" in clf.history_["softmax"][0]
    with pytest.raises(ValueError, match="without y_val"):
        clf.fit(X, y, X_val=X_val)


def test_early_stopping_on_the_validation_error_keeps_the_epoch_with_the_fewest_errors(digits):
    X, y, X_val, y_val = digits
    clf = StackedAutoencoderClassifier(
        tiny_layers(), head_max_epochs=3, max_epochs=6, optimizer="sgd", learning_rate=0.5, early_stopping=True,
        n_iter_no_change=6, monitor="error", random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    rows = clf.history_["fine_tuning"]
    assert "val_error" in rows[0] and "val_error" in clf.history_["softmax"][0]
    best = min(rows, key=lambda r: (r["val_error"], r["val_loss"]))
    # the kept weights are the best epoch's: their validation error is the logged one (the same count of
    # errors over the same images: any difference under half an image is rounding)
    same_count = 0.5 / X_val.shape[0]
    assert 1.0 - clf.stage_accuracy_["fine_tuned"]["validation"] == pytest.approx(best["val_error"], abs=same_count)
    logged = [r["val_error"] for r in rows]
    assert all(0.0 <= e <= 1.0 for e in logged)
    assert 1.0 - clf.score(X_val, y_val) == pytest.approx(best["val_error"], abs=same_count)


def test_nested_parameters_and_grid_search(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = StackedAutoencoderClassifier(tiny_layers(1), head_max_epochs=2, max_epochs=2, random_state=0)
    params = clf.get_params(deep=True)
    assert params["layer1__n_components"] == 6 and params["layer2"] is clf.layers[1]
    clf.set_params(layer2__corruption="masking:0.1", layer1__n_components=5)
    assert clf.layers[1].corruption == "masking:0.1" and clf.layers[0].n_components == 5
    with pytest.raises(ValueError, match="layer1, layer2"):
        clf.set_params(layer3__k=2)
    search = GridSearchCV(clf, {"layer1__n_components": [5, 8]}, cv=2).fit(X, y)
    assert search.best_estimator_.layers[0].n_components in (5, 8)
    assert search.best_estimator_.module_.layers[0].n_components == search.best_params_["layer1__n_components"]


def test_module_freezes_decoders_under_a_head_and_names_its_terms(digits):
    clf = StackedAutoencoderClassifier(tiny_layers(1), head_max_epochs=1, max_epochs=1, weight_decay=1e-3, random_state=0)
    clf.fit(digits[0][:200], digits[1][:200])
    net = clf.module_
    assert isinstance(net, StackedClassifierModule)
    frozen = [p for layer in net.layers for p in [*layer.decoder_weights, *layer.decoder_biases]]
    assert frozen and not any(p.requires_grad for p in frozen)
    x, y = torch.from_numpy(digits[0][:8]), torch.arange(8) % 10
    terms = net.loss_terms(x, y)
    assert set(terms) == {"classification", "weight_decay"}
    expected = 1e-3 * 0.5 * sum(float(w.detach().square().sum()) for w in net.decayed_weights())
    n_weights = sum(w.numel() for w in net.decayed_weights())  # a sum of that many squares (all >= 0)
    assert float(terms["weight_decay"].detach()) == pytest.approx(expected, rel=rounding_bound(torch.float32, n_weights))
    assert len(net.decayed_weights()) == 3  # two encoders and the softmax


def test_bad_input_gives_clear_errors(digits):
    X, _y = digits[0][:100], digits[1][:100]
    with pytest.raises(TypeError, match="layer2 must be an aekit autoencoder"):
        StackedAutoencoder([Autoencoder(4, max_epochs=1), "pca"]).fit(X)
    with pytest.raises(ValueError, match="layer2 .*cross_entropy. needs inputs in"):
        StackedAutoencoder([KSparseAutoencoder(8, k=2, max_epochs=1), Autoencoder(4, loss="cross_entropy")]).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        StackedAutoencoderClassifier(tiny_layers(1)).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="empty"):
        StackedAutoencoder([]).fit(X)
    with pytest.raises(ValueError, match="no explicit layers"):
        StackedAutoencoder().set_params(layer1__n_components=3)
    est = StackedAutoencoder(tiny_layers(1), random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :10])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        StackedAutoencoder(tiny_layers(1)).fit(Xn)

"""SparseDictionary: the estimator API, persistence with the scale folded, bad input, and learning a known dictionary."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aekit import io as aio
from aekit.autoencoders import SAE_OPTIONS, SparseDictionary, SparseDictionaryModule
from aekit.datasets import make_sparse_dictionary_data
from aekit.metrics import explained_variance
from aekit.training import TRAINING_OPTIONS
from aekit.training._data import DeviceBatches

FAST = dict(batch_size=128, max_epochs=2, learning_rate=3e-3, warmup_steps=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, atoms, _ = make_sparse_dictionary_data(1024, 16, 48, 3, random_state=0)
    return X * 7.0 + 2.0, atoms  # raw activations: not unit scale, not centred


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "relu", "jumprelu", "matryoshka"])
def test_api_shapes_sparse_output_and_score(data, architecture):
    X, _ = data
    est = SparseDictionary(64, architecture=architecture, k=4, **FAST).fit(X)
    H = est.transform(X)
    assert H.shape == (1024, 64) and H.dtype == np.float32 and float(H.min()) >= 0.0
    if architecture == "topk":
        assert bool(((H != 0).sum(axis=1) == 4).all())
    S = est.set_params(sparse_output=True).transform(X)
    assert sp.isspmatrix_csr(S) and np.array_equal(S.toarray(), H)
    X_hat = est.inverse_transform(S)
    np.testing.assert_allclose(est.inverse_transform(H), X_hat, rtol=1e-6, atol=1e-5)
    assert est.score(X) == pytest.approx(explained_variance(X, X_hat), rel=1e-6, abs=1e-6)
    assert est.components_.shape == (64, 16) and est.n_components_ == 64
    np.testing.assert_allclose(np.linalg.norm(est.components_, axis=1), 1.0, atol=1e-5)
    assert est.history_[-1]["epoch"] == 2 and est.n_iter_ == 2
    assert float(est.module_.input_scale) == 1.0 and est.input_scale_ != 1.0  # folded in


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "jumprelu"])
def test_saved_model_acts_on_raw_inputs_like_the_unfolded_one(data, tmp_path, architecture):
    X, _ = data
    est = SparseDictionary(32, architecture=architecture, k=3, **FAST).fit(X)
    T = torch.from_numpy(X)
    with torch.no_grad():
        folded = est.module_.reconstruct(T)
        est.module_.rescale_inputs(est.input_scale_)  # back to the units it trained in
        unfolded = est.module_.reconstruct(T)
        est.module_.rescale_inputs(1.0)
    torch.testing.assert_close(folded, unfolded, rtol=1e-5, atol=1e-4)  # float32, |x| ~ 10
    aio.save(est, tmp_path / "sae")
    loaded = aio.load(tmp_path / "sae")
    assert float(loaded.module_.input_scale) == 1.0
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.inverse_transform(loaded.transform(X)), est.inverse_transform(est.transform(X)))
    if architecture == "batchtopk":
        assert float(loaded.module_.activation.threshold) == float(est.module_.activation.threshold) > 0


def test_fit_on_a_batch_source_equals_fit_on_the_array(data):
    X, _ = data
    a = SparseDictionary(32, k=3, **FAST).fit(X)
    b = SparseDictionary(32, k=3, **FAST).fit(DeviceBatches((torch.from_numpy(X),), torch.device("cpu")))
    assert b.n_features_in_ == 16
    for key, value in a.module_.state_dict().items():
        assert torch.equal(b.module_.state_dict()[key], value), key


def test_partial_fit_continues_the_dictionary(data):
    X, _ = data
    est = SparseDictionary(32, k=3, **FAST)
    est.partial_fit(X)
    first = est.score(X)
    steps = int(est.module_.steps)
    est.partial_fit(X)
    assert int(est.module_.steps) == 2 * steps and len(est.history_) == 4
    assert est.score(X) > first


def test_bad_input_is_a_clear_error(data):
    X, _ = data
    with pytest.raises(ValueError, match="k=40 must be between 1 and the number of latents \\(32\\)"):
        SparseDictionary(32, k=40, **FAST).fit(X)
    est = SparseDictionary(32, k=3, **FAST).fit(X)
    with pytest.raises(ValueError, match="X has 15 features, but SparseDictionary is expecting 16"):
        est.transform(X[:, :15])
    with pytest.raises(ValueError, match="has 12 features per row but this SparseDictionary was fitted on 16"):
        est.partial_fit(DeviceBatches((torch.zeros(10, 12),), torch.device("cpu")))
    with pytest.raises(ValueError, match="codes with n_components_=32 columns, got 31"):
        est.inverse_transform(np.zeros((2, 31)))
    with pytest.raises(ValueError, match="architecture"):
        SparseDictionary(architecture="gated").fit(X)


def test_default_width_is_eight_times_the_features(data):
    X, _ = data
    assert SparseDictionary(k=3, **FAST).fit(X[:256]).n_components_ == 128


@pytest.mark.parametrize("architecture,margin", [("topk", 0.3), ("batchtopk", 0.2)])
def test_learns_the_true_atoms_better_than_the_untrained_control(architecture, margin):
    # 64 random unit atoms in 32 dimensions, 3 active per row, 5 % noise: each true atom's best
    # cosine with the learned atoms (mean over atoms) against the same model at its initial weights
    X, atoms, _ = make_sparse_dictionary_data(8192, 32, 64, 3, noise=0.05, zipf=0.0, random_state=0)
    settings = dict(architecture=architecture, k=3, batch_size=256, max_epochs=8, learning_rate=3e-3,
                    warmup_steps=10, dead_tokens=2000, random_state=0)
    trained = SparseDictionary(128, **settings).fit(X)
    control = SparseDictionary(128, **{**settings, "max_epochs": 0}).fit(X)

    def recovery(est):
        return float(np.abs(atoms @ est.components_.T).max(axis=1).mean())

    assert recovery(trained) > recovery(control) + margin  # measured: topk 0.99 vs 0.47, batchtopk 0.83
    assert trained.score(X) > control.score(X) + 0.3


@pytest.mark.parametrize("name", list(SAE_OPTIONS))
def test_every_sae_option_reaches_the_module(name, monkeypatch):
    seen = {}
    original = SparseDictionaryModule.__init__

    def spy(self, n_features, n_latents, **kwargs):
        seen.update(kwargs)
        original(self, n_features, n_latents, **kwargs)

    monkeypatch.setattr(SparseDictionaryModule, "__init__", spy)
    example = SAE_OPTIONS[name].example
    extra = {"architecture": "matryoshka"} if name == "matryoshka_prefixes" else {}
    SparseDictionary(16, **{"k": 2, name: example, **extra}).build_module(8, torch.Generator().manual_seed(0))
    assert seen[name] == (tuple(example) if name == "matryoshka_prefixes" else example)


@pytest.mark.parametrize("name", list(TRAINING_OPTIONS))
def test_every_training_option_reaches_the_trainer(name):
    example = TRAINING_OPTIONS[name].example
    assert getattr(SparseDictionary(**{name: example}).make_trainer(0), name) == example

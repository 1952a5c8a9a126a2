"""The small interfaces other code relies on: the activation's inverse (the initial output bias),
the fitted first layer (filters_, filter_biases_), reconstruct, and the metrics' protocols."""

import numpy as np
import pytest
import torch

from aekit.autoencoders import (
    ACTIVATIONS,
    Autoencoder,
    AutoencoderModule,
    CodeActivation,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
)
from aekit.datasets import load_digits
from aekit.metrics import Reconstructor, TorchEncoder, evaluate

X = load_digits().X[:300]


# ------------------------------------------------------------ the activation's inverse
def test_inverse_of_the_named_activations():
    y = torch.tensor([0.0, 0.2, 0.5, 0.9, 1.0])
    torch.testing.assert_close(ACTIVATIONS["sigmoid"].inverse(y), torch.logit(y.clamp(1e-3, 1 - 1e-3)))
    assert ACTIVATIONS["linear"].inverse(y) is y and ACTIVATIONS["identity"].inverse(y) is y
    assert ACTIVATIONS["tanh"].inverse(y) is None and ACTIVATIONS["relu"].inverse(y) is None


@pytest.mark.parametrize("decoder, expected", [
    ("sigmoid", lambda m: torch.logit(m.clamp(1e-3, 1 - 1e-3))), ("linear", lambda m: m), ("tanh", torch.zeros_like),
])
def test_a_centred_module_starts_its_output_bias_at_the_inverse_of_the_mean(decoder, expected):
    mean = torch.from_numpy(X.mean(0))
    module = AutoencoderModule(64, 8, decoder_activation=decoder, input_offset=mean,
                               generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(module.decoder_biases[-1].detach(), expected(mean))


class HalfSigmoid(CodeActivation):
    """A custom activation with its own inverse: ``h = sigmoid(z) / 2``."""

    name = "half_sigmoid"
    output_range = (0.0, 0.5)

    def __call__(self, z):
        return torch.sigmoid(z) / 2

    def inverse(self, y):
        return torch.logit(2 * y)


def test_a_custom_activation_supplies_the_output_bias():
    mean = torch.full((64,), 0.2)
    module = AutoencoderModule(64, 8, decoder_activation=HalfSigmoid(), input_offset=mean,
                               generator=torch.Generator().manual_seed(0))
    # the untrained model's output bias alone reconstructs the mean
    torch.testing.assert_close(module.f_out(module.decoder_biases[-1].detach()), mean)


# ------------------------------------------------------------ the fitted first layer
@pytest.mark.parametrize("center", [False, True])
def test_filters_and_biases_give_the_first_layer_on_raw_inputs(center):
    ae = Autoencoder(16, center=center, max_epochs=2, random_state=0).fit(X)
    pre = X @ ae.filters_.T + ae.filter_biases_
    # sigmoid of the pre-activations is transform's code; float32 rounding of a 64-term sum
    np.testing.assert_allclose(1 / (1 + np.exp(-pre)), ae.transform(X), atol=1e-5)
    assert ae.filter_biases_.shape == (16,) and ae.filter_biases_.dtype == np.float32


def test_a_stack_shows_its_first_layer():
    stack = StackedAutoencoder([Autoencoder(16, max_epochs=1), Autoencoder(4, max_epochs=1)], random_state=0).fit(X)
    first = stack.module_.layers[0]
    np.testing.assert_array_equal(stack.filters_, first.first_layer_weights().detach().numpy())
    np.testing.assert_array_equal(stack.filter_biases_, first.encoder_biases[0].detach().numpy())


def test_reconstruct_is_the_models_output():
    ae = Autoencoder(16, encoder_activation="topk", k=3, k_alpha=2.0, max_epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(ae.reconstruct(X), ae.predict(X))
    # k-sparse: the output uses k units, transform ceil(alpha k), so the two reconstructions differ
    assert not np.allclose(ae.reconstruct(X), ae.inverse_transform(ae.transform(X)))


# ------------------------------------------------------------ the metrics' protocols
def test_the_autoencoder_family_implements_the_metrics_protocols():
    ae = Autoencoder(8, corruption="masking:0.25", max_epochs=1, random_state=0).fit(X)
    clf = StackedAutoencoderClassifier([Autoencoder(8, max_epochs=1)], max_epochs=1, head_max_epochs=1,
                                       random_state=0).fit(X, load_digits().y[:300])
    assert isinstance(ae, Reconstructor) and isinstance(ae, TorchEncoder)
    assert isinstance(clf, TorchEncoder) and not isinstance(clf, Reconstructor)


class PlainEncoder:
    """No aekit base class: a linear code and its transpose, implementing both protocols by hand."""

    def __init__(self, W):
        self.W = torch.as_tensor(W)

    def transform(self, X):
        return np.asarray(X, dtype=np.float32) @ self.W.numpy().T

    def reconstruct(self, X):
        return self.transform(X) @ self.W.numpy()

    def torch_encoder(self):
        return lambda x: x @ self.W.T

    def input_corruption(self):
        return "masking:0.5"


def test_evaluate_measures_any_model_that_implements_the_protocols():
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(64, 4)))[0].T.astype(np.float32)  # orthonormal rows
    out = evaluate(PlainEncoder(W), X, random_state=0)
    X_hat = (X @ W.T) @ W
    assert out["reconstruction_mse"] == pytest.approx(float(np.mean((X - X_hat) ** 2)), rel=1e-5)
    assert "denoising_mse" in out
    # a linear encoder's Jacobian is W, whose Frobenius norm is 2 (four orthonormal rows)
    assert out["mean_contraction"] == pytest.approx(2.0, rel=1e-5)

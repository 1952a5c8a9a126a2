"""Each parameter set is defined once and reaches the code that uses it.

The trainer's options (:data:`aekit.training.TRAINING_OPTIONS`) and the
autoencoder model's (:data:`aekit.autoencoders.MODEL_OPTIONS`) are dicts; the
estimators' signatures, constraints and docs are built from them. These tests
fail when an option is added to a dict but not handed on: every option's
example value, set on an estimator, must arrive in the Trainer it builds (or in
the module), under the same name.
"""

import inspect

import pytest
import torch

from aekit.autoencoders import (
    MODEL_OPTIONS,
    Autoencoder,
    AutoencoderModule,
    KSparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
)
from aekit.training import CHECKPOINT_OPTIONS, RUN_OPTIONS, TRAINING_OPTIONS, Trainer

STACKS = [StackedAutoencoder, StackedAutoencoderClassifier]


@pytest.mark.parametrize("name", list(TRAINING_OPTIONS))
@pytest.mark.parametrize("cls", [Autoencoder, KSparseAutoencoder, *STACKS], ids=lambda c: c.__name__)
def test_every_training_option_reaches_the_trainer(cls, name):
    example = TRAINING_OPTIONS[name].example
    est = cls(**{name: example})
    trainer = est.make_trainer(0)
    assert getattr(trainer, name) == example


@pytest.mark.parametrize("name", list(CHECKPOINT_OPTIONS))
def test_checkpoint_options_reach_the_trainer_of_an_autoencoder(name):
    example = CHECKPOINT_OPTIONS[name].example
    assert getattr(Autoencoder(**{name: example}).make_trainer(0), name) == example


@pytest.mark.parametrize("name", list(MODEL_OPTIONS))
def test_every_model_option_reaches_the_module(name, monkeypatch):
    seen = {}
    original = AutoencoderModule.__init__

    def spy(self, n_features, n_components, **kwargs):
        seen.update(kwargs)
        original(self, n_features, n_components, **kwargs)

    monkeypatch.setattr(AutoencoderModule, "__init__", spy)
    example = MODEL_OPTIONS[name].example
    extra = {}
    if name in ("k", "k_alpha", "k_start", "k_anneal"):  # the k-sparse code's options need its activation
        extra = {"encoder_activation": "topk", **({} if name == "k" else {"k": 2})}
    Autoencoder(12, **{name: example, **extra}).build_module(8, torch.Generator().manual_seed(0))
    expected = tuple(example) if name == "hidden_layer_sizes" else example
    assert seen[name] == expected


def test_signatures_docs_and_constraints_hold_every_option():
    trainer = inspect.signature(Trainer).parameters
    for options in (TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS):
        for name in options:
            assert name in trainer and f"    {name} : " in Trainer.__doc__
    for cls in (Autoencoder, KSparseAutoencoder):
        params = cls().get_params()
        for options in (MODEL_OPTIONS, TRAINING_OPTIONS, CHECKPOINT_OPTIONS, RUN_OPTIONS):
            assert set(options) <= set(params) and set(options) <= set(cls._parameter_constraints)
        assert all(f"    {name} : " in Autoencoder.__doc__ for name in MODEL_OPTIONS)
    for cls in STACKS:
        assert set(TRAINING_OPTIONS) <= set(cls().get_params()) and set(RUN_OPTIONS) <= set(cls().get_params())
    assert KSparseAutoencoder().get_params()["k"] == 25 and Autoencoder().get_params()["k"] is None  # preset defaults

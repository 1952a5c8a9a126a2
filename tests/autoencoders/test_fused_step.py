"""The autoencoder's hand-written training step against the generic autograd path.

Both paths compute the same step: in float32 they agree to a few units of
float32 rounding per step, accumulated over the steps compared; in bfloat16
they agree within bfloat16 rounding (2⁻⁸ relative), the same rounding the
generic path's autocast applies.
"""

import pytest
import torch

from aekit.autoencoders import AutoencoderModule
from aekit.training import Trainer

pytestmark = pytest.mark.numerics

EPS32 = torch.finfo(torch.float32).eps
EPS_BF16 = 2.0**-8

CONFIGS = {
    "plain sigmoid, cross-entropy": dict(loss="cross_entropy"),
    "deep, tanh hidden layers": dict(hidden_layer_sizes=(16, 10), hidden_activation="tanh", encoder_activation="linear"),
    "kl sparsity (running estimate)": dict(loss="cross_entropy", sparsity_weight=0.5, sparsity_target=0.1,
                                           sparsity_estimate="running"),
    "masking, emphasis, tied": dict(loss="cross_entropy", corruption="masking:0.3", corrupted_weight=2.0,
                                    tied_weights=True),
    "top-k, tied": dict(encoder_activation="topk", k=4, tied_weights=True),
    "contractive closed form": dict(loss="cross_entropy", contraction=0.1),
    "contractive hutchinson, deep": dict(contraction=0.1, contractive_method="hutchinson", hidden_layer_sizes=(16,),
                                         hidden_activation="tanh"),
    "contractive jacobian, softplus code": dict(contraction=0.1, contractive_method="jacobian",
                                                encoder_activation="softplus"),
    "weight and activity penalties, centered": dict(weight_decay=1e-3, l1_weights=1e-4, kurtosis_weight=0.1,
                                                    activity_l1=1e-3, decoder_activation="sigmoid"),
}


def _data(n=96, d=20, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed))


def _module(offset=None, **options):
    return AutoencoderModule(20, 12, generator=torch.Generator().manual_seed(0), input_offset=offset, **options)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fused_gradients_equal_autograd_on_one_batch(name):
    options = CONFIGS[name]
    x = _data()
    offset = x.mean(0) if "centered" in name else None
    generic, fused = _module(offset, **options), _module(offset, **options)
    generic.train(), fused.train()
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    terms = generic.loss_terms(x, generator=g1)
    sum(terms.values()).backward()
    step = fused.fused_step(torch.float32)
    assert step is not None
    fused_terms = step(x, generator=g2)
    assert list(fused_terms) == list(terms)
    for k in terms:
        assert fused_terms[k].item() == pytest.approx(terms[k].item(), rel=64 * EPS32, abs=64 * EPS32)
    for (name_, p), q in zip(generic.named_parameters(), fused.parameters()):
        # one step: a few float32 roundings of sums over the batch and the layer widths
        scale = p.grad.abs().max().item() + 1e-30
        assert (p.grad - q.grad).abs().max().item() <= 256 * EPS32 * scale, name_


def _fit(fused, precision, options, epochs=3):
    module = _module(**options)
    trainer = Trainer(batch_size=32, max_epochs=epochs, random_state=0, fused_step=fused, precision=precision,
                      learning_rate=1e-2)
    history = trainer.fit(module, _data())
    return module, history, trainer


@pytest.mark.parametrize("name", list(CONFIGS))
def test_training_with_the_fused_step_equals_the_generic_path(name):
    a, ha, ta = _fit(False, "float32", CONFIGS[name])
    b, hb, tb = _fit(True, "float32", CONFIGS[name])
    assert tb.fused_ and not ta.fused_
    assert hb[-1]["loss"] == pytest.approx(ha[-1]["loss"], rel=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        # 9 Adam steps: Adam normalises each update, so a rounding difference in a gradient moves a weight
        # by at most about lr x (relative difference); bound it by lr x 1e-3 per step
        assert (p - q).abs().max().item() <= 9 * 1e-2 * 1e-3


@pytest.mark.skipif(not __import__("aekit.training", fromlist=["x"]).bf16_supported(torch.device("cpu")),
                    reason="needs native bfloat16 (AVX512-BF16 or AMX)")
@pytest.mark.parametrize("name", ["plain sigmoid, cross-entropy", "masking, emphasis, tied", "top-k, tied"])
def test_bfloat16_fused_step_tracks_the_autocast_path(name):
    a, ha, _ = _fit(False, "bfloat16", CONFIGS[name], epochs=5)
    b, hb, tb = _fit(True, "bfloat16", CONFIGS[name], epochs=5)
    assert tb.fused_
    # both round the products' inputs to bfloat16; the loss curves agree within a few bfloat16 ulps
    for ra, rb in zip(ha, hb):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=8 * EPS_BF16)


def test_trainer_uses_the_fused_step_only_where_it_applies():
    x = _data()
    cases = {
        (True, False): True,   # (fused_step option, compile) -> fused
        (False, False): False,
    }
    for (option, compile_), expected in cases.items():
        trainer = Trainer(batch_size=32, max_epochs=1, random_state=0, fused_step=option, compile=compile_)
        trainer.fit(_module(), x)
        assert trainer.fused_ is expected
    # a hidden activation without a derivative: the generic path
    module = _module(hidden_layer_sizes=(8,), hidden_activation="gelu")
    assert module.fused_step(torch.float32) is None
    trainer = Trainer(batch_size=32, max_epochs=1, random_state=0)
    trainer.fit(module, x)
    assert not trainer.fused_

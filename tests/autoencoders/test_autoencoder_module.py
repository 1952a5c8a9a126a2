"""AutoencoderModule: structure, named loss terms, corruption, sparsity estimates, contraction paths."""

import pytest
import torch
import torch.nn.functional as F

from aekit.autoencoders import AutoencoderModule, TopK, contractive_jacobian, kl_sparsity
from aekit.autoencoders import make_corruption
from aekit.training._data import DeviceBatches

from _tolerance import rounding_bound, unit_roundoff


def _x(n=16, d=12, seed=0):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_and_mirrored_layers():
    m = AutoencoderModule(12, 5, hidden_layer_sizes=(9, 7), loss="cross_entropy", generator=_gen())
    x = _x()
    assert [tuple(w.shape) for w in m.encoder_weights] == [(9, 12), (7, 9), (5, 7)]
    assert [tuple(m.decoder_weight(i).shape) for i in range(3)] == [(7, 5), (9, 7), (12, 9)]
    h = m.encode(x)
    assert h.shape == (16, 5) and ((h > 0) & (h < 1)).all()
    y = m.reconstruct(x)
    assert y.shape == x.shape and ((y > 0) & (y < 1)).all()
    torch.testing.assert_close(m.decode(h), torch.sigmoid(m.decode_logits(h)))
    assert m.n_features == 12 and m.n_components == 5


def test_initialization_is_reproducible_from_the_generator():
    a = AutoencoderModule(12, 5, generator=_gen(3))
    b = AutoencoderModule(12, 5, generator=_gen(3))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    bound = 4 * (6 / 17) ** 0.5  # sigmoid gain 4 (Glorot uniform)
    assert a.encoder_weights[0].abs().max() <= bound


def test_plain_loss_terms_are_the_reconstruction_only():
    m = AutoencoderModule(12, 5, generator=_gen())
    x = _x()
    terms = m.loss_terms(x)
    assert list(terms) == ["reconstruction"]
    expected = 0.5 * (m.reconstruct(x) - x).square().sum() / x.shape[0]
    torch.testing.assert_close(terms["reconstruction"], expected)


def test_every_named_term_appears_when_its_coefficient_is_set():
    m = AutoencoderModule(
        12, 20, weight_decay=1e-3, l1_weights=1e-4, sparsity_weight=3.0, kurtosis_weight=0.1,
        activity_l1=0.01, contraction=0.1, corruption="masking:0.25", generator=_gen(),
    )
    terms = m.loss_terms(_x(), generator=_gen(1))
    assert set(terms) == {"reconstruction", "weight_decay", "l1_weights", "kl_sparsity", "kurtosis",
                          "l1_activations", "contractive"}
    assert all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    total = sum(terms.values())
    total.backward()
    assert all(p.grad is not None for p in m.parameters())


def test_corruption_only_in_training_mode_with_the_given_generator():
    m = AutoencoderModule(12, 5, loss="cross_entropy", corruption="masking:0.5", generator=_gen())
    x = _x()
    m.eval()
    clean = m.loss_terms(x, generator=_gen(1))["reconstruction"]
    torch.testing.assert_close(clean, m.reconstruction_loss(m.decode_logits(m.encode(x)), x))
    m.train()
    a = m.loss_terms(x, generator=_gen(1))["reconstruction"]
    b = m.loss_terms(x, generator=_gen(1))["reconstruction"]
    c = m.loss_terms(x, generator=_gen(2))["reconstruction"]
    assert a == b and a != c and a != clean
    # the corrupted input is reconstructed towards the *clean* target
    x_tilde, _ = make_corruption("masking:0.5")(x, _gen(1))
    expected = m.reconstruction_loss(m.decode_logits(m.encode(x_tilde)), x)
    torch.testing.assert_close(a, expected)


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
def test_module_emphasis_weights(loss):
    x = _x()
    kw = dict(loss=loss, corruption="masking:0.3", generator=_gen())
    plain = AutoencoderModule(12, 5, **kw)
    doubled = AutoencoderModule(12, 5, corrupted_weight=2.0, uncorrupted_weight=2.0, **kw)
    only = AutoencoderModule(12, 5, corrupted_weight=1.0, uncorrupted_weight=0.0, **kw)
    doubled.load_state_dict(plain.state_dict())
    only.load_state_dict(plain.state_dict())
    r = plain.loss_terms(x, generator=_gen(5))["reconstruction"]
    torch.testing.assert_close(doubled.loss_terms(x, generator=_gen(5))["reconstruction"], 2 * r)
    assert only.loss_terms(x, generator=_gen(5))["reconstruction"] < r


def test_full_sparsity_estimate_value_and_lecture_gradient():
    rho0, beta = 0.05, 3.0
    m = AutoencoderModule(12, 6, sparsity_weight=beta, sparsity_target=rho0, sparsity_estimate="full",
                          generator=_gen()).double()
    X = _x(40).double()
    m.on_epoch_start(0, 10, X)
    with torch.no_grad():
        rho_full = torch.sigmoid(F.linear(X, m.encoder_weights[0], m.encoder_biases[0])).mean(0)
    torch.testing.assert_close(m.rho_hat, rho_full)
    batch = X[:8]
    term = m.loss_terms(batch)["kl_sparsity"]
    torch.testing.assert_close(term, beta * kl_sparsity(rho_full, rho0))
    (g,) = torch.autograd.grad(term, m.encoder_biases[0])
    h = torch.sigmoid(F.linear(batch, m.encoder_weights[0], m.encoder_biases[0])).detach()
    lecture = beta * (-rho0 / rho_full + (1 - rho0) / (1 - rho_full))  # dS/dρ̂ⱼ at the full-data ρ̂
    torch.testing.assert_close(g, lecture * (h * (1 - h)).mean(0))


def test_running_sparsity_estimate_updates_only_while_training():
    m = AutoencoderModule(12, 6, sparsity_weight=1.0, sparsity_estimate="running", sparsity_momentum=0.75,
                          generator=_gen())
    a, b = _x(8, seed=1), _x(8, seed=2)
    with torch.no_grad():
        ha, hb = m.encode(a).mean(0), m.encode(b).mean(0)
    m.train()
    m.loss_terms(a)
    torch.testing.assert_close(m.rho_hat, ha)  # the first batch initializes the average
    m.loss_terms(b)
    torch.testing.assert_close(m.rho_hat, 0.75 * ha + 0.25 * hb)
    m.eval()
    before = m.rho_hat.clone()
    m.loss_terms(a)
    torch.testing.assert_close(m.rho_hat, before)
    assert "rho_hat" in m.state_dict()


def test_batch_sparsity_estimate_is_the_batch_mean():
    m = AutoencoderModule(12, 6, sparsity_weight=2.0, generator=_gen())
    x = _x()
    rho = m.encode(x).mean(0)
    torch.testing.assert_close(m.loss_terms(x)["kl_sparsity"], 2.0 * kl_sparsity(rho, 0.05))


def test_kl_refuses_activations_outside_the_unit_interval():
    for act in ("tanh", "relu", "linear", TopK(2)):
        with pytest.raises(ValueError, match="KL sparsity needs encoder activations in \\(0, 1\\)"):
            AutoencoderModule(12, 6, encoder_activation=act, sparsity_weight=1.0)
    with pytest.raises(ValueError, match="range unknown"):
        AutoencoderModule(12, 6, encoder_activation=lambda a: torch.sigmoid(a), sparsity_weight=1.0)

    def squash(a):
        return torch.sigmoid(2 * a)

    squash.output_range = (0.0, 1.0)
    AutoencoderModule(12, 6, encoder_activation=squash, sparsity_weight=1.0)  # declared range is accepted


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="'encoder_activation' parameter of AutoencoderModule must be a str among.*'tanh'.*Got 'sigmod'"):
        AutoencoderModule(12, 6, encoder_activation="sigmod")
    with pytest.raises(ValueError, match="'loss' parameter of AutoencoderModule must be a str among.*'cross_entropy'.*Got 'mse'"):
        AutoencoderModule(12, 6, loss="mse")
    with pytest.raises(ValueError, match="'sparsity_estimate' parameter of AutoencoderModule"):
        AutoencoderModule(12, 6, sparsity_estimate="epoch")
    with pytest.raises(TypeError, match="unknown settings \\['sparsity'\\]"):
        AutoencoderModule(12, 6, sparsity=0.1)
    with pytest.raises(ValueError, match="cross_entropy' needs a sigmoid decoder"):
        AutoencoderModule(12, 6, loss="cross_entropy", decoder_activation="relu")
    with pytest.raises(ValueError, match="closed_form' needs a single encoder layer"):
        AutoencoderModule(12, 6, hidden_layer_sizes=(8,), contraction=0.1, contractive_method="closed_form")


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "linear"])
def test_contractive_closed_form_matches_the_generic_path(act):
    kw = dict(encoder_activation=act, contraction=1.0, generator=_gen())
    auto = AutoencoderModule(12, 30, **kw).double()
    generic = AutoencoderModule(12, 30, contractive_method="jacobian", **kw).double()
    generic.load_state_dict(auto.state_dict())
    x = _x().double()
    a, g = auto.loss_terms(x)["contractive"], generic.loss_terms(x)["contractive"]
    # both sum the 12 x 30 squared Jacobian entries of every row (non-negative terms: the bound is
    # relative); each entry f'(w_j . x) w_ji is a length-12 dot product away from exact
    assert a.item() == pytest.approx(g.item(), rel=rounding_bound(torch.float64, 12 * 30 + 12))


def test_contractive_generic_path_for_deep_and_topk_encoders():
    x = _x(6)
    deep = AutoencoderModule(12, 5, hidden_layer_sizes=(8,), encoder_activation="tanh", contraction=1.0,
                             generator=_gen())
    ref = sum(torch.autograd.functional.jacobian(deep.encode, xs).square().sum()
              for xs in x) / 6
    # float32: the squared norm sums 12 x 5 entries, each a sum over the 8 hidden units of products along
    # the two layers (whose pre-activations are dot products of length 12 and 8)
    rel = rounding_bound(torch.float32, 12 * 5 + 8 + 12 + 8)
    assert deep.loss_terms(x)["contractive"].item() == pytest.approx(ref.item(), rel=rel)
    k = AutoencoderModule(12, 10, encoder_activation=TopK(3), contraction=1.0, generator=_gen())
    z = F.linear(x, k.encoder_weights[0], k.encoder_biases[0])
    kept = torch.zeros_like(z, dtype=torch.bool).scatter(1, z.topk(3, dim=1).indices, True)
    row_norms = k.encoder_weights[0].detach().square().sum(1)  # J = diag(mask) W
    expected = (kept.float() @ row_norms).mean()
    rel = rounding_bound(torch.float32, 12 * 10)  # 10 units' squared row norms of length 12, summed
    assert k.loss_terms(x)["contractive"].item() == pytest.approx(expected.item(), rel=rel)
    assert contractive_jacobian(k.encode, x).item() == pytest.approx(expected.item(), rel=rel)


def test_tied_weights_share_one_parameter_through_an_optimizer_step():
    m = AutoencoderModule(12, 6, tied_weights=True, generator=_gen())
    assert len(m.decoder_weights) == 0 and len(list(m.parameters())) == 3
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    before = m.encoder_weights[0].detach().clone()
    sum(m.loss_terms(_x()).values()).backward()
    opt.step()
    W = m.encoder_weights[0]
    assert not torch.equal(W, before)
    assert m.decoder_weight(0).data_ptr() == W.data_ptr()
    h = torch.rand(4, 6)
    torch.testing.assert_close(m.decode_logits(h), h @ W.detach() + m.decoder_biases[0].detach())


def test_epoch_metrics_report_reconstruction_activation_and_dead_units():
    m = AutoencoderModule(12, 10, encoder_activation=TopK(2), tied_weights=True, generator=_gen())
    with torch.no_grad():
        m.encoder_biases[0][3] = -1e3  # unit 3 can never be among the top 2
    x = _x(50)
    metrics = m.epoch_metrics(DeviceBatches((x,), x.device))
    assert set(metrics) == {"reconstruction_error", "mean_activation", "dead_units"}
    assert metrics["dead_units"] >= 0.1
    # the same non-negative sums over 50 rows of 12 pixels (10 units), summed per batch or at once
    rel = rounding_bound(torch.float32, 50 * 12)
    assert metrics["reconstruction_error"] == pytest.approx(m.loss_terms(x)["reconstruction"].item(), rel=rel)
    h = m.encode(x)
    assert metrics["mean_activation"] == pytest.approx(h.mean().item(), rel=rel)


@pytest.mark.numerics
def test_bfloat16_autocast_stays_close_to_float32():
    m = AutoencoderModule(12, 20, loss="cross_entropy", sparsity_weight=3.0, contraction=0.1, generator=_gen())
    x = _x(64)
    full = m.loss_terms(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = m.loss_terms(x)
    # Autocast rounds both operands of the encoder's and the decoder's matmul to bfloat16 (relative error
    # u = 2**-8 each, 2u per product; float32 accumulation); the loss terms depend on those products with
    # a relative condition number below 2 (sigmoid cross-entropy, KL of sigmoid means, squared sigmoid
    # derivatives): 2 layers x 2u x 2. Measured: under 0.15 u over five seeds.
    rel = 2 * 2 * 2 * unit_roundoff(torch.bfloat16)
    for name, value in full.items():
        assert fast[name].dtype == torch.float32
        assert fast[name].item() == pytest.approx(value.item(), rel=rel), name


def test_labels_in_the_batch_are_ignored():
    m = AutoencoderModule(12, 5, generator=_gen())
    x = _x()
    torch.testing.assert_close(m(x, torch.arange(16))["reconstruction"], m(x)["reconstruction"])


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
def test_input_offset_centers_the_encoder_and_starts_from_the_mean(loss):
    x = _x(20)
    mean = x.mean(0)
    centered = AutoencoderModule(12, 6, loss=loss, input_offset=mean, generator=_gen(4))
    plain = AutoencoderModule(12, 6, loss=loss, generator=_gen(4))
    torch.testing.assert_close(centered.encode(x), plain.encode(x - mean))
    bias = centered.decoder_biases[-1].detach()
    if loss == "squared_error":
        torch.testing.assert_close(bias, mean)
    else:
        torch.testing.assert_close(torch.sigmoid(bias), mean.clamp(1e-3, 1 - 1e-3))
    assert "input_offset" in centered.state_dict()
    with pytest.raises(ValueError, match="input_offset must have shape \\(12,\\)"):
        AutoencoderModule(12, 6, input_offset=torch.zeros(5))

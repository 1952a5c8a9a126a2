"""k-sparse selection: exactly k non-zeros, gradients only through kept units, the k schedule."""

import math

import pytest
import torch
import torch.nn.functional as F

from aekit.autoencoders import AutoencoderModule, TopK, k_schedule, topk, topk_mask


def test_topk_keeps_exactly_the_k_largest_per_row():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(50, 40, generator=g)
    h = topk(z, 7)
    assert h.shape == z.shape
    assert (h.ne(0).sum(dim=1) == 7).all()
    kept = topk_mask(z, 7)
    torch.testing.assert_close(h, torch.where(kept, z, torch.zeros_like(z)), rtol=0, atol=0)
    # every kept value is at least as large as every dropped one, row by row
    assert (z.masked_fill(~kept, math.inf).amin(1) >= z.masked_fill(kept, -math.inf).amax(1)).all()


def test_topk_hand_case_keeps_negative_values_when_they_are_largest():
    z = torch.tensor([[3.0, -1.0, 2.0, 0.5], [-4.0, -1.0, -2.0, -3.0]])
    expected = torch.tensor([[3.0, 0.0, 2.0, 0.0], [0.0, -1.0, -2.0, 0.0]])
    torch.testing.assert_close(topk(z, 2), expected, rtol=0, atol=0)


def test_gradients_reach_only_the_kept_units():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 10, generator=g)
    W = torch.randn(20, 10, generator=g, requires_grad=True)
    z = F.linear(x, W)
    z.retain_grad()
    h = topk(z, 3)
    (h * torch.randn(6, 20, generator=g)).sum().backward()
    kept = topk_mask(z.detach(), 3)
    assert (z.grad[~kept] == 0).all() and (z.grad[kept] != 0).all()
    # the weight rows of units never selected for any sample receive no gradient
    never = ~kept.any(dim=0)
    assert never.any()
    assert (W.grad[never] == 0).all() and (W.grad[~never].abs().sum(1) > 0).all()


def test_topk_rejects_k_larger_than_width():
    with pytest.raises(ValueError, match="k=11 must be between 1 and the number of hidden units \\(10\\)"):
        topk(torch.zeros(2, 10), 11)
    with pytest.raises(ValueError, match="k=30 must be between 1"):
        AutoencoderModule(5, 20, encoder_activation=TopK(30))
    with pytest.raises(ValueError, match="positive integer"):
        TopK(0)
    with pytest.raises(ValueError, match="alpha must be >= 1"):
        TopK(3, alpha=0.5)


def test_topk_activation_uses_alpha_k_for_features():
    act = TopK(5, alpha=3)
    z = torch.randn(8, 40, generator=torch.Generator().manual_seed(2))
    assert (act(z).ne(0).sum(1) == 5).all()
    assert (act.extract(z).ne(0).sum(1) == 15).all()
    assert (TopK(5, alpha=10).extract(z).ne(0).sum(1) == 40).all()  # capped at the width
    assert (TopK(4, alpha=1.3).extract(z).ne(0).sum(1) == math.ceil(5.2)).all()


def test_module_encode_k_while_training_alpha_k_at_feature_extraction():
    m = AutoencoderModule(12, 30, encoder_activation=TopK(4, alpha=2.5), tied_weights=True)
    x = torch.rand(9, 12, generator=torch.Generator().manual_seed(3))
    for mode in (m.train, m.eval):  # the two codes do not depend on the module's mode
        mode()
        assert (m.encode(x).ne(0).sum(1) == 4).all()
        assert (m.features(x).ne(0).sum(1) == 10).all()
    # reconstructions use the training-time code
    torch.testing.assert_close(m.reconstruct(x), m.decode(m.encode(x)))


def test_k_schedule_anneals_linearly_then_holds():
    ks = [k_schedule(e, 10, 25, 100, 0.5) for e in range(10)]
    assert ks == [100, 85, 70, 55, 40, 25, 25, 25, 25, 25]
    assert [k_schedule(e, 4, 25, 100, 1.0) for e in range(4)] == [100, 75, 50, 25]  # last epoch trains with k
    assert [k_schedule(e, 3, 5, 20, 0.0) for e in range(3)] == [5, 5, 5]
    assert k_schedule(0, 1, 5, 20, 0.5) == 5


def test_module_epoch_hook_drives_the_schedule():
    act = TopK(3, k_start=12, anneal_fraction=0.5)
    m = AutoencoderModule(10, 16, encoder_activation=act, tied_weights=True)
    x = torch.rand(5, 10)
    seen = []
    for epoch in range(6):
        m.on_epoch_start(epoch, 6, x)
        m.train()
        seen.append(int(m.encode(x).ne(0).sum(1)[0]))
    assert seen == [12, 9, 6, 3, 3, 3]

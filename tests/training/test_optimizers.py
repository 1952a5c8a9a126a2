"""The trainer's optimizers: the direct fused-Adam call is torch's fused Adam, bit for bit."""

import copy

import pytest
import torch
from torch import nn

from aekit.training._optimizers import Adam


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def _steps(opt, net, n=5):
    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        opt.zero_grad()
        net(torch.randn(8, 6, generator=g)).pow(2).mean().backward()
        opt.step()


@pytest.mark.numerics
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_direct_fused_adam_is_torchs_fused_adam_bit_for_bit(weight_decay):
    a, b = _net(), _net()
    ours = Adam(a.parameters(), lr=3e-2, betas=(0.8, 0.99), weight_decay=weight_decay, fused=True)
    torchs = torch.optim.Adam(b.parameters(), lr=3e-2, betas=(0.8, 0.99), weight_decay=weight_decay, fused=True)
    _steps(ours, a)
    _steps(torchs, b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    # the same state layout: torch's Adam and ours load each other's state_dict and continue identically
    # (deep copies: load_state_dict keeps tensors that need no conversion, which would share the state)
    a2, b2 = copy.deepcopy(a), copy.deepcopy(b)
    ours2, torchs2 = torch.optim.Adam(a2.parameters(), fused=True), Adam(b2.parameters(), fused=True)
    ours2.load_state_dict(copy.deepcopy(ours.state_dict()))
    torchs2.load_state_dict(copy.deepcopy(torchs.state_dict()))
    ours, torchs, a, b = torchs2, ours2, b2, a2
    _steps(ours, a, 2)
    _steps(torchs, b, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_groups_it_cannot_call_directly_go_through_torchs_step():
    a, b = _net(), _net()
    ours = Adam(a.parameters(), lr=1e-2, amsgrad=True, fused=True)
    torchs = torch.optim.Adam(b.parameters(), lr=1e-2, amsgrad=True, fused=True)
    _steps(ours, a)
    _steps(torchs, b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)

"""Layers by path, capture with and without stopping, output replacement."""

import pytest
import torch

from aekit.harvest import FunctionModule, LayerNotFoundError, find_module, replace_output, run_to


def test_find_module_by_dotted_path(llama):
    assert find_module(llama, "model.layers.1") is llama.model.layers[1]
    assert find_module(llama, "model.layers.1.mlp") is llama.model.layers[1].mlp
    assert find_module(llama, "") is llama


@pytest.mark.parametrize("path, close, children", [
    ("model.layer.1", "model.layers.1", "model.embed_tokens"),      # a typo: the right name is offered
    ("model.layers.7", "model.layers.2", "model.layers.0, model.layers.1, model.layers.2"),  # out of range
    ("model.layers.1.mlpp", "model.layers.1.mlp", "model.layers.1.self_attn"),
])
def test_bad_path_lists_nearby_names(llama, path, close, children):
    with pytest.raises(LayerNotFoundError) as info:
        find_module(llama, path)
    message = str(info.value)
    assert repr(path) in message and close in message and children in message
    assert isinstance(info.value, KeyError)


def test_run_to_equals_the_hidden_state_and_stopping_changes_nothing(llama):
    ids = torch.randint(3, 64, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = llama(ids, output_hidden_states=True).hidden_states
        stopped = run_to(llama, "model.layers.1", lambda: llama(ids))
        full = run_to(llama, "model.layers.1", lambda: llama(ids), stop=False)
    # hidden_states[i + 1] is the output of block i (before the final norm, for i < last)
    torch.testing.assert_close(stopped, hidden[2], rtol=0, atol=0)
    torch.testing.assert_close(full, hidden[2], rtol=0, atol=0)


def test_stop_skips_every_later_module(llama):
    hooks_before = dict(llama.model.layers[1]._forward_hooks)  # transformers keeps hooks of its own there
    calls = []
    handles = [m.register_forward_pre_hook(lambda mod, args, name=name: calls.append(name))
               for name, m in [("layer2", llama.model.layers[2]), ("norm", llama.model.norm), ("head", llama.lm_head)]]
    try:
        with torch.no_grad():
            run_to(llama, "model.layers.1", lambda: llama(torch.ones(1, 4, dtype=torch.long)))
            assert calls == []
            run_to(llama, "model.layers.1", lambda: llama(torch.ones(1, 4, dtype=torch.long)), stop=False)
            assert calls == ["layer2", "norm", "head"]
    finally:
        for h in handles:
            h.remove()
    assert dict(llama.model.layers[1]._forward_hooks) == hooks_before  # the capturing hook is gone


class _Pair(torch.nn.Module):
    def forward(self, x):
        return x * 2, x + 1


def test_tuple_outputs_contribute_their_first_element():
    net = torch.nn.Sequential(_Pair())
    x = torch.arange(6.0).reshape(2, 3)
    torch.testing.assert_close(run_to(net, "0", lambda: net[0](x)), x * 2)
    with replace_output(net, "0", lambda h: h * 0):
        first, second = net[0](x)
    torch.testing.assert_close(first, torch.zeros_like(x))
    torch.testing.assert_close(second, x + 1)  # the rest of the tuple is kept


def test_replace_output_changes_the_result_only_inside_the_block(llama):
    ids = torch.randint(3, 64, (1, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        clean = llama(ids).logits
        with replace_output(llama, "model.layers.1", lambda h: h):
            same = llama(ids).logits
        with replace_output(llama, "model.layers.1", torch.zeros_like):
            zero = llama(ids).logits
        after = llama(ids).logits
    torch.testing.assert_close(same, clean, rtol=0, atol=0)
    assert not torch.allclose(zero, clean)
    torch.testing.assert_close(after, clean, rtol=0, atol=0)


def test_a_layer_the_forward_never_reaches_is_an_error():
    net = torch.nn.ModuleDict({"used": torch.nn.Linear(2, 2), "unused": torch.nn.Linear(2, 2)})
    with pytest.raises(RuntimeError, match="never reached 'unused'"):
        run_to(net, "unused", lambda: net["used"](torch.ones(1, 2)))


def test_function_module_exposes_a_function_and_its_owner():
    lin = torch.nn.Linear(3, 2)
    fm = FunctionModule(lambda x: torch.relu(lin(x)), lin)
    x = torch.randn(4, 3)
    torch.testing.assert_close(run_to(fm, "", lambda: fm(x)), torch.relu(lin(x)))
    assert next(fm.parameters()) is lin.weight


def test_compiled_blocks_compute_the_same_outputs(tmp_path):
    import shutil

    from _tiny import tiny_llama

    if not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        pytest.skip("torch.compile on the CPU needs a C++ compiler")

    from aekit.harvest import compile_blocks

    llama = tiny_llama(layers=2)
    ids = torch.randint(3, 64, (2, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eager = run_to(llama, "model.layers.1", lambda: llama(ids))
        compile_blocks(llama)
        compiled = run_to(llama, "model.layers.1", lambda: llama(ids))
    # fused float32 loops reorder a few sums: agreement to float32 rounding at this scale
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Llama-style blocks"):
        compile_blocks(torch.nn.Sequential(torch.nn.ModuleList([torch.nn.Linear(2, 2)])), "0")

"""Submodules by dotted path, and forward hooks that capture, stop at or replace a layer's output.

A layer is named by its path in ``model.named_modules()``: ``"model.layers.15"``
is the residual stream after block 15 of a Llama (its output),
``"model.layers.15.mlp"`` the MLP's output, ``"model.layers.15.self_attn"``
the attention's. A module that returns a tuple (older transformers' decoder
layers, attention modules) contributes its first element.

Stopping at the hooked layer: the capturing hook raises a private exception
once it has the output, and :func:`run_to` catches it, so nothing after the
layer runs (the later blocks and the language-model head are skipped).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable

import torch

__all__ = ["FunctionModule", "LayerNotFoundError", "find_module", "first_output", "run_to", "replace_output"]


class LayerNotFoundError(KeyError):
    """A layer path that names no submodule; the message lists the nearby names."""

    def __str__(self) -> str:
        return str(self.args[0])


class _Stop(Exception):
    """Raised by the capturing hook to end the forward pass at the hooked layer."""


def find_module(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """The submodule of ``model`` at dotted ``path`` (``""`` is ``model`` itself).

    A path that does not exist raises :class:`LayerNotFoundError` (a KeyError) listing the closest existing
    names (by :func:`difflib.get_close_matches`) and the children of the
    longest prefix that does exist.
    """
    if not isinstance(path, str):
        raise TypeError(f"layer must be a dotted module path such as 'model.layers.15', got {type(path).__name__}.")
    modules = dict(model.named_modules())
    if path in modules:
        return modules[path]
    parts = path.split(".")
    prefix = next((".".join(parts[:i]) for i in range(len(parts) - 1, -1, -1) if ".".join(parts[:i]) in modules), "")
    children = [f"{prefix}.{n}" if prefix else n for n, _ in modules[prefix].named_children()]
    close = difflib.get_close_matches(path, [n for n in modules if n], n=6, cutoff=0.6)
    lines = [f"{type(model).__name__} has no submodule {path!r}."]
    if close:
        lines.append(f"Closest names: {', '.join(close)}.")
    if children:
        shown = children if len(children) <= 12 else [*children[:6], "...", *children[-3:]]
        lines.append(f"Children of {prefix or 'the model'!r}: {', '.join(shown)}.")
    raise LayerNotFoundError(" ".join(lines))


def first_output(output):
    """The tensor a hook sees as a module's output: the output itself, or the first element of a tuple."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"the hooked module returned {type(output).__name__}, not a tensor or a tuple starting with one.")
    return output


def run_to(model: torch.nn.Module, path: str, forward: Callable[[], object], *, stop: bool = True) -> torch.Tensor:
    """Run ``forward()`` (a call of ``model``) and return the output of the submodule at ``path``.

    Parameters
    ----------
    model : torch.nn.Module
        The network whose submodule is hooked.
    path : str
        Dotted path of the submodule (see :func:`find_module`).
    forward : callable
        Runs the forward pass, e.g. ``lambda: model(input_ids=ids)``.
    stop : bool
        End the forward pass right after the hooked module (default): later
        layers do not run, and ``forward``'s own result is discarded.

    Returns
    -------
    Tensor
        The hooked module's output (first element of a tuple), e.g. (B, T, d)
        for a transformer block.
    """
    module = find_module(model, path)
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        captured.append(first_output(output))
        if stop:
            raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        forward()
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"the forward pass never reached {path!r}; is it a module the model calls?")
    return captured[0]


@contextlib.contextmanager
def replace_output(model: torch.nn.Module, path: str, replace: Callable[[torch.Tensor], torch.Tensor]):
    """Within the block, the submodule at ``path`` outputs ``replace(output)`` instead of its output.

    ``replace`` maps the output tensor (the first element of a tuple output,
    the rest kept) to a tensor of the same shape and dtype.
    """
    module = find_module(model, path)

    def hook(_module, _inputs, output):
        new = replace(first_output(output))
        if isinstance(output, tuple):
            return (new, *output[1:])
        if isinstance(output, list):
            return [new, *output[1:]]
        return new

    handle = module.register_forward_hook(hook)
    try:
        yield module
    finally:
        handle.remove()


class FunctionModule(torch.nn.Module):
    """A torch function as a module, so that its output can be harvested (layer ``""``).

    Parameters
    ----------
    fn : callable
        ``x -> activations``, e.g. a fitted autoencoder's ``torch_encoder()``.
    owner : torch.nn.Module, optional
        The module holding ``fn``'s parameters, registered as a child so that
        the device, the dtype and the fingerprint of the weights are found.
    """

    def __init__(self, fn, owner: torch.nn.Module | None = None):
        super().__init__()
        self.fn = fn
        self.owner = owner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

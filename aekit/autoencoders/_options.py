"""The autoencoder model's settings, each defined once.

:class:`~aekit.autoencoders.AutoencoderModule` takes every option of
:data:`MODEL_OPTIONS`; the estimators (:class:`~aekit.autoencoders.Autoencoder`
and its presets) take the same options, plus ``n_components``, ``center`` and
the trainer's options (:data:`aekit.training.TRAINING_OPTIONS`), and hand them on
unchanged. Signatures, constraints and the Parameters sections of the
docstrings are built from these dicts (:mod:`aekit._params`).
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from aekit._params import Option
from aekit.autoencoders._activations import ACTIVATIONS

__all__ = ["MODEL_OPTIONS", "ESTIMATOR_OPTIONS", "LOSSES", "SPARSITY_ESTIMATES", "CONTRACTIVE_METHODS"]

LOSSES = ("squared_error", "cross_entropy")
SPARSITY_ESTIMATES = ("batch", "running", "full")
CONTRACTIVE_METHODS = ("auto", "closed_form", "hutchinson", "jacobian")
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]

MODEL_OPTIONS: dict[str, Option] = {
    "hidden_layer_sizes": Option(
        (), ["array-like"], "tuple of int",
        "Sizes of extra encoder layers before the code, mirrored in the decoder.", (5,),
    ),
    "encoder_activation": Option(
        "sigmoid", [StrOptions({*ACTIVATIONS, "topk"}), callable], "str, callable or CodeActivation",
        "Code-layer activation: a name of :data:`~aekit.autoencoders.ACTIVATIONS`, ``\"topk\"`` (the k-sparse\n"
        "code: linear followed by the selection of the ``k`` largest units), a callable, or a\n"
        ":class:`~aekit.autoencoders.CodeActivation`, whose auxiliary loss terms join the model's.", "tanh",
    ),
    "hidden_activation": Option(
        "sigmoid", [StrOptions(set(ACTIVATIONS)), callable], "str or callable",
        "Activation of the extra hidden layers (encoder and decoder).", "relu",
    ),
    "decoder_activation": Option(
        None, [StrOptions(set(ACTIVATIONS)), callable, None], "str, callable or None",
        "Output activation; None: linear for squared error, the sigmoid for cross-entropy (the only\n"
        "output that loss accepts; applied inside the loss from the logits, numerically stable).", "sigmoid",
    ),
    "loss": Option(
        "squared_error", [StrOptions(set(LOSSES))], "{'squared_error', 'cross_entropy'}",
        "Reconstruction loss per sample, summed over the features: ``½‖y − x‖²`` or the Bernoulli\n"
        "cross-entropy (inputs in [0, 1]).", "cross_entropy",
    ),
    "tied_weights": Option(
        False, ["boolean"], "bool", "Decoder weights are the encoder's, transposed (one Parameter each).", True,
    ),
    "weight_decay": Option(0.0, _NON_NEGATIVE, "float", "λ_wd of ``½ Σ W²`` over all weight matrices.", 1e-4),
    "l1_weights": Option(0.0, _NON_NEGATIVE, "float", "λ₁ of ``Σ |W|`` over all weight matrices.", 1e-5),
    "sparsity_weight": Option(
        0.0, _NON_NEGATIVE, "float",
        "β of the KL average-activation penalty ``β Σⱼ KL(ρ₀ ‖ ρ̂ⱼ)`` (code activations in (0, 1) only).", 3.0,
    ),
    "sparsity_target": Option(0.05, [Interval(Real, 0, 1, closed="neither")], "float in (0, 1)", "ρ₀.", 0.1),
    "sparsity_estimate": Option(
        "batch", [StrOptions(set(SPARSITY_ESTIMATES))], "{'batch', 'running', 'full'}",
        "How ρ̂ (the units' average activation over the training set) is estimated. ``\"batch\"``: the\n"
        "minibatch mean (exact gradient of the batch penalty, but a noisy estimate, biased upwards since\n"
        "KL is convex in ρ̂, worse for small batches). ``\"running\"``: the exponential average\n"
        "``ρ̂ ← μ ρ̂ + (1 − μ) ρ̂_batch`` (``sparsity_momentum`` μ), kept in the buffer ``rho_hat``.\n"
        "``\"full\"``: ρ̂ over the whole clean training set at each epoch start (the lecture's definition,\n"
        "stale by up to an epoch). For the last two the penalty is evaluated at the estimate while its\n"
        "gradient flows through the batch (``ρ̂_used = ρ̂_est + (ρ̂_batch − sg(ρ̂_batch))``), the lecture's\n"
        "backpropagation rule.", "running",
    ),
    "sparsity_momentum": Option(
        0.9, [Interval(Real, 0, 1, closed="left")], "float in [0, 1)", "μ of the running estimate.", 0.5,
    ),
    "kurtosis_weight": Option(
        0.0, _NON_NEGATIVE, "float", "λ_κ of ``−log kurt(h)`` (:func:`~aekit.autoencoders.kurtosis_penalty`).", 0.1,
    ),
    "activity_l1": Option(0.0, _NON_NEGATIVE, "float", "λ_a of the L1 penalty on the codes.", 0.01),
    "k": Option(
        None, [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Units kept per sample with ``encoder_activation=\"topk\"``.", 3,
    ),
    "k_alpha": Option(
        1.0, [Interval(Real, 1, None, closed="left")], "float",
        "The feature form (``transform``) keeps ``ceil(k_alpha · k)`` units (α >= 1, Makhzani & Frey).", 2.0,
    ),
    "k_start": Option(
        None, [Interval(Integral, 1, None, closed="left"), None], "int or None",
        "Units kept in the first epoch (None: ``4 k``), annealed linearly to ``k``.", 10,
    ),
    "k_anneal": Option(
        0.5, [Interval(Real, 0, 1, closed="both")], "float in [0, 1]",
        "Fraction of ``max_epochs`` over which k anneals.", 0.25,
    ),
    "contraction": Option(0.0, _NON_NEGATIVE, "float", "λ_c of the contractive penalty ``‖J_f(x)‖²_F``.", 0.1),
    "contractive_method": Option(
        "auto", [StrOptions(set(CONTRACTIVE_METHODS))], "{'auto', 'closed_form', 'hutchinson', 'jacobian'}",
        "``\"closed_form\"`` needs one encoder layer with an elementwise activation whose derivative is a\n"
        "function of its output (sigmoid: ``Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wⱼᵢ²``; also tanh, ReLU, linear);\n"
        "``\"hutchinson\"`` is an unbiased estimate for any encoder, ``‖J‖²_F = E ‖J v‖²`` with\n"
        "``v ~ N(0, I)`` over ``contractive_projections`` random directions per batch (Jacobian-vector\n"
        "products); ``\"jacobian\"`` is exact for any encoder (``min(d, m)`` products per sample);\n"
        "``\"auto\"`` takes the closed form where it exists, else the exact Jacobian.", "jacobian",
    ),
    "contractive_projections": Option(
        4, [Interval(Integral, 1, None, closed="left")], "int",
        "Random directions per batch of ``contractive_method=\"hutchinson\"``.", 8,
    ),
    "corruption": Option(
        None, [str, callable, None], "str, callable or None",
        "Denoising: a spec of :func:`~aekit.autoencoders.make_corruption` (``\"masking:0.25\"``,\n"
        "``\"gaussian:0.3\"``, ``\"salt_and_pepper:0.1\"``) or a callable ``(x, generator) -> (x_tilde, mask)``;\n"
        "applied while training only, with the trainer's generator.", "masking:0.25",
    ),
    "corrupted_weight": Option(
        1.0, _NON_NEGATIVE, "float", "Emphasis α of the loss on corrupted dimensions (Vincent et al. 2010, §4.3).", 2.0,
    ),
    "uncorrupted_weight": Option(1.0, _NON_NEGATIVE, "float", "Emphasis β on the other dimensions.", 0.5),
}

#: What an estimator adds to the model's options: the code size and the data-dependent offset.
ESTIMATOR_OPTIONS: dict[str, Option] = {
    "n_components": Option(
        100, [Interval(Integral, 1, None, closed="left")], "int",
        "Code size ``m``; larger than ``n_features`` gives an overcomplete code.", 12,
    ),
    "center": Option(
        False, ["boolean"], "bool",
        "Subtract the training-data mean before encoding (the module's ``input_offset``); the output\n"
        "bias starts at the mean. Default of the k-sparse preset.", True,
    ),
}

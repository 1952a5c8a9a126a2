"""Presets: the classic autoencoders as :class:`Autoencoder` with other defaults.

Each preset is the same estimator (every parameter of :class:`Autoencoder`
is available, so e.g. a denoising autoencoder can also be sparse); only the
defaults that define the variant change. Their ``__init__`` is
:class:`Autoencoder`'s with those defaults, so ``get_params``, ``clone`` and
the saved config see the full parameter set.
"""

from __future__ import annotations

from aekit._params import make_init
from aekit.autoencoders._autoencoder import AUTOENCODER_PARAMETERS, Autoencoder

__all__ = ["SparseAutoencoder", "KSparseAutoencoder", "DenoisingAutoencoder", "ContractiveAutoencoder"]


def _init_with_defaults(**defaults):
    """:class:`Autoencoder`'s ``__init__`` with some defaults replaced (the signature sklearn introspects included)."""
    return make_init(*AUTOENCODER_PARAMETERS, positional=("n_components",), defaults=defaults)


class SparseAutoencoder(Autoencoder):
    """Autoencoder with the KL average-activation sparsity penalty.

    Minimizes the reconstruction loss plus ``β Σⱼ KL(ρ₀ ‖ ρ̂ⱼ)``, where ρ̂ⱼ is
    unit j's average (sigmoid) activation over the training data, so that
    each unit is active on only a fraction ρ₀ of the inputs.

    Defaults that differ from :class:`Autoencoder`: ``sparsity_weight=3.0``
    (β), ``sparsity_target=0.05`` (ρ₀), ``encoder_activation="sigmoid"``,
    ``weight_decay=1e-4``. Every other parameter is :class:`Autoencoder`'s.

    References
    ----------
    Ng, "Sparse autoencoder", CS294A lecture notes, Stanford (2011).
    """

    __init__ = _init_with_defaults(sparsity_weight=3.0, sparsity_target=0.05, weight_decay=1e-4)


class KSparseAutoencoder(Autoencoder):
    """k-sparse autoencoder: linear encoder, keep the k largest units per sample.

    ``z = W (x − x̄) + b``, ``h = topk(z, k)``, ``y = Wᵀ h + c`` (tied
    weights, ``c`` starting at the mean image ``x̄``), squared error; ``k``
    anneals from ``4 k`` during the first half of training, and ``transform``
    keeps ``ceil(k_alpha · k)`` units. Centering (``center=True``, the
    pre-encoder bias of the openai sparse_autoencoder TopK model) keeps units
    from dying: without it the common mean component of the inputs decides
    which units win, and many never do.

    Defaults that differ from :class:`Autoencoder`: ``encoder_activation="topk"``,
    ``k=25``, ``k_alpha=3.0``, ``tied_weights=True``, ``center=True``. Every
    other parameter is :class:`Autoencoder`'s.

    References
    ----------
    Makhzani & Frey, "k-Sparse Autoencoders", ICLR (2014).
    """

    __init__ = _init_with_defaults(encoder_activation="topk", k=25, k_alpha=3.0, tied_weights=True, center=True)


class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder: reconstruct the clean x from a corrupted x̃.

    Training inputs are corrupted (masking noise by default: a fixed fraction
    of each sample's entries set to 0); the loss compares the reconstruction
    with the clean input, optionally emphasizing the corrupted entries
    (``corrupted_weight`` α, ``uncorrupted_weight`` β). No corruption at
    ``transform``/``predict``. For inputs in [0, 1], ``loss="cross_entropy"``
    is the classic choice.

    Defaults that differ from :class:`Autoencoder`: ``corruption="masking:0.25"``.
    Every other parameter is :class:`Autoencoder`'s.

    References
    ----------
    Vincent, Larochelle, Lajoie, Bengio & Manzagol, "Stacked denoising
    autoencoders", JMLR 11 (2010).
    """

    __init__ = _init_with_defaults(corruption="masking:0.25")


class ContractiveAutoencoder(Autoencoder):
    """Contractive autoencoder: penalize the encoder's Jacobian, ``λ ‖J_f(x)‖²_F``.

    For one sigmoid layer the penalty has the closed form
    ``Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wⱼᵢ²``; any other encoder uses the exact Jacobian.

    Defaults that differ from :class:`Autoencoder`: ``contraction=0.1``.
    Every other parameter is :class:`Autoencoder`'s.

    References
    ----------
    Rifai, Vincent, Muller, Glorot & Bengio, "Contractive auto-encoders:
    explicit invariance during feature extraction", ICML (2011).
    """

    __init__ = _init_with_defaults(contraction=0.1)

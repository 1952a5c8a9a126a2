"""The autoencoder as a torch module: one model, every regularizer of the family.

::

    encoder   x (n, d) -> a₁ = g(W₁ x + b₁) -> ... -> h = f₁(W_L a_{L-1} + b_L)   (n, m)
    decoder   h -> ... -> y = f₂(V₁ ... + c₁)                                    (n, d)

The hidden layers (``hidden_layer_sizes``) use ``g`` (``hidden_activation``), the
code layer ``f₁`` (``encoder_activation``), the output ``f₂``; the decoder
mirrors the encoder, and with ``tied_weights`` its weights are the encoder's
transposed (``V_l = W_{L+1-l}ᵀ``, the same :class:`~torch.nn.Parameter`).
The training objective on a batch is the sum of the named terms of
:meth:`AutoencoderModule.loss_terms`::

    reconstruction   (1/n) Σₛ Σ_d w_d ℓ(y_d(x̃ₛ), x_sd)    ℓ: ½(y − x)² or cross-entropy
    weight_decay     λ_wd · ½ Σ W²
    l1_weights       λ_1 · Σ |W|
    kl_sparsity      β · Σⱼ KL(ρ₀ ‖ ρ̂ⱼ)
    kurtosis         λ_κ · (−log kurt(h))
    l1_activations   λ_a · (1/n) Σ |h|
    contractive      λ_c · (1/n) Σₛ ‖∂h/∂x (x̃ₛ)‖²_F

where ``x̃`` is the corrupted input while training (``corruption``; the clean
``x`` otherwise) and ``w_d`` is α on corrupted entries, β on the others. Terms
whose coefficient is 0 are not computed and not reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit._validation import resolve_option
from aekit.autoencoders import _penalties as P
from aekit.autoencoders._activations import get_activation
from aekit.datasets import make_corruption
from aekit.training import TrainableModule

__all__ = ["AutoencoderModule", "LOSSES", "SPARSITY_ESTIMATES", "CONTRACTIVE_METHODS"]

LOSSES = ("squared_error", "cross_entropy")
SPARSITY_ESTIMATES = ("batch", "running", "full")
CONTRACTIVE_METHODS = ("auto", "closed_form", "jacobian")
# Rows of the training data used for epoch metrics and chunk size of full passes.
METRIC_ROWS = 10_000
CHUNK_ROWS = 4096
DEAD_THRESHOLD = 1e-3


class AutoencoderModule(TrainableModule):
    """Autoencoder with composable regularizers; trained by :class:`aekit.training.Trainer`.

    Parameters
    ----------
    n_features : int
        Input dimension ``d``.
    n_components : int
        Code size ``m`` (under- or overcomplete).
    hidden_layer_sizes : sequence of int
        Sizes of extra encoder layers before the code, mirrored in the decoder.
    encoder_activation : str, callable or CodeActivation
        ``f₁`` of the code layer: a name of :data:`~aekit.autoencoders.ACTIVATIONS`
        (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"linear"``, ...), a callable,
        or a :class:`~aekit.autoencoders.CodeActivation` such as
        :class:`~aekit.autoencoders.TopK` (the k-sparse autoencoder); the
        activation's :meth:`~aekit.autoencoders.CodeActivation.loss_terms` join
        the model's.
    hidden_activation : str or callable
        ``g`` of the extra hidden layers (encoder and decoder).
    decoder_activation : str, callable or None
        ``f₂``. ``None``: ``"linear"`` for ``loss="squared_error"`` and the
        sigmoid for ``"cross_entropy"`` (the only output that loss accepts; it is
        applied inside the loss from the logits, numerically stable).
    loss : {"squared_error", "cross_entropy"}
    tied_weights : bool
        Decoder weights are the encoder's, transposed (one Parameter each).
    weight_decay, l1_weights : float
        Coefficients of ``½ Σ W²`` and ``Σ |W|`` over all weight matrices.
    sparsity_weight : float
        β of the KL average-activation penalty (needs ``f₁`` with outputs in (0, 1)).
    sparsity_target : float
        ρ₀ in (0, 1).
    sparsity_estimate : {"batch", "running", "full"}
        How ρ̂ (the units' average activation over the training set) is estimated:

        - ``"batch"``: the minibatch mean. Exact gradient of the batch penalty,
          current weights, but a noisy, biased estimate (KL is convex in ρ̂, so
          the batch penalty overestimates the training-set one) that gets worse
          for small batches.
        - ``"running"``: an exponential running average
          ``ρ̂ ← μ ρ̂ + (1 − μ) ρ̂_batch`` (``sparsity_momentum`` μ), kept in the
          buffer ``rho_hat``. Less noise, slightly stale.
        - ``"full"``: ρ̂ computed over the whole (clean) training set at each
          epoch start, kept fixed during the epoch: the lecture's definition,
          exactly, once per epoch, at the cost of one forward pass per epoch;
          stale by up to an epoch of updates.

        For ``"running"`` and ``"full"`` the penalty is evaluated at the estimate
        while its gradient flows through the batch (a straight-through
        construction, ``ρ̂_used = ρ̂_est + (ρ̂_batch − sg(ρ̂_batch))``): the
        weights receive β(−ρ₀/ρ̂ⱼ + (1 − ρ₀)/(1 − ρ̂ⱼ)) · ∂ρ̂_batch,j/∂θ with
        ρ̂ the training-set estimate, which is the lecture's backpropagation rule.
    sparsity_momentum : float in [0, 1)
        μ of the running average.
    kurtosis_weight : float
        λ_κ of ``−log kurt(h)`` (see :func:`~aekit.autoencoders.kurtosis_penalty`).
    activity_l1 : float
        λ_a of the L1 penalty on the code.
    contraction : float
        λ_c of the contractive penalty ``‖J_f(x)‖²_F``.
    contractive_method : {"auto", "closed_form", "jacobian"}
        ``"closed_form"`` needs a single encoder layer whose activation has a
        derivative in terms of its output (sigmoid: ``Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wⱼᵢ²``;
        also tanh, ReLU, linear); ``"jacobian"`` is exact for any encoder
        (:func:`~aekit.autoencoders.contractive_jacobian`); ``"auto"`` takes
        the closed form when it exists.
    corruption : str, callable or None
        Denoising: a spec of :func:`aekit.datasets.make_corruption`
        (``"masking:0.25"``, ``"gaussian:0.3"``, ``"salt_and_pepper:0.1"``) or
        a callable ``(x, generator) -> (x_tilde, mask)``; applied only in
        training mode, with the trainer's generator.
    corrupted_weight, uncorrupted_weight : float
        Emphasis α on corrupted dimensions and β on the others (Vincent et al.
        2010, §4.3); α = β = 1 is the plain loss.
    input_offset : (d,) tensor or None
        Pre-encoder offset (a fixed buffer, e.g. the training-data mean): the
        encoder sees ``x − offset``, and the output bias starts at the offset
        (its logit for sigmoid outputs), so the model starts from the mean
        image. Equivalent to a bias reparametrization, but it conditions the
        optimization: with the k-sparse selection on uncentered data the
        common mean component decides which units win, and many units never
        win (dead units). ``None``: no offset.
    generator : torch.Generator or None
        Source of the initial weights (uniform, Glorot bound times the
        activation's gain; biases 0).
    device : torch.device or str

    Buffers
    -------
    rho_hat : (m,) float32
        The current estimate of the units' average activation (``"running"``
        and ``"full"``), saved with the weights.

    References
    ----------
    Ng, "Sparse autoencoder", CS294A notes (2011); Vincent et al., "Stacked
    denoising autoencoders", JMLR 11 (2010); Rifai et al., "Contractive
    auto-encoders", ICML (2011); Makhzani & Frey, "k-Sparse autoencoders",
    ICLR (2014).
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        *,
        hidden_layer_sizes: Sequence[int] = (),
        encoder_activation="sigmoid",
        hidden_activation="sigmoid",
        decoder_activation=None,
        loss: str = "squared_error",
        tied_weights: bool = False,
        weight_decay: float = 0.0,
        l1_weights: float = 0.0,
        sparsity_weight: float = 0.0,
        sparsity_target: float = 0.05,
        sparsity_estimate: str = "batch",
        sparsity_momentum: float = 0.9,
        kurtosis_weight: float = 0.0,
        activity_l1: float = 0.0,
        contraction: float = 0.0,
        contractive_method: str = "auto",
        corruption=None,
        corrupted_weight: float = 1.0,
        uncorrupted_weight: float = 1.0,
        input_offset: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device=None,
    ):
        super().__init__()
        sizes = [int(n_features), *(int(s) for s in hidden_layer_sizes), int(n_components)]
        if min(sizes) < 1:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}.")
        self.loss = resolve_option("loss", loss, {k: k for k in LOSSES})
        self.sparsity_estimate = resolve_option("sparsity_estimate", sparsity_estimate, {k: k for k in SPARSITY_ESTIMATES})
        self.contractive_method = resolve_option(
            "contractive_method", contractive_method, {k: k for k in CONTRACTIVE_METHODS}
        )
        self.sizes = sizes
        self.tied_weights = bool(tied_weights)
        self.f_hidden = get_activation(hidden_activation)
        self.f_code = get_activation(encoder_activation)
        if self.loss == "cross_entropy":
            if decoder_activation not in (None, "sigmoid"):
                raise ValueError(
                    f"loss='cross_entropy' needs a sigmoid decoder (outputs in (0, 1)), got "
                    f"decoder_activation={decoder_activation!r}; use decoder_activation=None or loss='squared_error'."
                )
            self.f_out = get_activation("sigmoid")
        else:
            self.f_out = get_activation("linear" if decoder_activation is None else decoder_activation)
        self.f_code.check_width(sizes[-1])

        self.weight_decay = float(weight_decay)
        self.l1_weights = float(l1_weights)
        self.sparsity_weight = float(sparsity_weight)
        self.sparsity_target = float(sparsity_target)
        self.sparsity_momentum = float(sparsity_momentum)
        self.kurtosis_weight = float(kurtosis_weight)
        self.activity_l1 = float(activity_l1)
        self.contraction = float(contraction)
        self.corrupted_weight = float(corrupted_weight)
        self.uncorrupted_weight = float(uncorrupted_weight)
        if self.sparsity_weight > 0:
            _check_kl_activation(self.f_code, encoder_activation)
            if not 0.0 < self.sparsity_target < 1.0:
                raise ValueError(f"sparsity_target must be in (0, 1), got {sparsity_target}.")
        if not 0.0 <= self.sparsity_momentum < 1.0:
            raise ValueError(f"sparsity_momentum must be in [0, 1), got {sparsity_momentum}.")
        if self.contraction > 0 and self.contractive_method == "closed_form" and self._closed_form_slope() is None:
            raise ValueError(
                "contractive_method='closed_form' needs a single encoder layer with an elementwise activation "
                "whose derivative is known (sigmoid, tanh, relu, linear); use contractive_method='auto' "
                "for the exact Jacobian path."
            )
        if corruption is None or callable(corruption):
            self.corruption = corruption
        else:
            self.corruption = make_corruption(corruption)

        # Parameters: W_l (out, in) as in torch.nn.Linear, biases zero.
        self.encoder_weights = nn.ParameterList()
        self.encoder_biases = nn.ParameterList()
        self.decoder_weights = nn.ParameterList()  # empty when tied
        self.decoder_biases = nn.ParameterList()
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            act = self.f_code if i == n_layers - 1 else self.f_hidden
            self.encoder_weights.append(_init_weight(sizes[i + 1], sizes[i], act, generator, device))
            self.encoder_biases.append(nn.Parameter(torch.zeros(sizes[i + 1], device=device)))
        for i in range(n_layers):  # decoder layer i maps sizes[L-i] -> sizes[L-i-1]
            fan_out, fan_in = sizes[n_layers - i - 1], sizes[n_layers - i]
            if not self.tied_weights:
                act = self.f_out if i == n_layers - 1 else self.f_hidden
                self.decoder_weights.append(_init_weight(fan_out, fan_in, act, generator, device))
            self.decoder_biases.append(nn.Parameter(torch.zeros(fan_out, device=device)))
        self.centered = input_offset is not None
        offset = torch.zeros(sizes[0]) if input_offset is None else torch.as_tensor(input_offset).float().cpu()
        if offset.shape != (sizes[0],):
            raise ValueError(f"input_offset must have shape ({sizes[0]},), got {tuple(offset.shape)}.")
        self.register_buffer("input_offset", offset.to(device))
        if self.centered:
            with torch.no_grad():
                self.decoder_biases[-1].copy_(_output_bias(offset, self.f_out).to(device))
        self.register_buffer("rho_hat", torch.full((sizes[-1],), self.sparsity_target, device=device))
        self.register_buffer("rho_hat_ready", torch.zeros((), dtype=torch.bool, device=device))

    # ------------------------------------------------------------ structure
    @property
    def n_features(self) -> int:
        return self.sizes[0]

    @property
    def n_components(self) -> int:
        return self.sizes[-1]

    def decoder_weight(self, i: int) -> torch.Tensor:
        """The (out, in) weight of decoder layer ``i`` (the encoder's transposed when tied)."""
        if self.tied_weights:
            return self.encoder_weights[len(self.encoder_weights) - 1 - i].t()
        return self.decoder_weights[i]

    def weights(self) -> list[torch.Tensor]:
        """Every distinct weight matrix (what weight decay and L1 act on); biases excluded."""
        return [*self.encoder_weights, *self.decoder_weights]

    # ------------------------------------------------------------ forward maps
    def _pre_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(input of the code layer, its pre-activation), both (n, ·)."""
        a = x - self.input_offset if self.centered else x
        last = len(self.encoder_weights) - 1
        for i in range(last):
            a = self.f_hidden(F.linear(a, self.encoder_weights[i], self.encoder_biases[i]))
        return a, F.linear(a, self.encoder_weights[last], self.encoder_biases[last])

    def encode(self, x: torch.Tensor, *, extract: bool | None = None) -> torch.Tensor:
        """Code ``h`` (n, m) of inputs ``x`` (n, d).

        ``extract`` selects the feature-extraction form of the code activation
        when it has one (:class:`~aekit.autoencoders.TopK` keeps α·k units
        instead of k); ``None`` means "in eval mode".
        """
        if extract is None:
            extract = not self.training
        _, z = self._pre_code(x)
        return self.f_code.extract(z) if extract else self.f_code(z)

    def decode_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the output layer (n, d) from codes ``h`` (n, m)."""
        a = h
        last = len(self.decoder_biases) - 1
        for i in range(last):
            a = self.f_hidden(F.linear(a, self.decoder_weight(i), self.decoder_biases[i]))
        return F.linear(a, self.decoder_weight(last), self.decoder_biases[last])

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``y = f₂(...)`` (n, d) from codes (probabilities for cross-entropy)."""
        return self.f_out(self.decode_logits(h))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))`` with the training-time code (k units for top-k), no corruption."""
        return self.decode(self.encode(x, extract=False))

    # ------------------------------------------------------------ losses
    def reconstruction_loss(self, logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None):
        """The reconstruction term from output pre-activations (n, d) and clean targets (n, d)."""
        logits, x = _upcast(logits), _upcast(x)
        if self.loss == "cross_entropy":
            return P.cross_entropy(logits, x, weight)
        return P.squared_error(self.f_out(logits), x, weight)

    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator: torch.Generator | None = None):
        """Named loss terms on a batch ``x`` (n, d); extra batch tensors (labels) are ignored.

        The encoder and decoder run under whatever autocast is active (the
        trainer's bfloat16 fast path); the losses and penalties are computed
        in float32 (or the module's own dtype) with autocast off.
        """
        x_in, weight = x, None
        if self.training and self.corruption is not None:
            x_in, mask = self.corruption(x, generator)
            if self.corrupted_weight != 1.0 or self.uncorrupted_weight != 1.0:
                weight = P.emphasis_weights(mask, self.corrupted_weight, self.uncorrupted_weight, _upcast(x).dtype)
        _, z = self._pre_code(x_in)
        h = self.f_code(z)
        logits = self.decode_logits(h)
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = {"reconstruction": self.reconstruction_loss(logits, x, weight)}
            terms.update(self.f_code.loss_terms(z, h))
            if self.weight_decay > 0:
                terms["weight_decay"] = self.weight_decay * P.weight_decay(self.weights())
            if self.l1_weights > 0:
                terms["l1_weights"] = self.l1_weights * P.l1_weights(self.weights())
            hf = _upcast(h)
            if self.sparsity_weight > 0:
                rho = self._sparsity_estimate(hf.mean(dim=0))
                terms["kl_sparsity"] = self.sparsity_weight * P.kl_sparsity(rho, self.sparsity_target)
            if self.kurtosis_weight > 0:
                terms["kurtosis"] = self.kurtosis_weight * P.kurtosis_penalty(hf)
            if self.activity_l1 > 0:
                terms["l1_activations"] = self.activity_l1 * P.l1_activations(hf)
            if self.contraction > 0:
                terms["contractive"] = self.contraction * self.contractive_penalty(x_in, hf)
        return terms

    def _sparsity_estimate(self, rho_batch: torch.Tensor) -> torch.Tensor:
        """ρ̂ used by the KL term: the batch mean, or the stored estimate with the batch's gradient."""
        if self.sparsity_estimate == "batch":
            return rho_batch
        if self.sparsity_estimate == "running" and self.training:
            with torch.no_grad():  # the first batch initializes the average (no host sync)
                mu = torch.where(self.rho_hat_ready, self.sparsity_momentum, 0.0)
                self.rho_hat.copy_(mu * self.rho_hat + (1.0 - mu) * rho_batch.detach())
                self.rho_hat_ready.fill_(True)
        return P.straight_through(self.rho_hat, rho_batch)

    def _closed_form_slope(self):
        """``h -> f'(a)`` when the closed-form contractive penalty applies, else None."""
        if len(self.sizes) != 2:
            return None
        return self.f_code.derivative

    def contractive_penalty(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """``(1/n) Σₛ ‖∂h/∂x(xₛ)‖²_F`` on inputs ``x`` (n, d); ``h`` = their codes when known."""
        slope = self._closed_form_slope() if self.contractive_method != "jacobian" else None
        if slope is not None:
            if h is None:
                h = self.encode(x, extract=False)
            return P.contractive_elementwise(slope(_upcast(h)), self.encoder_weights[0])
        return P.contractive_jacobian(lambda v: self.encode(v, extract=False), x.to(self.rho_hat.dtype))

    # ------------------------------------------------------------ trainer hooks
    def on_epoch_start(self, epoch: int, max_epochs: int, data: tuple[torch.Tensor, ...]) -> None:
        """Step the code activation's schedule (top-k's k); full-data ρ̂ for ``sparsity_estimate="full"``."""
        self.f_code.on_epoch_start(epoch, max_epochs)
        if self.sparsity_weight > 0 and self.sparsity_estimate == "full":
            self.rho_hat.copy_(self.mean_activation(data[0]))
            self.rho_hat_ready.fill_(True)

    @torch.no_grad()
    def mean_activation(self, X: torch.Tensor) -> torch.Tensor:
        """ρ̂ (m,): each unit's mean training-time activation over the clean rows of ``X``."""
        total = torch.zeros_like(self.rho_hat)
        for start in range(0, X.shape[0], CHUNK_ROWS):
            total += self.encode(X[start : start + CHUNK_ROWS], extract=False).to(total.dtype).sum(dim=0)
        return total / X.shape[0]

    @torch.no_grad()
    def epoch_metrics(self, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """On the first 10 000 clean training rows: reconstruction error, mean activation, dead units.

        ``reconstruction_error`` is the reconstruction loss per sample (same
        convention as the ``reconstruction`` term), ``mean_activation`` the
        mean of all code entries, ``dead_units`` the fraction of code units
        whose absolute activation never exceeds 1e-3 on these rows.
        """
        X = data[0][:METRIC_ROWS]
        recon, total, peak = 0.0, 0.0, torch.zeros_like(self.rho_hat)
        for start in range(0, X.shape[0], CHUNK_ROWS):
            xb = X[start : start + CHUNK_ROWS]
            h = _upcast(self.encode(xb, extract=False))
            recon += float(self.reconstruction_loss(self.decode_logits(h), xb)) * xb.shape[0]
            total += float(h.sum())
            peak = torch.maximum(peak, h.abs().amax(dim=0))
        n = X.shape[0]
        return {
            "reconstruction_error": recon / n,
            "mean_activation": total / (n * self.n_components),
            "dead_units": float((peak <= DEAD_THRESHOLD).float().mean()),
        }


def _output_bias(offset: torch.Tensor, f_out) -> torch.Tensor:
    """Output bias whose reconstruction is ``offset``: itself (linear), its logit (sigmoid), else 0."""
    name = f_out.name
    if name in ("linear", "identity"):
        return offset
    if name == "sigmoid":
        return torch.logit(offset.clamp(1e-3, 1 - 1e-3))
    return torch.zeros_like(offset)


def _upcast(t: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors (autocast outputs) as float32; float32 / float64 unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def _check_kl_activation(activation, spec) -> None:
    """KL sparsity treats activations as Bernoulli means: refuse any range outside (0, 1)."""
    bounds = activation.output_range
    if bounds is None or bounds[0] < 0.0 or bounds[1] > 1.0:
        name = spec if isinstance(spec, str) else activation.name
        shown = "unknown" if bounds is None else f"({bounds[0]:g}, {bounds[1]:g})"
        raise ValueError(
            f"KL sparsity needs encoder activations in (0, 1), but encoder_activation={name!r} has range {shown}; "
            "use encoder_activation='sigmoid', or activity_l1 / kurtosis_weight for other activations "
            "(a custom callable may declare output_range = (0, 1))."
        )


def _init_weight(fan_out: int, fan_in: int, activation, generator, device) -> nn.Parameter:
    """``U(−r, r)`` with ``r = gain · sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    gain = activation.init_gain
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    w = torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=generator)
    return nn.Parameter(w.to(device))

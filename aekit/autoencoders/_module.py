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

import torch
import torch.nn.functional as F
from torch import nn

from aekit._params import check_options, parameters_doc
from aekit._torch import CHUNK_ROWS
from aekit.autoencoders import _penalties as P
from aekit.autoencoders._activations import get_activation
from aekit.autoencoders._corruption import make_corruption
from aekit.autoencoders._fused import DenseStep
from aekit.autoencoders._options import CONTRACTIVE_METHODS, LOSSES, MODEL_OPTIONS, SPARSITY_ESTIMATES
from aekit.autoencoders._topk import TopK
from aekit.training import TrainableModule

__all__ = ["AutoencoderModule", "LOSSES", "SPARSITY_ESTIMATES", "CONTRACTIVE_METHODS", "mean_reconstruction_loss"]

# Rows of the training data used for epoch metrics.
METRIC_ROWS = 10_000
DEAD_THRESHOLD = 1e-3


class AutoencoderModule(TrainableModule):
    """Autoencoder with composable regularizers; trained by :class:`aekit.training.Trainer`.

    Parameters
    ----------
    n_features : int
        Input dimension ``d``.
    n_components : int
        Code size ``m`` (under- or overcomplete).
{parameters}
    input_offset : (d,) tensor or None, default=None
        Pre-encoder offset (a fixed buffer, e.g. the training-data mean): the
        encoder sees ``x − offset``, and the output bias starts at the offset
        (its logit for sigmoid outputs), so the model starts from the mean
        image. Equivalent to a bias reparametrization, but it conditions the
        optimization: with the k-sparse selection on uncentered data the
        common mean component decides which units win, and many units never
        win (dead units).
    generator : torch.Generator or None, default=None
        Source of the initial weights (uniform, Glorot bound times the
        activation's gain; biases 0).
    device : torch.device or str, default=None

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
        input_offset: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device=None,
        **options,
    ):
        super().__init__()
        check_options(MODEL_OPTIONS, options, type(self).__name__)
        o = {name: options.get(name, option.default) for name, option in MODEL_OPTIONS.items()}
        self.sizes = [int(n_features), *(int(s) for s in o["hidden_layer_sizes"]), int(n_components)]
        if min(self.sizes) < 1:
            raise ValueError(f"layer sizes must be positive integers, got {self.sizes}.")
        self._set_settings(o)
        self._build_parameters(generator, device)
        self._set_offset(input_offset, device)
        self.register_buffer("rho_hat", torch.full((self.sizes[-1],), self.sparsity_target, device=device))
        self.register_buffer("rho_hat_ready", torch.zeros((), dtype=torch.bool, device=device))

    def _set_settings(self, o: dict) -> None:
        """Resolve the activations, the loss and the corruption; keep the coefficients; check combinations."""
        self.loss = o["loss"]
        self.sparsity_estimate = o["sparsity_estimate"]
        self.contractive_method = o["contractive_method"]
        self.tied_weights = bool(o["tied_weights"])
        self.f_hidden = get_activation(o["hidden_activation"])
        self.f_code = _code_activation(o)
        self.f_out = _output_activation(o["loss"], o["decoder_activation"])
        self.f_code.check_width(self.sizes[-1])
        self.contractive_projections = int(o["contractive_projections"])
        for name in ("weight_decay", "l1_weights", "sparsity_weight", "sparsity_target", "sparsity_momentum",
                     "kurtosis_weight", "activity_l1", "contraction", "corrupted_weight", "uncorrupted_weight"):
            setattr(self, name, float(o[name]))
        if self.sparsity_weight > 0:
            _check_kl_activation(self.f_code, o["encoder_activation"])
        if self.contraction > 0 and self.contractive_method == "closed_form" and self._closed_form_slope() is None:
            raise ValueError(
                "contractive_method='closed_form' needs a single encoder layer with an elementwise activation "
                "whose derivative is known (sigmoid, tanh, relu, linear); use contractive_method='auto' "
                "for the exact Jacobian path."
            )
        corruption = o["corruption"]
        self.corruption = corruption if corruption is None or callable(corruption) else make_corruption(corruption)

    def _build_parameters(self, generator, device) -> None:
        """W_l (out, in) as in torch.nn.Linear, Glorot-uniform scaled by the activation's gain; biases 0."""
        sizes, n_layers = self.sizes, len(self.sizes) - 1
        self.encoder_weights = nn.ParameterList()
        self.encoder_biases = nn.ParameterList()
        self.decoder_weights = nn.ParameterList()  # empty when tied
        self.decoder_biases = nn.ParameterList()
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

    def _set_offset(self, input_offset, device) -> None:
        """The pre-encoder offset buffer (zeros when none); the output bias starts at its reconstruction."""
        d = self.sizes[0]
        self.centered = input_offset is not None
        offset = torch.zeros(d) if input_offset is None else torch.as_tensor(input_offset).float().cpu()
        if offset.shape != (d,):
            raise ValueError(f"input_offset must have shape ({d},), got {tuple(offset.shape)}.")
        self.register_buffer("input_offset", offset.to(device))
        if self.centered:
            with torch.no_grad():
                self.decoder_biases[-1].copy_(_output_bias(offset, self.f_out).to(device))

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

    def first_layer_weights(self) -> torch.Tensor:
        """The first encoder layer's weights (n_units, n_features): the filters."""
        return self.encoder_weights[0]

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

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code ``h = f₁(...)`` (n, m) of inputs ``x`` (n, d): the code the decoder is trained on."""
        return self.f_code(self._pre_code(x)[1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature-extraction code (n, m) of ``x`` (n, d), what ``transform`` returns.

        The code activation's :meth:`~aekit.autoencoders.CodeActivation.extract`
        form: :class:`~aekit.autoencoders.TopK` keeps ⌈α·k⌉ units instead of
        ``k``; for elementwise activations it equals :meth:`encode`.
        """
        return self.f_code.extract(self._pre_code(x)[1])

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
        return self.decode(self.encode(x))

    # ------------------------------------------------------------ losses
    def reconstruction_loss(self, logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None):
        """The reconstruction term from output pre-activations (n, d) and clean targets (n, d)."""
        logits, x = _upcast(logits), _upcast(x)
        if self.loss == "cross_entropy":
            return P.cross_entropy(logits, x, weight)
        return P.squared_error(self.f_out(logits), x, weight)

    def reconstruction_gradient(self, logits: torch.Tensor, x: torch.Tensor, weight: torch.Tensor | None = None):
        """``(reconstruction loss, its gradient with respect to logits)`` in closed form, or None.

        ``logits`` (n, d) float32 output pre-activations, ``x`` (n, d) clean
        targets. None when the output activation has no derivative (the caller
        then differentiates :meth:`reconstruction_loss` by autograd).
        """
        if self.loss == "cross_entropy":
            return P.cross_entropy(logits, x, weight), P.cross_entropy_gradient(logits, x, weight)
        slope = self.f_out.derivative
        if slope is None:
            return None
        y = self.f_out(logits)
        return P.squared_error(y, x, weight), P.squared_error_gradient(y, x, weight).mul_(slope(y))

    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator: torch.Generator | None = None):
        """Named loss terms on a batch ``x`` (n, d); extra batch tensors (labels) are ignored.

        The encoder and decoder run under whatever autocast is active (the
        trainer's bfloat16 fast path); the losses and penalties are computed
        in float32 (or the module's own dtype) with autocast off.
        """
        x_in, weight = self.corrupt(x, generator)
        _, z = self._pre_code(x_in)
        h = self.f_code(z)
        logits = self.decode_logits(h)
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = {"reconstruction": self.reconstruction_loss(logits, x, weight)}
            terms.update(self.code_terms(x_in, z, h, generator))
        return terms

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None):
        """``(x̃, w)``: the training-time input (corrupted while training) and the emphasis weights (or None)."""
        if not self.training or self.corruption is None:
            return x, None
        x_in, mask = self.corruption(x, generator)
        weight = None
        if self.corrupted_weight != 1.0 or self.uncorrupted_weight != 1.0:
            weight = P.emphasis_weights(mask, self.corrupted_weight, self.uncorrupted_weight, _upcast(x).dtype)
        return x_in, weight

    def code_terms(self, x_in: torch.Tensor, z: torch.Tensor, h: torch.Tensor,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Every term but the reconstruction: the code activation's own, the weight and code penalties.

        ``x_in`` (n, d) is the encoder's input, ``z`` and ``h`` (n, m) the code's
        pre-activation and activation; computed in float32 (``h`` upcast).
        ``generator`` draws the random directions of the Hutchinson estimate.
        """
        terms = dict(self.f_code.loss_terms(z, h))
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
            terms["contractive"] = self.contraction * self.contractive_penalty(x_in, hf, generator)
        return terms

    def fused_step(self, compute_dtype: torch.dtype):
        """The hand-written step (:class:`~aekit.autoencoders._fused.DenseStep`) where it applies, else None.

        It applies when every hidden layer's activation has a derivative
        (``CodeActivation.derivative``) and the contractive penalty, if any,
        has its closed form; the code activation, the losses and the penalties
        may be anything (they are differentiated by autograd on the code and
        the output, which are small).
        """
        return DenseStep.build(self, compute_dtype)

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

    def contractive_penalty(self, x: torch.Tensor, h: torch.Tensor | None = None,
                            generator: torch.Generator | None = None) -> torch.Tensor:
        """``(1/n) Σₛ ‖∂h/∂x(xₛ)‖²_F`` on inputs ``x`` (n, d) (``h`` = their codes when known).

        By ``contractive_method``: the closed form, Hutchinson's unbiased
        estimate (directions drawn from ``generator``) or the exact Jacobian.
        """
        method = self.contractive_method
        slope = self._closed_form_slope() if method in ("auto", "closed_form") else None
        if slope is not None:
            if h is None:
                h = self.encode(x)
            return P.contractive_elementwise(slope(_upcast(h)), self.encoder_weights[0])
        x = x.to(self.rho_hat.dtype)
        if method == "hutchinson":
            return self._contractive_hutchinson(x, generator)
        return P.contractive_jacobian(self.encode, x)

    def _contractive_hutchinson(self, x: torch.Tensor, generator) -> torch.Tensor:
        """Hutchinson's estimate: through the layers' slopes when every activation has a derivative, else by JVPs."""
        n_layers = len(self.encoder_weights)
        acts = [self.f_hidden] * (n_layers - 1) + [self.f_code]
        if any(f.derivative is None for f in acts):
            return P.contractive_hutchinson(self.encode, x, self.contractive_projections, generator)
        a = x - self.input_offset if self.centered else x
        slopes = []
        for f, w, b in zip(acts, self.encoder_weights, self.encoder_biases):
            a = f(F.linear(a, w, b))
            slopes.append(f.derivative(a))
        v = torch.randn((self.contractive_projections, x.shape[1]), generator=generator, device=x.device)
        return P.contractive_hutchinson_chain(list(self.encoder_weights), slopes, v)

    # ------------------------------------------------------------ trainer hooks
    def on_epoch_start(self, epoch: int, max_epochs: int, data) -> None:
        """Step the code activation's schedule (top-k's k); full-data ρ̂ for ``sparsity_estimate="full"``."""
        self.f_code.on_epoch_start(epoch, max_epochs)
        if self.sparsity_weight > 0 and self.sparsity_estimate == "full":
            self.rho_hat.copy_(self.mean_activation(data))
            self.rho_hat_ready.fill_(True)

    @torch.no_grad()
    def mean_activation(self, data, limit: int | None = None) -> torch.Tensor:
        """ρ̂ (m,): each unit's mean training-time activation over the (first ``limit``) clean rows of ``data``.

        ``data`` is a :class:`~aekit.training.BatchSource` (its first tensor is
        the input) or an input tensor (n, d).
        """
        total, n = torch.zeros_like(self.rho_hat), 0
        for (xb, *_rest) in _chunks(data, limit):
            total += self.encode(xb).to(total.dtype).sum(dim=0)
            n += xb.shape[0]
        return total / max(n, 1)

    @torch.no_grad()
    def epoch_metrics(self, data) -> dict[str, float]:
        """On the first 10 000 clean training rows: reconstruction error, mean activation, dead units.

        ``reconstruction_error`` is the reconstruction loss per sample (same
        convention as the ``reconstruction`` term), ``mean_activation`` the
        mean of all code entries, ``dead_units`` the fraction of code units
        whose absolute activation never exceeds 1e-3 on these rows.
        """
        recon, total, n, peak = 0.0, 0.0, 0, torch.zeros_like(self.rho_hat)
        for (xb, *_rest) in _chunks(data, METRIC_ROWS):
            h = _upcast(self.encode(xb))
            recon += float(self.reconstruction_loss(self.decode_logits(h), xb)) * xb.shape[0]
            total += float(h.sum())
            peak = torch.maximum(peak, h.abs().amax(dim=0))
            n += xb.shape[0]
        return {
            "reconstruction_error": recon / n,
            "mean_activation": total / (n * self.n_components),
            "dead_units": float((peak <= DEAD_THRESHOLD).float().mean()),
        }


AutoencoderModule.__doc__ = AutoencoderModule.__doc__.replace("{parameters}", parameters_doc(MODEL_OPTIONS))


@torch.no_grad()
def mean_reconstruction_loss(module, X: torch.Tensor, rows: int = CHUNK_ROWS) -> float:
    """Mean reconstruction loss per sample of ``module`` (an autoencoder module) on ``X`` (n, d), in row chunks.

    The training loss's convention (``module.reconstruction_loss`` of the
    clean reconstruction), without corruption; for every autoencoder module
    (one layer or an unrolled stack) and every caller (``score``, epoch metrics).
    """
    total = 0.0
    for s in range(0, X.shape[0], rows):
        xb = X[s : s + rows]
        total += float(module.reconstruction_loss(module.decode_logits(module.encode(xb)), xb)) * xb.shape[0]
    return total / max(1, X.shape[0])


def _chunks(data, limit: int | None):
    """Row chunks (tuples of tensors) of a BatchSource or of a plain input tensor."""
    if isinstance(data, torch.Tensor):
        data = data[:limit]
        return ((data[s : s + CHUNK_ROWS],) for s in range(0, data.shape[0], CHUNK_ROWS))
    return data.chunks(CHUNK_ROWS, limit)


def _code_activation(o: dict):
    """The code layer's activation: ``"topk"`` becomes :class:`TopK` with the k options, else a named one."""
    if o["encoder_activation"] == "topk":
        if o["k"] is None:
            raise ValueError("encoder_activation='topk' needs k (the number of units kept per sample).")
        return TopK(o["k"], alpha=o["k_alpha"], k_start=o["k_start"], anneal_fraction=o["k_anneal"])
    if o["k"] is not None:
        raise ValueError(
            f"k={o['k']} applies to the k-sparse autoencoder only; set encoder_activation='topk' or k=None."
        )
    return get_activation(o["encoder_activation"])


def _output_activation(loss: str, decoder_activation):
    """The output activation: the sigmoid for cross-entropy (the only one it accepts), else as given."""
    if loss == "cross_entropy":
        if decoder_activation not in (None, "sigmoid"):
            raise ValueError(
                f"loss='cross_entropy' needs a sigmoid decoder (outputs in (0, 1)), got "
                f"decoder_activation={decoder_activation!r}; use decoder_activation=None or loss='squared_error'."
            )
        return get_activation("sigmoid")
    return get_activation("linear" if decoder_activation is None else decoder_activation)


def _output_bias(offset: torch.Tensor, f_out) -> torch.Tensor:
    """Output bias whose reconstruction is ``offset``: ``f_out.inverse(offset)``, or 0 where it has no inverse."""
    bias = f_out.inverse(offset)
    return torch.zeros_like(offset) if bias is None else bias


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

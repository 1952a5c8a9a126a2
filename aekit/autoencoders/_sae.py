"""A sparse dictionary as a torch module: the sparse autoencoder of network activations.

::

    x_n = s x                                            input scale s (E‖x_n‖² = d)
    z   = (x_n − b_dec) W_encᵀ + b_enc                   (n, m) pre-activations
    h   = f(z)                                           (n, m) sparse codes (TopK, BatchTopK, ReLU, JumpReLU)
    x̂_n = h W_dec + b_dec,    x̂ = x̂_n / s               W_dec (m, d): one unit-norm atom per latent

trained (by :class:`aekit.training.Trainer`) on the named terms

    reconstruction  (1/n) Σ_rows ‖x̂_n − x_n‖²                (mean over prefixes for Matryoshka)
    auxk            α (1/n) Σ_rows ‖ê − (x_n − x̂_n)‖²         ê: the dead latents' top-k_aux codes decoded
    sparsity_l1/l0  w_t λ · penalty of the activation           w_t = min(1, (t + 1) / N): sparsity warm-up

The atoms stay at unit norm (the gradient along each atom is removed before
the update, the atoms renormalized after). A latent is dead when it has not
fired for ``dead_tokens`` training rows (buffer ``tokens_since_fired``).
TopK and BatchTopK codes go through the sparse kernels
(:mod:`aekit.autoencoders._sae_kernels`), ReLU and JumpReLU codes through
dense products and autograd, which is also the reference the sparse path is
tested against (``sparse_kernels=False``).

References
----------
Gao et al., "Scaling and evaluating sparse autoencoders" (2024); Bricken et
al., "Towards Monosemanticity" (2023); Conerly et al., "Circuits Updates —
April 2024"; Bussmann et al., "BatchTopK Sparse Autoencoders" (2024) and
"Learning Multi-Level Features with Matryoshka Sparse Autoencoders" (2025);
Rajamanoharan et al., "Jumping Ahead" (2024).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aekit._params import check_options, parameters_doc
from aekit._torch import CHUNK_ROWS
from aekit.autoencoders._batchtopk import BatchTopK
from aekit.autoencoders._jumprelu import JumpReLU
from aekit.autoencoders._relu_l1 import ReLUL1
from aekit.autoencoders._sae_kernels import (
    Workspace,
    dead_latent_codes,
    normalize_rows_,
    remove_parallel_component,
    select_encode,
)
from aekit.autoencoders._sae_options import DEFAULT_SPARSITY, SAE_OPTIONS
from aekit.autoencoders._select import check_k
from aekit.autoencoders._sparse_codes import SparseCodes, decode, upcast
from aekit.autoencoders._topk import TopK
from aekit.training import TrainableModule

__all__ = ["SparseDictionaryModule", "make_sae_activation", "auxk_default", "matryoshka_sizes"]

METRIC_ROWS = 10_000


def _data_parallel() -> bool:
    """Whether training runs data-parallel (the trainer uses DistributedDataParallel in an initialized group)."""
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def auxk_default(n_features: int) -> int:
    """The power of two nearest ``d / 2`` (Gao et al.'s k_aux), at least 1."""
    return max(1, 2 ** round(math.log2(max(n_features / 2, 1))))


def matryoshka_sizes(prefixes, n_latents: int) -> tuple[int, ...]:
    """The increasing prefix sizes ending at ``n_latents`` (None: m/8, m/4, m/2, m)."""
    if prefixes is None:
        sizes = [n_latents // 8, n_latents // 4, n_latents // 2]
    else:
        sizes = [int(p) for p in prefixes]
    sizes = [s for s in sizes if s < n_latents] + [n_latents]
    if any(s < 1 for s in sizes) or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(
            f"matryoshka_prefixes must be increasing positive sizes below n_components={n_latents}, got {prefixes!r}."
        )
    return tuple(sizes)


def make_sae_activation(options: dict, n_latents: int):
    """The code activation an architecture names, with its coefficients."""
    arch = options["architecture"]
    lam = options["sparsity_coefficient"]
    lam = DEFAULT_SPARSITY.get(arch, 0.0) if lam is None else float(lam)
    if arch == "topk":
        return TopK(options["k"], anneal_fraction=0.0, nonnegative=True)
    if arch in ("batchtopk", "matryoshka"):
        return BatchTopK(options["k"], threshold_momentum=options["threshold_momentum"])
    if arch == "relu":
        return ReLUL1(lam)
    return JumpReLU(n_latents, threshold=options["jumprelu_threshold"], bandwidth=options["jumprelu_bandwidth"],
                    l0_coefficient=lam)


class SparseDictionaryModule(TrainableModule):
    """Sparse autoencoder of activations (see the module docstring for the model and its terms).

    Parameters
    ----------
    n_features : int
        Input dimension d.
    n_latents : int
        Dictionary size m.
{parameters}
    input_scale : float, default 1.0
        s; the inputs are scaled by it inside the model.
    b_dec : (d,) tensor or None
        Initial decoder bias in normalized units (zeros when None).
    generator : torch.Generator or None
        Source of the random atoms (the encoder starts as the decoder's transpose).
    device : torch.device or str or None

    Buffers
    -------
    input_scale : () float32
    tokens_since_fired : (m,) int64
        Training rows since each latent last had a non-zero code.
    steps : () int64
        Optimizer steps taken (drives the sparsity warm-up).
    """

    def __init__(self, n_features: int, n_latents: int, *, input_scale: float = 1.0, b_dec: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, device=None, **options):
        super().__init__()
        check_options(SAE_OPTIONS, options, type(self).__name__)
        o = {name: options.get(name, option.default) for name, option in SAE_OPTIONS.items()}
        d, m = int(n_features), int(n_latents)
        if d < 1 or m < 1:
            raise ValueError(f"n_features and n_latents must be positive, got {d} and {m}.")
        self.n_features, self.n_latents, self.architecture = d, m, o["architecture"]
        if self.architecture in ("topk", "batchtopk", "matryoshka"):
            check_k(o["k"], m)
        self.activation = make_sae_activation(o, m)
        self.activation.check_width(m)
        self.prefixes = matryoshka_sizes(o["matryoshka_prefixes"], m) if self.architecture == "matryoshka" else (m,)
        self.auxk_coefficient = float(o["auxk_coefficient"])
        self.auxk_k = auxk_default(d) if o["auxk_k"] is None else int(o["auxk_k"])
        self.dead_tokens = int(o["dead_tokens"])
        self.sparsity_warmup_steps = int(o["sparsity_warmup_steps"])
        self.unit_norm_decoder = bool(o["unit_norm_decoder"])
        self.sparse_kernels = bool(o["sparse_kernels"]) and self.architecture in ("topk", "batchtopk", "matryoshka")
        self.workspace = Workspace()
        atoms = torch.randn(m, d, generator=generator)
        atoms /= torch.linalg.vector_norm(atoms, dim=1, keepdim=True)
        self.W_enc = nn.Parameter(atoms.clone().to(device))
        self.b_enc = nn.Parameter(torch.zeros(m, device=device))
        self.W_dec = nn.Parameter(atoms.to(device))
        b_dec = torch.zeros(d) if b_dec is None else torch.as_tensor(b_dec, dtype=torch.float32).reshape(-1)
        if b_dec.shape != (d,):
            raise ValueError(f"b_dec must have shape ({d},), got {tuple(b_dec.shape)}.")
        self.b_dec = nn.Parameter(b_dec.to(device))
        if isinstance(self.activation, nn.Module):
            self.activation.to(device)
        self.register_buffer("input_scale", torch.tensor(float(input_scale), device=device))
        self.register_buffer("tokens_since_fired", torch.zeros(m, dtype=torch.int64, device=device))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64, device=device))

    # ------------------------------------------------------------ inference maps (raw inputs)
    def first_layer_weights(self) -> torch.Tensor:
        """The encoder's rows (m, d): the filters."""
        return self.W_enc

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """``z`` (n, m) of raw inputs ``x`` (n, d)."""
        return F.linear(x * self.input_scale - self.b_dec, self.W_enc, self.b_enc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Training-time codes (n, m) of raw inputs (BatchTopK in eval mode: the threshold)."""
        return self.activation(self.preactivations(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature codes (n, m) of raw inputs: what ``transform`` returns."""
        return self.activation.extract(self.preactivations(x))

    def sparse_features(self, x: torch.Tensor) -> SparseCodes:
        """The feature codes of ``x`` (n, d) as :class:`SparseCodes`."""
        z = self.preactivations(x)
        codes = self.activation.select(z, features=True)
        return SparseCodes.from_dense(self.activation.extract(z)) if codes is None else codes

    def decode(self, h) -> torch.Tensor:
        """Raw reconstructions (n, d) of codes ``h``: a dense (n, m) tensor or :class:`SparseCodes`."""
        if isinstance(h, SparseCodes):
            out = decode(h, self.W_dec) + self.b_dec
        else:
            out = F.linear(h, self.W_dec.t(), self.b_dec)
        return out / self.input_scale

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(features(x))`` (n, d)."""
        return self.decode(self.features(x))

    # ------------------------------------------------------------ training
    def _compute_dtype(self, device: torch.device) -> torch.dtype:
        if torch.is_autocast_enabled(device.type):
            return torch.get_autocast_dtype(device.type)
        return self.W_enc.dtype

    def dead_mask(self) -> torch.Tensor:
        """(m,) bool: latents that have not fired for ``dead_tokens`` training rows."""
        return self.tokens_since_fired >= self.dead_tokens

    @torch.no_grad()
    def _record_firing(self, fired: torch.Tensor, rows: int) -> None:
        if _data_parallel():
            # each rank saw its slice of the global batch: a latent fired if it fired on any rank, and the
            # batch had the rows of all ranks (the counts then agree on every rank, as in one process)
            counts = torch.cat([fired.to(torch.int64), torch.tensor([rows], device=fired.device)])
            torch.distributed.all_reduce(counts)
            fired, rows = counts[:-1] > 0, int(counts[-1])
        self.tokens_since_fired.copy_(torch.where(fired, 0, self.tokens_since_fired + rows))

    def _warmup(self) -> torch.Tensor | float:
        if self.sparsity_warmup_steps <= 0:
            return 1.0
        return ((self.steps + 1).float() / self.sparsity_warmup_steps).clamp(max=1.0)

    def _aux_selection(self, z: torch.Tensor, dead: torch.Tensor | None) -> list[SparseCodes]:
        return [] if dead is None else [dead_latent_codes(z, dead, self.auxk_k)]

    def _dead_for_auxk(self) -> torch.Tensor | None:
        if not self.training or self.auxk_coefficient == 0:
            return None
        dead = self.dead_mask()
        return dead if bool(dead.any()) else None

    def _reconstructions(self, codes=None, h=None) -> list[torch.Tensor]:
        """Normalized reconstructions, one per Matryoshka prefix (one for the others)."""
        outs, total = [], None
        start = 0
        for stop in self.prefixes:
            if codes is not None:
                if len(self.prefixes) == 1:
                    part = decode(codes, self.W_dec)
                else:
                    inside = (codes.indices >= start) & (codes.indices < stop)
                    part = decode(codes.with_values(codes.values * inside), self.W_dec)
            else:
                part = h[:, start:stop] @ self.W_dec[start:stop].to(h.dtype)
            total = part if total is None else total + part
            outs.append(total.to(self.b_dec.dtype) + self.b_dec)
            start = stop
        return outs

    def loss_terms(self, x: torch.Tensor, *rest: torch.Tensor, generator: torch.Generator | None = None):
        """Named terms on a batch of raw inputs ``x`` (n, d) (see the module docstring)."""
        xn = (x * self.input_scale).to(self.W_enc.dtype)
        n = x.shape[0]
        dead = self._dead_for_auxk()
        if self.sparse_kernels:
            def select(z):
                return [self.activation.select(z), *self._aux_selection(z, dead)]

            parts = select_encode(xn, self.b_dec, self.W_enc, self.b_enc, select, self._compute_dtype(x.device),
                                  self.workspace)
            codes, aux = parts[0], parts[1:]
            recons = self._reconstructions(codes=codes)
            z = h = None
            fired = codes.fired()
        else:
            z = F.linear(xn - self.b_dec, self.W_enc, self.b_enc)
            h = self.activation(z)
            recons = self._reconstructions(h=h)
            aux = []
            if dead is not None:
                aux = self._aux_selection(z.detach(), dead)
                values = torch.relu(upcast(z[aux[0].row_ids(), aux[0].indices]))
                aux = [aux[0].with_values(values)]
            fired = (h != 0).any(dim=0)
        with torch.autocast(device_type=x.device.type, enabled=False):
            terms = {"reconstruction": sum(((r - xn) ** 2).sum() for r in recons) / (n * len(recons))}
            if aux:
                residual = (xn - recons[-1]).detach()
                terms["auxk"] = self.auxk_coefficient * ((decode(aux[0], self.W_dec) - residual) ** 2).sum() / n
            if h is not None:
                hf = upcast(h)
                if not self.unit_norm_decoder:
                    hf = hf * torch.linalg.vector_norm(self.W_dec, dim=1)
                penalties = self.activation.loss_terms(upcast(z), hf)
                w = self._warmup()
                terms.update({k: v * w for k, v in penalties.items()})
        if self.training:
            self._record_firing(fired, n)
        return terms

    def fused_step(self, compute_dtype: torch.dtype):
        """The hand-written step (:class:`~aekit.autoencoders._sae_step.SparseDictionaryStep`) on the
        sparse path of TopK and BatchTopK; None otherwise (Matryoshka, ReLU, JumpReLU, dense kernels)."""
        if not self.sparse_kernels or len(self.prefixes) > 1:
            return None
        from aekit.autoencoders._sae_step import SparseDictionaryStep

        return SparseDictionaryStep(self, compute_dtype)

    def before_optimizer_step(self) -> None:
        """Remove the gradient component along each atom (unit-norm decoder)."""
        if self.unit_norm_decoder and self.W_dec.grad is not None:
            remove_parallel_component(self.W_dec.grad, self.W_dec.detach())

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Renormalize the atoms; count the step."""
        if self.unit_norm_decoder:
            normalize_rows_(self.W_dec)
        self.steps += 1

    def on_epoch_start(self, epoch: int, max_epochs: int, data) -> None:
        self.activation.on_epoch_start(epoch, max_epochs)

    # ------------------------------------------------------------ scale folding
    @torch.no_grad()
    def rescale_inputs(self, scale: float) -> None:
        """Use ``scale`` as the input scale s from now on, keeping the map on raw inputs the same.

        With ``c = scale / s``: ``b_enc``, ``b_dec`` and the activation's
        thresholds are multiplied by ``c``, so the codes are ``c`` times larger
        and the reconstructions of raw inputs unchanged. ``rescale_inputs(1.0)``
        folds s into the weights (codes in raw units).
        """
        c = float(scale) / float(self.input_scale)
        self.b_enc.mul_(c)
        self.b_dec.mul_(c)
        self.activation.scale_codes(c)
        self.input_scale.fill_(float(scale))

    # ------------------------------------------------------------ diagnostics
    @torch.no_grad()
    def epoch_metrics(self, data) -> dict[str, float]:
        """On the first 10 000 training rows: ``fvu``, ``l0`` (mean active latents) and ``dead_fraction``
        (of latents that have not fired for ``dead_tokens`` rows)."""
        sq_err, total_sq, total, active, n = 0.0, 0.0, None, 0.0, 0
        for (xb, *_rest) in data.chunks(CHUNK_ROWS, METRIC_ROWS):
            xb = xb.to(self.W_enc.dtype)
            codes = self.sparse_features(xb)
            sq_err += float(((self.decode(codes) - xb) ** 2).sum())
            active += float((codes.values != 0).sum())
            total = xb.sum(dim=0, dtype=torch.float64) if total is None else total + xb.sum(dim=0, dtype=torch.float64)
            total_sq += float((xb.double() ** 2).sum())
            n += xb.shape[0]
        variance = total_sq - float((total * total).sum()) / max(n, 1)
        return {
            "fvu": sq_err / variance if variance > 0 else float("nan"),
            "l0": active / max(n, 1),
            "dead_fraction": float(self.dead_mask().float().mean()),
        }


SparseDictionaryModule.__doc__ = SparseDictionaryModule.__doc__.replace("{parameters}", parameters_doc(SAE_OPTIONS))

"""Arrays that show what a model learned: filter tiles, preferred inputs, activation maximization,
and the latents of sparse autoencoders on network activations.

Sparse autoencoders (:class:`~aekit.autoencoders.SparseDictionary`):

- :func:`top_activations`: one pass over an activation store or an array,
  keeping per latent its top rows (a running top-N), firing count and an
  activation histogram in log-spaced bins (:class:`LatentActivations`);
  :func:`merge_top` is its exact running-top merge, :func:`choose_latents`
  picks latents spread over firing frequency.
- :func:`token_contexts`, :func:`context_activations`: the tokens around a
  harvested row (from the store's index) and a latent's activation on each.
- :func:`logit_lens`, :func:`promoted_tokens`: the tokens whose logits a
  latent's decoder direction raises and lowers most.
- :func:`inspect_latents` / :func:`inspect_store`: all of it for the chosen
  latents, as a :class:`LatentReport` (which ``aekit.viz.write_latent_report``
  and the explorer's ``latents`` panel draw).
"""

from aekit.inspection._activation_maximization import (
    ActivationMaximization,
    activation_maximization,
    mean_pairwise_cosine,
    project_onto_constraint,
)
from aekit.inspection._contexts import TokenContexts, context_activations, decode_tokens, token_contexts
from aekit.inspection._latent_report import LatentReport, inspect_latents, inspect_store
from aekit.inspection._latents import (
    LatentActivations,
    choose_latents,
    histogram_edges,
    merge_top,
    top_activations,
)
from aekit.inspection._logit_lens import LogitLens, PromotedTokens, logit_lens, promoted_tokens
from aekit.inspection._preferred_inputs import preferred_inputs
from aekit.inspection._tiles import tile_images

__all__ = [
    "tile_images",
    "preferred_inputs",
    "activation_maximization",
    "ActivationMaximization",
    "mean_pairwise_cosine",
    "project_onto_constraint",
    "top_activations",
    "LatentActivations",
    "merge_top",
    "histogram_edges",
    "choose_latents",
    "token_contexts",
    "TokenContexts",
    "context_activations",
    "decode_tokens",
    "logit_lens",
    "LogitLens",
    "promoted_tokens",
    "PromotedTokens",
    "inspect_latents",
    "inspect_store",
    "LatentReport",
]

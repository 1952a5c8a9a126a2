"""Arrays that show what a model learned: filter tiles, preferred inputs, activation maximization."""

from aekit.inspection._activation_maximization import (
    ActivationMaximization,
    activation_maximization,
    mean_pairwise_cosine,
    project_onto_constraint,
)
from aekit.inspection._preferred_inputs import preferred_inputs
from aekit.inspection._tiles import tile_images

__all__ = [
    "tile_images",
    "preferred_inputs",
    "activation_maximization",
    "ActivationMaximization",
    "mean_pairwise_cosine",
    "project_onto_constraint",
]

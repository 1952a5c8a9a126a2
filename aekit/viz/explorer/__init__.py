"""The interactive explorer: one offline HTML page to play with fitted models.

:func:`write_explorer` turns run folders into one self-contained page (no
server, no network; the script, style and data are inlined and a
Content-Security-Policy forbids every other source).

The page's data is a JSON document::

    {"format": "aekit-explorer", "version": 1, "title": ..., "precision": "float32" | "float16",
     "runs":     [{"name", "path", "estimator", "dataset", "notes"}],
     "datasets": {KEY: {"name", "n_samples", "n_features", "image_shape", "rows",
                        "images" (uint8, with "range") | "values" (raw points),
                        "labels", "label_kind": "class" | "continuous", "label_names"}},
     "panels":   [{"kind": ..., "id", "run", "title", "notes", ...}]}

Arrays are ``{"dtype", "shape", "b64"}`` (little-endian float32, float16,
int32 or uint8). A panel refers to images and labels by row of a dataset
(``"dataset": KEY, "rows": [...]``); each dataset stores only the rows some
panel refers to. The panel kinds:

- ``"autoencoder"``: ``encoder`` and ``decoder`` lists of layers
  ``{"weight" (out, in) | null, "transpose_of": i | null, "bias", "offset" | null,
  "activation": {"name", "k"?}}``, ``image_shape``, ``corruption``
  ``{"kind", "level"}`` | null, ``input_range``, ``first_layer_code``,
  ``samples`` (inputs to pick), ``units`` (top-activating rows and values per
  code unit; ``preferred_inputs`` for deep codes), ``directions`` (mean code,
  principal directions of the codes and their standard deviations);
- ``"embedding"``: ``points`` (n, 2), ``axes``, ``dataset``, ``rows``;
- ``"som"``: ``grid_shape``, ``topology``, ``positions``, ``u_matrix``,
  ``codebook``, ``hit_map``, ``winners`` (rows won by each unit), ``image_shape``;
- ``"curves"``: ``series`` ``[{"name", "x", "y", "visible"}]``, ``x_label``.

A new kind of model gets a builder in :mod:`aekit.viz.explorer._panels` and
a renderer of its panel kind in ``explorer.js`` (the page lists a kind it does
not know, and shows the rest).
"""

from aekit.viz.explorer._encode import decode_array
from aekit.viz.explorer._mlp import UnsupportedModel, describe, error_bound, forward
from aekit.viz.explorer._page import (
    DEFAULT_MAX_MB,
    DEFAULT_MAX_POINTS,
    PageTooLarge,
    build_document,
    render_explorer,
    write_explorer,
)
from aekit.viz.explorer._panels import UnsupportedRun, supported_models

__all__ = [
    "write_explorer",
    "build_document",
    "render_explorer",
    "PageTooLarge",
    "UnsupportedRun",
    "UnsupportedModel",
    "supported_models",
    "describe",
    "forward",
    "error_bound",
    "decode_array",
    "DEFAULT_MAX_MB",
    "DEFAULT_MAX_POINTS",
]

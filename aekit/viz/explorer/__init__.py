"""The interactive explorer: one offline HTML page to play with fitted models.

:func:`write_explorer` turns run folders into one self-contained page (no
server, no network; the script, style and data are inlined and a
Content-Security-Policy forbids every other source).

The page's data is a JSON document::

    {"format": "aekit-explorer", "version": 1, "title": ..., "precision": "float32" | "float16",
     "runs":     [{"name", "path", "estimator", "dataset", "notes"}],
     "datasets": {KEY: {"name", "n_samples", "n_features", "image_shape", "rows",
                        "images" (uint8, with "range") | "values" (raw points),
                        "contexts" {"tokens": [[str, ...] per row], "position"} (rows that are tokens),
                        "labels", "label_kind": "class" | "continuous", "label_names"}},
     "panels":   [{"kind": ..., "id", "run", "title", "notes", ...}]}

Arrays are ``{"dtype", "shape", "b64"}`` (little-endian float32, float16,
int32 or uint8). A panel refers to images and labels by row of a dataset
(``"dataset": KEY, "rows": [...]``); each dataset stores only the rows some
panel refers to, in the order of its ``rows``. The panel kinds:

- ``"autoencoder"``: ``encoder`` and ``decoder`` lists of layers
  ``{"weight" (out, in) | null, "transpose_of": i | null, "bias", "offset" | null,
  "activation": {"name", "k"?}}``, ``image_shape``, ``corruption``
  ``{"kind": "masking" | "gaussian" | "salt_and_pepper", "level", "source"}``
  | null (canonical, whatever alias the model was configured with; ``source``:
  ``"training"``, or ``"first-layer pretraining"`` for a stack), ``input_range``,
  ``first_layer_code``, ``samples`` (inputs to pick), ``units`` (top-activating
  rows and values per code unit; ``preferred_inputs`` for deep codes),
  ``directions`` (mean code, principal directions of the codes and their
  standard deviations);
- ``"embedding"``: ``points`` (n, 2), ``axes``, ``dataset``, ``rows``;
- ``"som"``: ``grid_shape``, ``topology``, ``positions``, ``u_matrix``,
  ``codebook``, ``hit_map``, ``winners`` (rows won by each unit), ``image_shape``;
- ``"curves"``: ``series`` ``[{"name", "x", "y", "visible"}]``, ``x_label``;
- ``"latents"``: the latent browser of a sparse autoencoder
  (:class:`~aekit.autoencoders.SparseDictionary`): per shown latent its top
  rows and activations, its contexts (rows of a :class:`RowsOnly` dataset of
  the activation store, whose contexts the document holds) with the latent's
  activation on every token, or its top images, its activation histogram,
  firing frequency and promoted tokens (see :mod:`aekit.viz.explorer._latents`).

A unit's filter. For a first-layer code the page shows the unit's weight row
(its filter) and the input of the data's norm that maximizes it (that row,
scaled). A deeper code has no weight row in input space; the page shows its
*local filter* at the current input, the gradient of its pre-activation with
respect to the input (backpropagated through the encoder in the page; for a
first-layer code it is the weight row), and its activation-maximizing input
found by gradient ascent in Python (``units.preferred_inputs``), and says so
in the unit view.

Extending the explorer (the sparse-autoencoder latent browser, say):

1. **A builder** for the new estimator class, registered with
   :func:`register_panels` (``@register_panels(MySAE)``): a callable
   ``builder(run, table, *, max_points) -> list of panels`` that makes each
   panel with :func:`panel` (``panel(run, "latents", title, **content)``).
   It is chosen for the most specific registered class in the estimator's
   MRO; the training curves are appended for every run. Runs that do not
   live in folders can be passed to :func:`build_document` as :class:`Run`
   objects.
2. **Rows, not copies.** A builder registers the dataset its panels show with
   ``key = table.key(name, data)`` and records the rows it refers to with
   ``table.use(key, rows)``. Rows that are tokens of a text carry their
   context: ``table.key(name, data, contexts=source)`` with ``source(rows)``
   returning one :class:`TokenContext` (``tokens``, ``position``) per row;
   the document then holds ``datasets[KEY]["contexts"]`` and the page shows a
   row's context (its token marked) wherever it would show its image: the
   scatter's hover, a SOM unit's samples, a code unit's top rows
   (``Datasets.preview`` / ``Datasets.contextEl`` in ``explorer.js``).
3. **A renderer** for a new panel kind, in ``explorer.js``: a class
   ``constructor(panel, ctx, section)`` (``ctx.data``: the datasets,
   ``ctx.selections``: linked selections by dataset key, ``ctx.precision``)
   with ``state()`` returning what the browser tests read back, added to
   ``RENDERERS`` under the kind's name. A page that meets a kind it has no
   renderer for lists it and shows the rest.
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
from aekit.viz.explorer._latents import LATENT_REPORT_FOLDER, save_latent_report
from aekit.viz.explorer._panels import (
    DatasetTable,
    PanelBuilder,
    RowsOnly,
    Run,
    TokenContext,
    UnsupportedRun,
    panel,
    panel_builder,
    read_run,
    register_panels,
    supported_models,
)

__all__ = [
    "write_explorer",
    "build_document",
    "render_explorer",
    "PageTooLarge",
    "UnsupportedRun",
    "UnsupportedModel",
    "supported_models",
    "register_panels",
    "panel_builder",
    "panel",
    "PanelBuilder",
    "Run",
    "read_run",
    "DatasetTable",
    "RowsOnly",
    "TokenContext",
    "save_latent_report",
    "LATENT_REPORT_FOLDER",
    "describe",
    "forward",
    "error_bound",
    "decode_array",
    "DEFAULT_MAX_MB",
    "DEFAULT_MAX_POINTS",
]

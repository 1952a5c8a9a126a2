"""Benchmarks that ship with aekit: reproductions of published results (``aekit bench paper``).

- :data:`RECIPES`: one recipe per published result (name -> :class:`Recipe`).
- :func:`run_recipe`: run one on MNIST (or natural image patches) at a budget, once
  per seed, with a :class:`Context` (budget, data, device, precision); returns a
  :class:`PaperResult` (rows of setting, published number, ours, time).
- :func:`format_table`, :func:`update_results_file`: the printed table and
  the Markdown results file (one section per recipe and budget, replaced atomically).
- Provenance of every results file: :func:`machine_description`, :func:`git_commit`,
  :func:`command_line`, ...

(The timing scripts that compare aekit with other libraries are not part of the
package: they live in the repository's ``benchmarks/`` folder.)
"""

from aekit.bench import _paper, _provenance
from aekit.bench._paper import *  # noqa: F401,F403  (the names of _paper.__all__)
from aekit.bench._provenance import *  # noqa: F401,F403  (the names of _provenance.__all__)

__all__ = [*_paper.__all__, *_provenance.__all__]

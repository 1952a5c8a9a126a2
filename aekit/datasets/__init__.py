"""Datasets: loaders returning :class:`Dataset` records.

- Downloaded and cached: :func:`load_mnist`, :func:`load_fashion_mnist` (IDX
  files read by :func:`read_idx`).
- Always offline: :func:`load_digits`, :func:`natural_image_patches`,
  :func:`make_swiss_roll`, :func:`make_s_curve`, :func:`make_ica_mixture`,
  :func:`make_sparse_dictionary_data` (activations from a known sparse dictionary),
  :func:`make_sfa_signal`.
- User data: :func:`load` (.npy, .npz, .csv, folders of images).
- Text for language models (:class:`TextCorpus`, split by document):
  :func:`get_text` (``"python-docs"``, ``"shakespeare"``, ``"docstrings"`` or
  text files), :func:`load_token_documents` for token-id arrays.
- By name: :func:`get_dataset`, :func:`list_datasets`.

(The input corruptions of denoising autoencoders live with the model, in
:mod:`aekit.autoencoders`.)
"""

from aekit.datasets._base import Dataset, get_data_home
from aekit.datasets._digits import load_digits
from aekit.datasets._idx import read_idx
from aekit.datasets._manifolds import make_s_curve, make_swiss_roll
from aekit.datasets._sparse_dictionary import make_sparse_dictionary_data
from aekit.datasets._mnist import DownloadError, load_fashion_mnist, load_mnist
from aekit.datasets._patches import natural_image_patches
from aekit.datasets._signals import make_ica_mixture, make_sfa_signal
from aekit.datasets._registry import dataset_names, get_dataset, list_datasets
from aekit.datasets._text import (
    TextCorpus,
    TokenDocuments,
    get_text,
    join_corpora,
    list_text_sources,
    load_python_docs,
    load_shakespeare,
    load_stdlib_docstrings,
    load_text_files,
    load_token_documents,
    split_documents,
    text_source_names,
)
from aekit.datasets._user import load

__all__ = [
    "Dataset",
    "get_data_home",
    "read_idx",
    "load_mnist",
    "load_fashion_mnist",
    "DownloadError",
    "load_digits",
    "natural_image_patches",
    "load",
    "make_swiss_roll",
    "make_sparse_dictionary_data",
    "make_s_curve",
    "make_ica_mixture",
    "make_sfa_signal",
    "get_dataset",
    "list_datasets",
    "dataset_names",
    "TextCorpus",
    "TokenDocuments",
    "get_text",
    "join_corpora",
    "list_text_sources",
    "load_python_docs",
    "load_shakespeare",
    "load_stdlib_docstrings",
    "load_text_files",
    "load_token_documents",
    "split_documents",
    "text_source_names",
]

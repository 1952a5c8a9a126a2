"""The on-disk activation store: fixed-size ``.npy`` shards, an index beside each, a JSON manifest.

::

    STORE/
      manifest.json              what, how and how far (below)
      shard-000000.npy           (rows, d) activations, float32 / float16 / bfloat16 (as uint16 bits)
      shard-000000.index.npy     (rows, k) int32: where each row came from (``columns``)
      shard-000001.npy ...

Every shard holds ``rows_per_shard`` rows except the last. Shards are plain
``.npy`` files: any tool reads them, ``np.load(mmap_mode="r")`` maps them
without reading, and a run of rows is one contiguous byte range (header +
``row * d * itemsize``), so the training stream reads blocks of rows with one
positioned read each. NumPy has no bfloat16, so bfloat16 shards hold the raw
16-bit patterns as ``uint16`` and the manifest's ``dtype`` says how to read them.

The manifest records the data (``d``, ``dtype``, ``rows``, ``columns`` of the
index), the settings that produced it (model, layer, text source, context,
position handling, ...; a resumed harvest must match them), every shard with
its row count and the SHA-256 of both files, the harvest's resume point and
its running statistics, and whether the store is ``complete``.

Writes are atomic and ordered: a shard's two files are each written to a
temporary name and renamed into place, and only then is the manifest
(atomically) replaced by one that lists the shard. The manifest therefore
never names a shard that is not whole; files a killed writer left behind
(unlisted shards, temporary files) are removed when the harvest resumes.
"""

from __future__ import annotations

import errno
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from aekit.io import atomic_path, atomic_write_json, file_digest

__all__ = ["ActivationStore", "StoreError", "StoreWriter", "STORE_DTYPES", "from_storage", "to_storage"]

FORMAT = "aekit-activations"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

#: Store dtype name -> (NumPy dtype of the file, torch dtype of the values).
STORE_DTYPES = {
    "float32": (np.dtype("<f4"), torch.float32),
    "float16": (np.dtype("<f2"), torch.float16),
    "bfloat16": (np.dtype("<u2"), torch.bfloat16),
}
_REQUIRED = ("format", "version", "d", "dtype", "rows_per_shard", "columns", "settings", "shards", "rows",
             "complete", "progress")


class StoreError(ValueError):
    """An activation store that is missing, malformed, corrupt or does not match what reads it."""


def _check_dtype(dtype: str) -> str:
    if dtype not in STORE_DTYPES:
        raise ValueError(f"Unknown store dtype {dtype!r}: use one of {', '.join(map(repr, STORE_DTYPES))}.")
    return dtype


def to_storage(t: torch.Tensor, dtype: str) -> np.ndarray:
    """``t`` (n, d) as the NumPy array a shard of ``dtype`` stores (bfloat16: its uint16 bit patterns)."""
    t = t.detach().to(device="cpu", dtype=STORE_DTYPES[dtype][1]).contiguous()
    if dtype == "bfloat16":
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def from_storage(a: np.ndarray, dtype: str) -> torch.Tensor:
    """The torch tensor of stored rows ``a`` of ``dtype``: sharing its memory, or a copy of a read-only array."""
    if not a.flags.writeable:
        a = np.array(a)
    if dtype == "bfloat16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _shard_names(k: int) -> tuple[str, str]:
    return f"shard-{k:06d}.npy", f"shard-{k:06d}.index.npy"


def _npy_header(path: Path) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, byte offset of the data) from a ``.npy`` header, without reading the data."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise StoreError(f"{path}: .npy format version {version} is not a shard's (1.0 or 2.0).")
        shape, fortran, dtype = read(fh)
        if fortran:
            raise StoreError(f"{path}: Fortran-ordered arrays are not shards.")
        return shape, dtype, fh.tell()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ActivationStore:
    """Read an activation store (see the module docstring).

    Opening reads the manifest and every shard's ``.npy`` header and size, so a
    store whose files do not match its manifest is refused at once; the
    contents are checked against their SHA-256 by :meth:`verify` (or
    ``verify=True`` here), which reads every byte.

    Parameters
    ----------
    path : str or Path
        The store's folder.
    verify : bool
        Also check every shard's checksum now.

    Attributes
    ----------
    d : int
        Activation width (columns of a shard).
    dtype : str
        ``"float32"``, ``"float16"`` or ``"bfloat16"``.
    columns : tuple of str
        Names of the index columns (``"token"``, ``"document"``, ...).
    settings : dict
        What produced the store (model, layer, source, ...).
    shard_rows : list of int
        Rows in each shard.
    """

    def __init__(self, path, *, verify: bool = False):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise StoreError(f"{self.path} is not an activation store: {MANIFEST} is missing.")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{manifest_path} is not readable JSON ({exc}).") from None
        self.manifest = _check_manifest(manifest, manifest_path)
        self.d = int(manifest["d"])
        self.dtype = manifest["dtype"]
        self.columns = tuple(manifest["columns"])
        self.settings = manifest["settings"]
        self.shard_rows = [int(s["rows"]) for s in manifest["shards"]]
        self._offsets = [self._check_shard(k) for k in range(len(self.shard_rows))]
        self._starts = np.concatenate([[0], np.cumsum(self.shard_rows)]).astype(np.int64)
        if int(self._starts[-1]) != int(manifest["rows"]):
            raise StoreError(f"{manifest_path}: rows={manifest['rows']} but its shards hold {int(self._starts[-1])}.")
        if verify:
            self.verify()

    # ------------------------------------------------------------ facts
    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def n_shards(self) -> int:
        return len(self.shard_rows)

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    @property
    def row_bytes(self) -> int:
        return self.d * STORE_DTYPES[self.dtype][0].itemsize

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return f"ActivationStore({str(self.path)!r}, rows={len(self)}, d={self.d}, dtype={self.dtype}, shards={self.n_shards}, {state})"

    def check_dim(self, d: int, consumer: str = "the model") -> None:
        """Raise a clear error unless rows have ``d`` columns (what ``consumer`` expects)."""
        if int(d) != self.d:
            raise StoreError(
                f"{self.path} holds activations of width d={self.d} "
                f"(layer {self.settings.get('layer')!r} of {self.settings.get('model')!r}), but {consumer} "
                f"expects d={int(d)}; harvest the matching layer or build {consumer} with {self.d} inputs."
            )

    # ------------------------------------------------------------ files
    def shard_path(self, k: int) -> Path:
        return self.path / _shard_names(k)[0]

    def index_path(self, k: int) -> Path:
        return self.path / _shard_names(k)[1]

    def _check_shard(self, k: int) -> int:
        rows = self.shard_rows[k]
        expected = {
            self.shard_path(k): ((rows, self.d), STORE_DTYPES[self.dtype][0]),
            self.index_path(k): ((rows, len(self.columns)), np.dtype("<i4")),
        }
        offset = 0
        for path, (shape, dtype) in expected.items():
            if not path.is_file():
                raise StoreError(f"{self.path}: the manifest lists {path.name}, which is missing.")
            try:
                got_shape, got_dtype, off = _npy_header(path)
            except (OSError, ValueError) as exc:
                raise StoreError(f"{path} is not a readable .npy file ({exc}).") from None
            if tuple(got_shape) != shape or got_dtype != dtype:
                raise StoreError(f"{path} holds {got_dtype} {tuple(got_shape)}, but the manifest says {dtype} {shape}.")
            size = path.stat().st_size
            if size != off + int(np.prod(shape)) * dtype.itemsize:
                raise StoreError(f"{path} is {size} bytes, not the {off + int(np.prod(shape)) * dtype.itemsize} its header "
                                 "promises (truncated or padded).")
            if path == self.shard_path(k):
                offset = off
        return offset

    def verify(self) -> None:
        """Check every shard file against its SHA-256 in the manifest; raise naming the ones that differ."""
        bad = []
        for k, entry in enumerate(self.manifest["shards"]):
            for path, key in ((self.shard_path(k), "sha256"), (self.index_path(k), "index_sha256")):
                if file_digest(path) != entry[key]:
                    bad.append(path.name)
        if bad:
            raise StoreError(
                f"{self.path}: checksum mismatch in {', '.join(bad)}: the file(s) changed after they were written "
                "(disk corruption or an edit). Delete the store and harvest again."
            )

    def fingerprint(self) -> str:
        """SHA-256 over the shards' checksums: equal stores, equal fingerprint (no file is read)."""
        digest = hashlib.sha256()
        for entry in self.manifest["shards"]:
            digest.update((entry["sha256"] + entry["index_sha256"]).encode())
        return digest.hexdigest()

    # ------------------------------------------------------------ rows
    def shard(self, k: int) -> np.ndarray:
        """Shard ``k`` memory-mapped read-only, (rows, d) in the file's dtype (bfloat16: uint16 bits)."""
        return np.load(self.shard_path(k), mmap_mode="r")

    def index(self, k: int) -> np.ndarray:
        """Shard ``k``'s index, (rows, len(columns)) int32, memory-mapped read-only."""
        return np.load(self.index_path(k), mmap_mode="r")

    def read_block(self, k: int, start: int, stop: int, out: np.ndarray) -> None:
        """Read rows ``start:stop`` of shard ``k`` into ``out`` ((stop - start, d), the file's dtype).

        One positioned read, not a memory map: the bytes land in ``out`` and
        no file page stays mapped (mapped pages a process touched count in its
        resident set until they are unmapped).
        """
        n = stop - start
        if out.shape != (n, self.d) or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous ({n}, {self.d}), got {out.shape}.")
        view = memoryview(out.view(np.uint8).reshape(-1))
        with open(self.shard_path(k), "rb", buffering=0) as fh:
            fh.seek(self._offsets[k] + start * self.row_bytes)
            done = 0
            while done < view.nbytes:
                got = fh.readinto(view[done:])
                if not got:
                    raise StoreError(f"{self.shard_path(k)} ended early while reading rows {start}:{stop}.")
                done += got

    def rows(self, start: int = 0, stop: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Global rows ``start:stop`` (across shards) as a (n, d) tensor of ``dtype``."""
        stop = len(self) if stop is None else min(stop, len(self))
        out = np.empty((max(stop - start, 0), self.d), STORE_DTYPES[self.dtype][0])
        for k, lo, hi, at in self._spans(start, stop):
            self.read_block(k, lo, hi, out[at : at + hi - lo])
        return from_storage(out, self.dtype).to(dtype)

    def index_rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The index of global rows ``start:stop``, (n, len(columns)) int32."""
        stop = len(self) if stop is None else min(stop, len(self))
        parts = [np.asarray(self.index(k)[lo:hi]) for k, lo, hi, _ in self._spans(start, stop)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.columns)), np.int32)

    def _spans(self, start: int, stop: int):
        """(shard, first row, end row, offset in the result) covering global rows start:stop."""
        at = 0
        for k in range(self.n_shards):
            lo, hi = max(start, self._starts[k]), min(stop, self._starts[k + 1])
            if lo < hi:
                yield k, int(lo - self._starts[k]), int(hi - self._starts[k]), at
                at += int(hi - lo)


def _check_manifest(manifest, where: Path) -> dict:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError(f"{where} is not an aekit activation-store manifest (format != {FORMAT!r}).")
    if manifest.get("version") != FORMAT_VERSION:
        raise StoreError(f"{where}: store format version {manifest.get('version')!r}; this aekit reads version {FORMAT_VERSION}.")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise StoreError(f"{where} lacks {', '.join(missing)}.")
    if manifest["dtype"] not in STORE_DTYPES:
        raise StoreError(f"{where}: unknown dtype {manifest['dtype']!r}.")
    for i, entry in enumerate(manifest["shards"]):
        if not isinstance(entry, dict) or {"rows", "sha256", "index_sha256"} - set(entry):
            raise StoreError(f"{where}: shard entry {i} lacks rows / sha256 / index_sha256.")
    return manifest


class StoreWriter:
    """Append rows to a new store, or resume one a killed harvest left behind.

    Rows arrive in batches numbered 0, 1, 2, ... (:meth:`append`); they fill
    an in-memory shard that is committed (written, then listed in the
    manifest) whenever it holds ``rows_per_shard`` rows. Each commit records
    the resume point: the batch to run again and how many of its rows are
    already stored. The running statistics handed to :meth:`append` with each
    batch are committed only for batches whose rows are all stored, so that a
    resumed harvest, which runs the partly stored batch again, counts it once.

    Parameters
    ----------
    path : str or Path
        The store's folder (created; an existing store needs ``resume=True``).
    d : int
        Activation width.
    dtype : str
        Storage dtype (:data:`STORE_DTYPES`).
    rows_per_shard : int
        Rows per shard file.
    columns : sequence of str
        Names of the index columns.
    settings : dict
        What produces the store (JSON); a resumed store must have the same.
    resume : bool
        Continue the store at ``path`` (from its last committed shard).
    """

    def __init__(self, path, *, d: int, dtype: str, rows_per_shard: int, columns, settings: dict, resume: bool = False):
        self.path = Path(path)
        self.d, self.dtype, self.rows_per_shard = int(d), _check_dtype(dtype), int(rows_per_shard)
        if self.rows_per_shard < 1:
            raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}.")
        self.columns = tuple(columns)
        header = {"d": self.d, "dtype": self.dtype, "rows_per_shard": self.rows_per_shard,
                  "columns": list(self.columns), "settings": json.loads(json.dumps(settings))}
        if (self.path / MANIFEST).is_file():
            if not resume:
                raise FileExistsError(
                    f"{self.path} already holds an activation store; resume it (resume=True, --resume) or choose "
                    "another output folder."
                )
            self.manifest = _check_manifest(json.loads((self.path / MANIFEST).read_text()), self.path / MANIFEST)
            _check_same(self.path, {k: self.manifest[k] for k in header}, header)
            self._remove_uncommitted()
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise FileExistsError(f"{self.path} exists and is not an activation store; choose an empty or new folder.")
            self.path.mkdir(parents=True, exist_ok=True)
            self.manifest = {"format": FORMAT, "version": FORMAT_VERSION, **header, "shards": [], "rows": 0,
                             "complete": False, "progress": {"batch": 0, "skip": 0, "stats": {}},
                             "created": _now(), "updated": _now()}
            atomic_write_json(self.path / MANIFEST, self.manifest)
        np_dtype = STORE_DTYPES[self.dtype][0]
        self._rows = np.empty((self.rows_per_shard, self.d), np_dtype)
        self._index = np.empty((self.rows_per_shard, len(self.columns)), np.int32)
        self._fill = 0
        self._batch, self._batch_stored = self.resume_point  # the batch being stored, rows of it already stored
        self._stats_done = dict(self.manifest["progress"]["stats"])  # over batches fully stored
        self._stats_running = dict(self._stats_done)

    # ------------------------------------------------------------ state
    @property
    def rows(self) -> int:
        """Rows committed to disk."""
        return int(self.manifest["rows"])

    @property
    def pending(self) -> int:
        """Rows appended but not yet committed (the shard being filled)."""
        return self._fill

    @property
    def resume_point(self) -> tuple[int, int]:
        """``(batch, skip)``: the batch a harvest runs next, and how many of its first rows are already stored."""
        p = self.manifest["progress"]
        return int(p["batch"]), int(p["skip"])

    @property
    def stats(self) -> dict:
        """The running statistics committed so far (over fully stored batches)."""
        return dict(self.manifest["progress"]["stats"])

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    def set_info(self, key: str, value) -> None:
        """Record ``value`` (JSON) under ``key`` in the manifest at the next commit (e.g. a calibration)."""
        self.manifest.setdefault("info", {})[key] = value

    def _remove_uncommitted(self) -> None:
        listed = {n for k in range(len(self.manifest["shards"])) for n in _shard_names(k)} | {MANIFEST}
        for p in self.path.iterdir():
            if p.name not in listed and (p.name.startswith("shard-") or p.name.startswith(".")):
                p.unlink()

    # ------------------------------------------------------------ writing
    def append(self, rows: np.ndarray, index: np.ndarray, batch: int, stats: dict | None = None) -> None:
        """Store ``rows`` ((n, d), the store's NumPy dtype) and their ``index`` ((n, k) int32) of batch ``batch``.

        Batches arrive in order. ``stats`` (numbers) are the batch's
        contributions to the running statistics, summed per key.
        """
        if batch < self._batch:
            raise ValueError(f"batch {batch} arrived after batch {self._batch}; batches must come in order.")
        if rows.shape[1:] != (self.d,) or index.shape != (rows.shape[0], len(self.columns)):
            raise ValueError(f"append takes rows (n, {self.d}) and index (n, {len(self.columns)}), got "
                             f"{rows.shape} and {index.shape}.")
        if batch > self._batch:
            self._batch, self._batch_stored = batch, 0
        self._stats_done = dict(self._stats_running)
        for key, value in (stats or {}).items():
            self._stats_running[key] = self._stats_running.get(key, 0) + value
        start = 0
        while start < rows.shape[0]:
            take = min(rows.shape[0] - start, self.rows_per_shard - self._fill)
            self._rows[self._fill : self._fill + take] = rows[start : start + take]
            self._index[self._fill : self._fill + take] = index[start : start + take]
            self._fill += take
            start += take
            self._batch_stored += take
            if self._fill == self.rows_per_shard:
                done = start == rows.shape[0]
                point = (batch + 1, 0) if done else (batch, self._batch_stored)
                self._commit(point, self._stats_running if done else self._stats_done)

    def finish(self, next_batch: int) -> None:
        """Commit the last (partial) shard and mark the store complete; ``next_batch``: the first batch not run."""
        self._commit((next_batch, 0), self._stats_running, complete=True)

    def _commit(self, point: tuple[int, int], stats: dict, complete: bool = False) -> None:
        k = len(self.manifest["shards"])
        names = _shard_names(k)
        manifest = dict(self.manifest)
        manifest["shards"] = list(self.manifest["shards"])
        try:
            if self._fill:
                digests = [self._write(self.path / names[0], self._rows[: self._fill]),
                           self._write(self.path / names[1], self._index[: self._fill])]
                manifest["shards"].append({"file": names[0], "rows": self._fill,
                                           "sha256": digests[0], "index_sha256": digests[1]})
            manifest["rows"] = self.rows + self._fill
            manifest["progress"] = {"batch": int(point[0]), "skip": int(point[1]), "stats": dict(stats)}
            manifest["complete"] = complete
            manifest["updated"] = _now()
            atomic_write_json(self.path / MANIFEST, manifest)
        except OSError as exc:
            for name in names:  # not listed in the manifest on disk: remove, to give the space back
                (self.path / name).unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                need = self._fill * (self.d * STORE_DTYPES[self.dtype][0].itemsize + 4 * len(self.columns))
                raise OSError(
                    exc.errno,
                    f"No space left on the device holding {self.path} while writing shard {k} (about {need} bytes). "
                    f"The store is consistent: {k} complete shard(s), {self.rows} rows. Free some space and run "
                    "the same harvest again with resume (--resume); it continues from there.",
                ) from exc
            raise
        self.manifest = manifest
        self._fill = 0

    @staticmethod
    def _write(path: Path, array: np.ndarray) -> str:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
            digest = file_digest(tmp)
        return digest


def _check_same(path: Path, stored: dict, wanted: dict) -> None:
    """Refuse to resume a store with other settings, naming every difference."""
    diffs = []

    def walk(a, b, where):
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{where}.{key}" if where else key)
        elif a != b:
            diffs.append(f"{where}: stored {a!r}, now {b!r}")

    walk(stored, wanted, "")
    if diffs:
        raise StoreError(
            f"{path} was harvested with other settings, so resuming it would mix two harvests:\n  "
            + "\n  ".join(diffs) + "\nRun with the stored settings, or write to a new folder."
        )


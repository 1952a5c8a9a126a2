"""Checked downloads shared by the loaders: stream a URL into the cache, refuse a wrong checksum."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from aekit.io import atomic_path

__all__ = ["TIMEOUT", "fetch"]

TIMEOUT = 30.0  # seconds per connection attempt
_CHUNK = 1 << 16


def fetch(url: str, target: Path, expected: str, algorithm: str = "sha256") -> None:
    """Stream ``url`` into ``target`` atomically; a digest other than ``expected`` raises ValueError.

    The bytes go to a temporary file beside ``target`` while they are hashed,
    and the file is renamed into place only when the digest matches, so a
    failed or wrong download never leaves a file at ``target``.
    """
    from tqdm.auto import tqdm

    target = Path(target)
    request = urllib.request.Request(url, headers={"User-Agent": "aekit (python urllib)"})
    with atomic_path(target) as tmp:
        digest = hashlib.new(algorithm, usedforsecurity=False)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(tmp, "wb") as out:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=target.name, leave=False, disable=None) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if got != expected:
            # Raising inside atomic_path deletes the temporary file: the bad copy is never kept.
            raise ValueError(f"checksum mismatch: {algorithm} {got}, expected {expected}")

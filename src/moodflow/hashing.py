"""Content hashes used as ids for models, spaces and other artifacts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

ID_LENGTH = 16


def content_hash(parts: Iterable[bytes | str | Path]) -> str:
    """Return a 16-hex-digit SHA-256 prefix over `parts`.

    `Path` parts contribute the file's bytes, `str` parts their UTF-8 bytes.
    Each part is length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            data = part.read_bytes()
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            data = bytes(part)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:ID_LENGTH]

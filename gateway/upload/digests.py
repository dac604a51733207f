from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class Digests:
    sha256: str
    blake2b_256: str
    md5: str
    size: int


def digest_file(f: BinaryIO, chunk_size: int = 1024 * 1024) -> Digests:
    f.seek(0)
    sha256, blake2b = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    while chunk := f.read(chunk_size):
        size += len(chunk)
        sha256.update(chunk)
        blake2b.update(chunk)
        md5.update(chunk)
    return Digests(sha256.hexdigest(), blake2b.hexdigest(), md5.hexdigest(), size)

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from vestry.common.digests import TripleDigest


@dataclass(frozen=True)
class Digests:
    sha256: str
    blake2b_256: str
    md5: str
    size: int


def digest_file(f: BinaryIO, chunk_size: int = 1024 * 1024) -> Digests:
    f.seek(0)
    digest = TripleDigest()
    size = 0
    while chunk := f.read(chunk_size):
        size += len(chunk)
        digest.update(chunk)
    return Digests(digest.sha256, digest.blake2b_256, digest.md5, size)

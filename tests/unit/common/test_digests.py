from __future__ import annotations

import hashlib
import os

import pytest

from vestry.common.digests import TripleDigest


@pytest.mark.parametrize("sizes", [[0], [10], [1 << 20], [100, 1 << 20, 3, 70_000, 1 << 16]])
def test_same_digests_as_hashlib_in_order(sizes: list[int]) -> None:
    chunks = [os.urandom(n) for n in sizes]
    digest = TripleDigest()
    for chunk in chunks:
        digest.update(chunk)
    data = b"".join(chunks)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.blake2b_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert digest.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()

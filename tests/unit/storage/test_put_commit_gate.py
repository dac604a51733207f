"""A PutBlob whose caller holds the stream open after the last byte: storage verifies and syncs
the bytes as soon as all announced ones are in, but makes the blob visible only when the stream
ends; a stream cancelled meanwhile (the gateway's checks refused the upload) leaves nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from vestry.storage.v1 import storage_pb2

from vestry.common.errors import FailedPrecondition
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.errors import DigestMismatch
from vestry.services.storage.servicer import StorageServicer

DATA = os.urandom(3 * 1024 + 5)
SHA = hashlib.sha256(DATA).hexdigest()


def spooled(store: LocalBlobStore) -> list[str]:
    return os.listdir(store.tmp_dir())


def requests(
    store: LocalBlobStore,
    seen: dict[str, Any],
    end: str,
    announced: int = len(DATA),
    sha256: str = SHA,
) -> AsyncIterator[storage_pb2.PutBlobRequest]:
    async def gen() -> AsyncIterator[storage_pb2.PutBlobRequest]:
        yield storage_pb2.PutBlobRequest(
            header=storage_pb2.PutBlobHeader(expected_sha256=sha256, expected_size=announced)
        )
        for i in range(0, len(DATA), 1024):
            yield storage_pb2.PutBlobRequest(chunk=DATA[i : i + 1024])
        # Asked for the next message: the last chunk has been handled. The caller is still
        # deciding; the bytes are spooled, nothing is stored.
        seen["spooled"] = spooled(store)
        seen["stored"] = store.exists(SHA)
        if end == "cancel":
            raise asyncio.CancelledError
        if end == "more":
            yield storage_pb2.PutBlobRequest(chunk=b"x")

    return gen()


def put(store: LocalBlobStore, end: str, sha256: str = SHA) -> tuple[dict[str, Any], Any]:
    servicer = StorageServicer(store, 1 << 20, 1024)
    seen: dict[str, Any] = {}

    async def go() -> Any:
        try:
            stream = requests(store, seen, end, sha256=sha256)
            return await servicer.PutBlob(stream, None)  # type: ignore[arg-type]
        except (asyncio.CancelledError, DigestMismatch) as exc:
            return exc

    return seen, asyncio.run(go())


def test_the_blob_is_stored_only_when_the_stream_ends(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    seen, info = put(store, "commit")
    assert seen["stored"] is False and len(seen["spooled"]) == 1
    assert (info.key, info.size) == (SHA, len(DATA))
    assert store.exists(SHA) and spooled(store) == []


def test_a_cancelled_stream_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    seen, outcome = put(store, "cancel")
    assert seen["stored"] is False and len(seen["spooled"]) == 1
    assert isinstance(outcome, asyncio.CancelledError)
    assert not store.exists(SHA) and spooled(store) == []


def test_bytes_after_the_announced_size_are_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    _seen, outcome = put(store, "more")
    assert isinstance(outcome, DigestMismatch)
    assert "more than the" in outcome.message
    assert not store.exists(SHA) and spooled(store) == []


def test_a_wrong_digest_is_refused_before_the_caller_ends_the_stream(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    seen, outcome = put(store, "commit", sha256="0" * 64)
    # Refused on the last announced byte: the stream was never asked for another message.
    assert isinstance(outcome, DigestMismatch) and seen == {}
    assert spooled(store) == []


@pytest.mark.parametrize("end", ["commit", "cancel"])
def test_without_an_announced_size_nothing_is_decided_early(tmp_path: Path, end: str) -> None:
    store = LocalBlobStore(str(tmp_path))
    servicer = StorageServicer(store, 1 << 20, 1024)
    seen: dict[str, Any] = {}

    async def go() -> Any:
        try:
            stream = requests(store, seen, end, announced=0)
            return await servicer.PutBlob(stream, None)  # type: ignore[arg-type]
        except asyncio.CancelledError as exc:
            return exc

    outcome = asyncio.run(go())
    assert seen["stored"] is False
    assert store.exists(SHA) is (end == "commit") and spooled(store) == []
    if end == "commit":
        assert outcome.key == SHA


@pytest.mark.parametrize("commit", [False, True])
def test_a_stream_that_requires_a_commit_stores_only_on_it(tmp_path: Path, commit: bool) -> None:
    """The end of a cancelled stream can reach the server as a normal end: a caller that may
    still refuse the bytes asks for an explicit commit, and without it nothing is stored."""
    store = LocalBlobStore(str(tmp_path))
    servicer = StorageServicer(store, 1 << 20, 1024)
    seen: dict[str, Any] = {}

    async def gen() -> AsyncIterator[storage_pb2.PutBlobRequest]:
        header = storage_pb2.PutBlobHeader(
            expected_sha256=SHA, expected_size=len(DATA), commit_required=True
        )
        yield storage_pb2.PutBlobRequest(header=header)
        yield storage_pb2.PutBlobRequest(chunk=DATA)
        seen["stored"] = store.exists(SHA)
        if commit:
            yield storage_pb2.PutBlobRequest(commit=True)

    async def go() -> Any:
        try:
            return await servicer.PutBlob(gen(), None)  # type: ignore[arg-type]
        except FailedPrecondition as exc:
            return exc

    outcome = asyncio.run(go())
    assert seen["stored"] is False
    assert store.exists(SHA) is commit and spooled(store) == []
    if commit:
        assert outcome.key == SHA
    else:
        assert "without its commit" in outcome.message

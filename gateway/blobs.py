"""Moving bytes to and from the storage service."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from typing import BinaryIO

import grpc
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends

__all__ = ["CHUNK_SIZE", "put_bytes", "put_file", "put_shared_file", "read_blob"]

# 1 MiB: measured (bench/storage_bench.py) as the knee between per-message overhead and memory.
CHUNK_SIZE = 1024 * 1024
# The slowest transfer to storage allowed on top of the rpc timeout: a file's deadline grows
# with its size, so a hung storage process fails an upload in seconds, not after many minutes.
MIN_TRANSFER_RATE = 1024 * 1024  # bytes per second


def _header(
    expected_sha256: str,
    expected_size: int,
    commit: Awaitable[None] | None,
    shared_file: str = "",
) -> storage_pb2.PutBlobRequest:
    return storage_pb2.PutBlobRequest(
        header=storage_pb2.PutBlobHeader(
            expected_sha256=expected_sha256,
            expected_size=expected_size,
            commit_required=commit is not None,
            shared_file=shared_file,
        )
    )


async def _committed(commit: Awaitable[None]) -> storage_pb2.PutBlobRequest:
    # Storage has every byte (and has verified and synced them); it stores the blob only on
    # this message, so the stream stays open until the caller says so.
    await commit
    return storage_pb2.PutBlobRequest(commit=True)


async def _file_requests(
    f: BinaryIO, expected_sha256: str, expected_size: int, commit: Awaitable[None] | None
) -> AsyncIterator[storage_pb2.PutBlobRequest]:
    yield _header(expected_sha256, expected_size, commit)
    # By offset, not through the file's position: the upload's archive checks may be seeking
    # in the same file meanwhile.
    fd, offset = f.fileno(), 0
    while chunk := os.pread(fd, CHUNK_SIZE, offset):
        offset += len(chunk)
        yield storage_pb2.PutBlobRequest(chunk=chunk)
    if commit is not None:
        yield await _committed(commit)


async def _shared_requests(
    name: str, expected_sha256: str, expected_size: int, commit: Awaitable[None] | None
) -> AsyncIterator[storage_pb2.PutBlobRequest]:
    yield _header(expected_sha256, expected_size, commit, shared_file=name)
    if commit is not None:
        yield await _committed(commit)


async def _bytes_requests(
    data: bytes, expected_sha256: str, commit: Awaitable[None] | None
) -> AsyncIterator[storage_pb2.PutBlobRequest]:
    yield _header(expected_sha256, len(data), commit)
    yield storage_pb2.PutBlobRequest(chunk=data)
    if commit is not None:
        yield await _committed(commit)


async def _put(call: Awaitable[storage_pb2.BlobInfo]) -> storage_pb2.BlobInfo:
    """Await a PutBlob call; the storage process dying under it is UNAVAILABLE, as it should be.

    When the peer goes away while grpc.aio is still sending a client stream, the call can end in
    CancelledError rather than an AioRpcError. Only a cancellation of this task (the client went
    away, the server stops) is passed on as one; any other is the storage service's failure.
    """
    try:
        return await call
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.UNAVAILABLE,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            details="the storage service went away during the transfer",
        ) from None


async def put_file(
    backends: Backends,
    f: BinaryIO,
    expected_sha256: str,
    expected_size: int,
    commit: Awaitable[None] | None = None,
) -> storage_pb2.BlobInfo:
    """Store a real file (one with a descriptor); its bytes may travel before the caller has
    decided to keep them: with `commit`, the blob is stored only once `commit` is done, and
    cancelling the call meanwhile leaves nothing behind."""
    return await _put(
        backends.storage.PutBlob(
            _file_requests(f, expected_sha256, expected_size, commit),
            # The same deadline with a `commit`: the caller's checks wait on their own
            # deadlines, and a slow index ends the upload either way.
            timeout=backends.timeout + expected_size / MIN_TRANSFER_RATE,
        )
    )


async def put_shared_file(
    backends: Backends,
    name: str,
    expected_sha256: str,
    expected_size: int,
    commit: Awaitable[None] | None = None,
) -> storage_pb2.BlobInfo:
    """`put_file` for a file already in storage's spool (gateway.upload.spool): storage reads
    it there, and takes it; NOT_FOUND when storage does not see it (the caller then streams)."""
    return await _put(
        backends.storage.PutBlob(
            _shared_requests(name, expected_sha256, expected_size, commit),
            timeout=backends.timeout + expected_size / MIN_TRANSFER_RATE,
        )
    )


async def put_bytes(
    backends: Backends, data: bytes, expected_sha256: str, commit: Awaitable[None] | None = None
) -> storage_pb2.BlobInfo:
    """Store `data`; with `commit`, as `put_file`: stored only once `commit` is done."""
    return await _put(
        backends.storage.PutBlob(
            _bytes_requests(data, expected_sha256, commit), timeout=backends.timeout
        )
    )


async def read_blob(
    backends: Backends, key: str, offset: int = 0, length: int = 0
) -> AsyncIterator[bytes]:
    """Stream a blob's bytes. The first chunk is fetched by the caller before answering, so a
    missing blob becomes an error status rather than a truncated 200.

    The stream as a whole may last long (a slow client reads a large file), but its first
    message is due within the rpc timeout: a hung storage process is a 504, not an hour's wait.
    """
    call = backends.storage.GetBlob(
        storage_pb2.GetBlobRequest(key=key, offset=offset, length=length),
        timeout=max(backends.timeout, 3600),
    )
    messages = aiter(call)
    try:
        first = await asyncio.wait_for(anext(messages, None), backends.timeout)
    except TimeoutError:
        call.cancel()
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            details=f"GetBlob sent nothing within {backends.timeout} s",
        ) from None
    if first is None:
        return
    if first.chunk:
        yield first.chunk
    async for message in messages:
        if message.chunk:
            yield message.chunk

"""Moving bytes to and from the storage service."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

import grpc
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends

__all__ = ["CHUNK_SIZE", "Arriving", "put_arriving", "put_bytes", "read_blob"]

# 1 MiB: measured (bench/storage_bench.py) as the knee between per-message overhead and memory.
CHUNK_SIZE = 1024 * 1024
# The slowest transfer to storage allowed on top of the rpc timeout: a file's deadline grows
# with its size, so a hung storage process fails an upload in seconds, not after many minutes.
MIN_TRANSFER_RATE = 1024 * 1024  # bytes per second


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


class Arriving(Protocol):
    """A file its receiver is still writing, in order, from the start."""

    def fileno(self) -> int: ...

    @property
    def written(self) -> int:
        """Bytes in the file so far."""

    @property
    def final(self) -> tuple[str, int] | None:
        """(sha256, size) once the last byte is in; None until then."""

    async def grown(self) -> None:
        """Return once `written` or `final` may have changed."""


async def _arriving_requests(
    arriving: Arriving, max_size: int, commit: Awaitable[None]
) -> AsyncIterator[storage_pb2.PutBlobRequest]:
    yield storage_pb2.PutBlobRequest(header=storage_pb2.PutBlobHeader(max_size=max_size))
    # A descriptor of our own: the receiver may close its file (a refused body) while this
    # stream is being cancelled. By offset, not by position: the archive checks seek in it.
    fd = os.dup(arriving.fileno())
    try:
        offset = 0
        while True:
            written, final = arriving.written, arriving.final
            while offset < written:
                chunk = os.pread(fd, min(CHUNK_SIZE, written - offset), offset)
                if not chunk:
                    raise OSError("the upload's temp file is shorter than written")
                offset += len(chunk)
                yield storage_pb2.PutBlobRequest(chunk=chunk)
            if final is not None and offset >= final[1]:
                break
            await arriving.grown()
    finally:
        os.close(fd)
    assert final is not None
    sha256, size = final
    yield storage_pb2.PutBlobRequest(
        trailer=storage_pb2.PutBlobHeader(expected_sha256=sha256, expected_size=size)
    )
    # Storage has verified and synced every byte; it stores the blob only on this commit.
    await commit
    yield storage_pb2.PutBlobRequest(commit=True)


async def put_arriving(
    backends: Backends, arriving: Arriving, max_size: int, commit: Awaitable[None]
) -> storage_pb2.BlobInfo:
    """Store a file while it is still arriving: its bytes travel as they are written, its digest
    follows them (storage checks it), and the blob is stored only once `commit` is done;
    cancelling the call before then leaves nothing behind.

    The deadline cannot wait for the size: it allows the largest file at the slowest rate, and
    the caller's own checks (one index call and more) on top.
    """
    return await _put(
        backends.storage.PutBlob(
            _arriving_requests(arriving, max_size, commit),
            timeout=2 * backends.timeout + max_size / MIN_TRANSFER_RATE,
        )
    )


async def put_bytes(backends: Backends, data: bytes, expected_sha256: str) -> storage_pb2.BlobInfo:
    async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
        yield storage_pb2.PutBlobRequest(
            header=storage_pb2.PutBlobHeader(
                expected_sha256=expected_sha256, expected_size=len(data)
            )
        )
        yield storage_pb2.PutBlobRequest(chunk=data)

    return await _put(backends.storage.PutBlob(requests(), timeout=backends.timeout))


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

"""Blobs sent from the file itself, when the gateway shares the storage service's volume.

The storage service says where a blob lives (LocateBlob); the gateway never derives a path from a
key itself, so the storage layout stays the storage service's own. Blobs are content-addressed and
immutable, so an answer holds for as long as the file is there: locations are remembered, and one
that no longer opens (the blob collected, the volume not mounted here) is forgotten and that
download goes through the gRPC stream instead. The bytes under a path are the ones storage verified
against their sha256 when they were stored; the path comes from storage alone.

On a plain-TCP connection the file goes out with sendfile(2) (gateway.sendfile); otherwise (TLS,
an in-process test client) it is read here in large chunks in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections import OrderedDict

import grpc
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends
from vestry.gateway.sendfile import SENDFILE_EXTENSION, FileRegion

__all__ = ["READ_CHUNK", "BlobLocations", "LocalFileResponse"]

# Where sendfile is not available: large reads, few loop turns (bench: 1 MiB reads beat 256 KiB).
READ_CHUNK = 1024 * 1024
_NO_FILE = ""  # storage keeps no local file for this blob (S3): the stream it is


class BlobLocations:
    """Blob key -> absolute path, as the storage service answered; bounded, least recently used
    out first."""

    def __init__(self, max_entries: int = 65536) -> None:
        self._paths: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries

    async def locate(self, backends: Backends, key: str) -> str:
        """The blob's path, "" when storage keeps no local file. Raises the storage service's
        errors (NOT_FOUND, UNAVAILABLE, ...) as GetBlob would: a failure is not a fallback."""
        path = self._paths.get(key)
        if path is not None:
            self._paths.move_to_end(key)
            return path
        try:
            reply: storage_pb2.LocateBlobResponse = await backends.storage.LocateBlob(
                storage_pb2.BlobRef(key=key), timeout=backends.timeout
            )
            path = reply.path
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            path = _NO_FILE  # a storage service older than LocateBlob: stream, and ask no more
        self._paths[key] = path
        if len(self._paths) > self._max:
            self._paths.popitem(last=False)
        return path

    def forget(self, key: str) -> None:
        self._paths.pop(key, None)

    async def open(self, backends: Backends, key: str, size: int) -> int | None:
        """A read-only descriptor of the blob's file (the caller closes it), or None when the
        blob is to be streamed: no local file, or one that does not open as the expected
        regular file of `size` bytes here."""
        opened = await self._open(backends, key, size)
        return None if opened is None else opened[0]

    async def open_sized(self, backends: Backends, key: str) -> tuple[int, int] | None:
        """`open` for a blob whose size the caller does not know (a wheel's METADATA): the
        descriptor and the file's size. Storage puts a blob under its path only once it is
        complete and verified, so the file's size is the blob's."""
        return await self._open(backends, key, None)

    async def _open(self, backends: Backends, key: str, size: int | None) -> tuple[int, int] | None:
        path = await self.locate(backends, key)
        if path == _NO_FILE:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.forget(key)
            return None
        try:
            info = os.fstat(fd)
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode) or size not in (None, info.st_size):
            os.close(fd)
            self.forget(key)
            return None
        return fd, info.st_size


class LocalFileResponse(Response):
    """`length` bytes of the open file `fd` from `offset`; closes `fd` when done or abandoned."""

    def __init__(
        self,
        fd: int,
        offset: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, media_type=media_type)
        self.fd, self.offset, self.length = fd, offset, length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            start = {"status": self.status_code, "headers": self.raw_headers}
            await send({"type": "http.response.start", **start})
            if SENDFILE_EXTENSION in scope.get("extensions", {}):
                region = FileRegion(self.fd, self.offset, self.length)
                await send({"type": "http.response.body", "body": region, "more_body": False})
                return
            await self._send_read(send)
        finally:
            os.close(self.fd)

    async def _send_read(self, send: Send) -> None:
        offset, end = self.offset, self.offset + self.length
        while offset < end:
            want = min(READ_CHUNK, end - offset)
            chunk = await asyncio.to_thread(os.pread, self.fd, want, offset)
            if not chunk:
                # Shorter than the Content-Length already sent: cut the response, never finish it
                # with bytes that are not the file's.
                raise OSError(f"blob file ended {end - offset} bytes early")
            offset += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": offset < end})
        if self.length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

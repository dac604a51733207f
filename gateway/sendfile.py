"""sendfile(2) for response bodies: a file's bytes go from the page cache to the socket without
passing through Python.

uvicorn has no sendfile and no ASGI pathsend, and an ASGI app never sees the connection. What it
does see is its own protocol class (gateway.reason_phrase), so the connection is reached there,
through two documented seams only: the transport handed to `connection_made` is wrapped (as
reason phrases already do), and the request scope gains an ASGI server extension
(`scope["extensions"]`, which the spec reserves for exactly this). An app that finds
`SENDFILE_EXTENSION` may send a `FileRegion` as the body of an `http.response.body` message;
uvicorn counts its `len()` against Content-Length and hands it to `transport.write`, where this
transport sends it with sendfile(2) from the event loop (non-blocking, woken by writability),
after whatever uvicorn had buffered, and holds any later writes (a keep-alive connection's next
response) until the file is out. No uvicorn internals are touched.

Only plain TCP connections get the extension: under TLS the bytes must be encrypted in user space,
and the app falls back to reading the file itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections import deque
from typing import Any

__all__ = ["SENDFILE_EXTENSION", "FileRegion", "SendfileTransport", "supports_sendfile"]

SENDFILE_EXTENSION = "vestry.sendfile"
# The most one sendfile call is asked for: the socket takes what fits in its buffer anyway, and a
# bound keeps one call from holding the loop while a fast reader drains a huge file.
_MAX_CALL = 8 * 1024 * 1024
# Errors that mean the client went away: the connection is dropped, nothing is logged.
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF)


class FileRegion:
    """`count` bytes of an open file from `offset`, as a response body. The transport takes its
    own duplicate of `fd`: the caller closes `fd` when `send` returns, whatever happened."""

    __slots__ = ("count", "fd", "offset")

    def __init__(self, fd: int, offset: int, count: int) -> None:
        self.fd = fd
        self.offset = offset
        self.count = count

    def __len__(self) -> int:
        return self.count


def supports_sendfile(transport: asyncio.BaseTransport) -> bool:
    """A plain TCP (or Unix) stream socket: what sendfile(2) can write to."""
    if transport.get_extra_info("sslcontext") is not None:
        return False
    sock = transport.get_extra_info("socket")
    return sock is not None and sock.type == socket.SOCK_STREAM


class SendfileTransport:
    """The connection's transport, with `FileRegion` writes sent by sendfile(2), in order with
    everything else written to it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._queue: deque[bytes | FileRegion] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._close_when_done = False

    def write(self, data: bytes | bytearray | memoryview | FileRegion) -> None:
        if isinstance(data, FileRegion):
            # Our own descriptor: the app closes its one as soon as `send` returns.
            self._queue.append(FileRegion(os.dup(data.fd), data.offset, data.count))
        elif self._sender is not None:
            self._queue.append(bytes(data))  # a later response's head: after the file
            return
        else:
            self._transport.write(data)
            return
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_write_buffer_size(self) -> int:
        queued = sum(len(item) for item in self._queue)
        return self._transport.get_write_buffer_size() + queued

    def close(self) -> None:
        if self._sender is None:
            self._transport.close()
        else:
            self._close_when_done = True  # what uvicorn wrote must still arrive

    def abort(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    async def _send_queued(self) -> None:
        sock = self._transport.get_extra_info("socket")
        # A duplicate, registered with the loop for writability: the transport owns the original
        # (the loop refuses a second watcher on it), and a duplicate cannot come to name another
        # connection's socket if the original is closed meanwhile.
        fd = os.dup(sock.fileno())
        protocol = self._transport.get_protocol()
        protocol.pause_writing()  # the app's next `send` waits until the file is out
        try:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, FileRegion):
                    try:
                        await self._send_region(fd, item)
                    finally:
                        os.close(item.fd)
                else:
                    self._transport.write(item)
        except OSError as exc:
            if exc.errno not in _GONE:
                raise
            self._transport.abort()
        except asyncio.CancelledError:
            self._transport.abort()
            raise
        finally:
            for item in self._queue:
                if isinstance(item, FileRegion):
                    os.close(item.fd)
            self._queue.clear()
            os.close(fd)
            self._sender = None
            if not self._transport.is_closing():
                protocol.resume_writing()
            if self._close_when_done:
                self._transport.close()

    async def _send_region(self, fd: int, region: FileRegion) -> None:
        # Whatever the transport still buffers (the response head) goes first. The transport
        # below holds a head for the write that follows it (gateway.reason_phrase); an empty
        # write sends it now rather than on the loop's next turn.
        self._transport.write(b"")
        while self._transport.get_write_buffer_size():
            await _writable(fd)
        offset, remaining = region.offset, region.count
        while remaining:
            try:
                sent = os.sendfile(fd, region.fd, offset, min(remaining, _MAX_CALL))
            except BlockingIOError:
                await _writable(fd)
                continue
            if sent == 0:
                # The file is shorter than the Content-Length already sent: the client must see a
                # cut connection, never a response completed with bytes that are not the file's.
                raise OSError(errno.EPIPE, "file ended before its announced length")
            offset += sent
            remaining -= sent


async def _writable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:  # the loop calls it on every turn the socket stays writable
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        with contextlib.suppress(Exception):
            loop.remove_writer(fd)

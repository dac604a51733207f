"""Custom reason phrases in the HTTP status line, which is what twine prints.

PyPI answers a refused upload with `400 File already exists ...` in the status line, and twine
shows exactly that (`HTTPError: 400 File already exists ...`); the body it prints only with
--verbose. uvicorn writes the status line itself from a fixed table, so an ASGI app cannot choose
the phrase. Here: a response carries the phrase in the `x-vestry-reason` header (set with
`with_reason`, by any handler, at any time before the response starts); a uvicorn protocol whose
transport sees the response head rewrites its status line with the phrase and drops the header.
The body is untouched. Only writes that begin a response head are looked at (one comparison of
five bytes per write), so downloads pay nothing measurable.

The same transport sends a response's head together with what follows it. uvicorn writes every
response as two writes, head then body, and each write is a `send()` system call: on small
answers (a warm /simple/ page) the second call was a tenth of the gateway's time. So a head is
held, and goes out with the next write on the connection, in one call; if no write follows in the
same turn of the event loop (HEAD, a 304, a streamed body whose first chunk comes later) it goes
out alone on the next turn. Closing sends what is held first; aborting drops it with the rest.

The httptools protocol also gives plain-TCP connections sendfile(2) for file bodies
(gateway.sendfile, which says why this is the place): its transport is wrapped once more, and
each request's scope names the extension.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any, TypeVar

from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol

from vestry.gateway.sendfile import SENDFILE_EXTENSION, SendfileTransport, supports_sendfile

__all__ = [
    "REASON_HEADER",
    "ReasonH11Protocol",
    "ResponseTransport",
    "http_protocol",
    "reason_phrase",
    "rewrite_head",
    "with_reason",
]

REASON_HEADER = "x-vestry-reason"
_MARKER = b"\r\n" + REASON_HEADER.encode() + b": "
_MAX_PHRASE = 400
# A reason phrase is HTAB, SP, VCHAR and obs-text (RFC 9112 4): no CR, LF or other controls.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
R = TypeVar("R", bound=Response)


def reason_phrase(message: str) -> str:
    """`message` as a status line can carry it: one line, Latin-1, at most 400 characters."""
    text = _UNSAFE.sub(" ", message).strip()
    text = text.encode("latin-1", "replace").decode("latin-1")
    if len(text) > _MAX_PHRASE:
        text = text[: _MAX_PHRASE - 3].rstrip() + "..."
    return text


def with_reason(response: R, message: str) -> R:
    """Have `response`'s status line carry `message` (e.g. `400 File already exists ...`)."""
    phrase = reason_phrase(message)
    if phrase:
        response.headers[REASON_HEADER] = phrase
    return response


def rewrite_head(data: bytes) -> bytes:
    """A response head with its reason header moved into the status line; anything else as is."""
    if data[:5] != b"HTTP/":
        return data
    end = data.find(b"\r\n\r\n")
    head_end = end + 2 if end >= 0 else len(data)
    start = data.find(_MARKER, 0, head_end)
    if start < 0:
        return data
    value_start = start + len(_MARKER)
    value_end = data.find(b"\r\n", value_start)
    phrase = data[value_start:value_end].strip()
    line_end = data.find(b"\r\n")
    version, _, rest = data[:line_end].partition(b" ")
    status = rest.split(b" ", 1)[0]
    status_line = b" ".join((version, status, phrase)) if phrase else data[:line_end]
    return status_line + data[line_end:start] + data[value_end:]


# Up to this size the head and the body are joined (one copy, one buffer); a bigger body is
# handed over beside the head (uvloop sends both with one writev), so it is never copied.
_JOIN_MAX = 64 * 1024


class ResponseTransport:
    """The connection's transport, with response heads rewritten and held for their body."""

    __slots__ = ("_flush_due", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()  # connection_made runs in the loop
        self._held = b""
        self._flush_due = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data[:5] == b"HTTP/":
            self._held += rewrite_head(bytes(data))  # after a held `100 Continue`, if any
            if not self._flush_due:
                self._flush_due = True
                self._loop.call_soon(self._flush_held)
            return
        held = self._held
        if not held:
            self._transport.write(data)
            return
        # An empty write (uvicorn's body of a 304) sends the head alone, at once.
        self._held = b""
        if len(data) <= _JOIN_MAX:
            self._transport.write(held + data)
        else:
            self._transport.writelines((held, data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held)

    def close(self) -> None:
        self._flush_held()  # what was written arrives before the FIN
        self._transport.close()

    def write_eof(self) -> None:
        self._flush_held()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = b""
        self._transport.abort()

    def _flush_held(self) -> None:
        self._flush_due = False
        held, self._held = self._held, b""
        # A transport closing without our close() has lost its connection: nothing can arrive.
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ReasonH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(ResponseTransport(transport))  # type: ignore[arg-type]


@functools.cache
def http_protocol() -> type[asyncio.Protocol]:
    """The gateway's HTTP protocol: httptools (faster) when installed, else h11; either with
    reason phrases."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return ReasonH11Protocol

    class ReasonHttpToolsProtocol(HttpToolsProtocol):
        sendfile = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            wrapped: Any = ResponseTransport(transport)
            self.sendfile = supports_sendfile(transport)
            if self.sendfile:
                wrapped = SendfileTransport(wrapped)
            super().connection_made(wrapped)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self.sendfile:
                self.scope["extensions"] = {SENDFILE_EXTENSION: {}}

    return ReasonHttpToolsProtocol

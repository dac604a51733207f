"""Custom reason phrases in the HTTP status line, which is what twine prints.

PyPI answers a refused upload with `400 File already exists ...` in the status line, and twine
shows exactly that (`HTTPError: 400 File already exists ...`); the body it prints only with
--verbose. uvicorn writes the status line itself from a fixed table, so an ASGI app cannot choose
the phrase. Here: a response carries the phrase in the `x-vestry-reason` header (set with
`with_reason`, by any handler, at any time before the response starts); a uvicorn protocol whose
transport sees the response head rewrites its status line with the phrase and drops the header.
The body is untouched. Only writes that begin a response head are looked at (one comparison of
five bytes per write), so downloads pay nothing measurable.

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


class _ReasonTransport:
    """The connection's transport, with response heads rewritten on their way out."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data[:5] == b"HTTP/":
            data = rewrite_head(bytes(data))
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ReasonH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_ReasonTransport(transport))  # type: ignore[arg-type]


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
            wrapped: Any = _ReasonTransport(transport)
            self.sendfile = supports_sendfile(transport)
            if self.sendfile:
                wrapped = SendfileTransport(wrapped)
            super().connection_made(wrapped)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self.sendfile:
                self.scope["extensions"] = {SENDFILE_EXTENSION: {}}

    return ReasonHttpToolsProtocol

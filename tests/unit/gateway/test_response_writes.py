"""A response head leaves with the write that follows it, in one call to the socket; alone on the
loop's next turn when nothing follows; and every byte arrives, in order, whatever comes after it
(a file sent with sendfile, a close, a full socket buffer). On real sockets, under asyncio's loop
and uvloop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vestry.gateway.reason_phrase import REASON_HEADER, ResponseTransport
from vestry.gateway.sendfile import FileRegion, SendfileTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"

pytestmark = pytest.mark.anyio


class Recording:
    """The connection's real transport, with the calls that reach it recorded."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.calls: list[tuple[Any, ...]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))
        self.transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = [bytes(c) for c in chunks]
        self.calls.append(("writelines", chunks))
        self.transport.writelines(chunks)

    def close(self) -> None:
        self.calls.append(("close",))
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Ends:
    def __init__(self, raw: Recording, reader: asyncio.StreamReader) -> None:
        self.raw = raw
        self.head = ResponseTransport(raw)  # type: ignore[arg-type]
        self.reader = reader

    async def read(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), 10)


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"use_uvloop": False}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),  # what the gateway runs on
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def ends() -> AsyncIterator[Ends]:
    """A connection over loopback: its server side wrapped as the gateway wraps it, and the
    client's reader."""
    accepted: asyncio.Future[asyncio.Transport] = asyncio.get_running_loop().create_future()

    class Server(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)  # type: ignore[arg-type]

    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    transport = await accepted
    try:
        yield Ends(Recording(transport), reader)
    finally:
        transport.abort()
        writer.close()
        server.close()
        await server.wait_closed()


async def test_a_head_and_its_body_leave_in_one_write(ends: Ends) -> None:
    ends.head.write(HEAD)
    ends.head.write(b"body")
    assert ends.raw.calls == [("write", HEAD + b"body")]
    assert await ends.read(len(HEAD) + 4) == HEAD + b"body"


async def test_a_head_with_nothing_after_it_leaves_on_the_next_turn(ends: Ends) -> None:
    ends.head.write(HEAD)  # HEAD, 304: uvicorn writes no body
    assert ends.raw.calls == [] and ends.head.get_write_buffer_size() == len(HEAD)
    await asyncio.sleep(0)
    assert ends.raw.calls == [("write", HEAD)]
    assert await ends.read(len(HEAD)) == HEAD


async def test_an_empty_write_sends_the_head_at_once(ends: Ends) -> None:
    ends.head.write(HEAD)
    ends.head.write(b"")
    assert ends.raw.calls == [("write", HEAD)]
    await asyncio.sleep(0)
    assert ends.raw.calls == [("write", HEAD)]  # the turn's flush finds nothing held


async def test_a_streamed_body_keeps_its_order(ends: Ends) -> None:
    ends.head.write(CHUNKED)
    await asyncio.sleep(0.01)  # the first chunk comes later: the head went out meanwhile
    assert ends.raw.calls == [("write", CHUNKED)]
    assert await ends.read(len(CHUNKED)) == CHUNKED
    chunks = [b"3\r\nabc\r\n", b"2\r\nde\r\n", b"0\r\n\r\n"]
    ends.head.writelines(chunks)
    assert await ends.read(sum(map(len, chunks))) == b"".join(chunks)


async def test_heads_written_one_after_another_stay_in_order(ends: Ends) -> None:
    continue_ = b"HTTP/1.1 100 Continue\r\n\r\n"
    ends.head.write(continue_)
    ends.head.write(HEAD)
    ends.head.write(b"body")
    assert ends.raw.calls == [("write", continue_ + HEAD + b"body")]
    assert await ends.read(len(continue_) + len(HEAD) + 4) == continue_ + HEAD + b"body"


async def test_the_reason_phrase_is_written_into_a_held_head(ends: Ends) -> None:
    head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n" + REASON_HEADER.encode()
    head += b": File already exists\r\n\r\n"
    sent = b"HTTP/1.1 400 File already exists\r\ncontent-length: 2\r\n\r\nno"

    ends.head.write(head)
    ends.head.write(b"no")
    assert ends.raw.calls == [("write", sent)]
    assert await ends.read(len(sent)) == sent


async def test_close_sends_what_is_held_before_the_end(ends: Ends) -> None:
    ends.head.write(HEAD)
    ends.head.close()
    assert ends.raw.calls == [("write", HEAD), ("close",)]
    assert await asyncio.wait_for(ends.reader.read(), 10) == HEAD  # then end of stream


async def test_abort_drops_what_is_held(ends: Ends) -> None:
    ends.head.write(HEAD)
    ends.head.abort()
    await asyncio.sleep(0)  # the turn's flush finds a closed transport: nothing, no error
    assert ends.raw.calls == [] and ends.head.get_write_buffer_size() == 0


async def test_a_big_body_is_handed_over_beside_its_head(ends: Ends) -> None:
    body = os.urandom(8 * 1024 * 1024)  # more than a socket takes at once
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body)

    ends.head.write(head)
    ends.head.write(body)
    assert ends.raw.calls == [("writelines", [head, body])]  # not joined: never copied
    ends.head.write(HEAD)  # the next response, while the first still drains
    ends.head.write(b"next")
    received = await ends.read(len(head) + len(body) + len(HEAD) + 4)
    assert received == head + body + HEAD + b"next"


async def test_a_file_body_follows_its_held_head(ends: Ends, tmp_path: Path) -> None:
    content = os.urandom(3 * 1024 * 1024)
    path = tmp_path / "blob"
    path.write_bytes(content)
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(content)

    files = SendfileTransport(ends.head)  # type: ignore[arg-type]  # as http_protocol() stacks them
    fd = os.open(path, os.O_RDONLY)
    try:
        files.write(head)
        files.write(FileRegion(fd, 0, len(content)))
    finally:
        os.close(fd)  # the transport has its own descriptor
    files.write(HEAD)  # the next response on the connection waits for the file
    files.write(b"next")
    received = await ends.read(len(head) + len(content) + len(HEAD) + 4)
    assert received == head + content + HEAD + b"next"
    assert ends.raw.calls[0] == ("write", head)  # sent at once, ahead of sendfile
    assert ends.raw.calls[-1] == ("write", HEAD + b"next")  # held, then one write

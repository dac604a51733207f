"""The status line carries an error's text (twine prints it), under both uvicorn protocols,
with the body kept; shown with a plain route, as the upload path's handler will use it."""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tests.factories import make_wheel
from tests.support.vestry_up import BIN
from vestry.gateway.reason_phrase import (
    REASON_HEADER,
    ReasonH11Protocol,
    http_protocol,
    reason_phrase,
    rewrite_head,
    with_reason,
)

MESSAGE = "File already exists ('pkg-1.0.tar.gz', with blake2_256 hash 'ab12'). See /help."


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/legacy/")
    async def upload() -> PlainTextResponse:
        return with_reason(PlainTextResponse(MESSAGE + "\n", status_code=400), MESSAGE)

    @app.get("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/hostile")
    async def hostile() -> PlainTextResponse:
        return with_reason(PlainTextResponse("no\n", status_code=403), "a\r\nSet-Cookie: x=1 é ☃")

    return app


@pytest.fixture(params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    protocol = http_protocol() if request.param == "httptools" else ReasonH11Protocol
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(), http=protocol, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(10)
    sock.close()


def _get(port: int, method: str, path: str) -> tuple[int, str, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        r = conn.getresponse()
        return r.status, r.reason, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def test_status_line_carries_the_message_and_the_body_stays(server: int) -> None:
    status, reason, body, headers = _get(server, "POST", "/legacy/")
    assert (status, reason) == (400, MESSAGE)
    assert body == (MESSAGE + "\n").encode()
    assert REASON_HEADER not in headers
    status, reason, body, _ = _get(server, "GET", "/plain")
    assert (status, reason, body) == (200, "OK", b"ok\n")


def test_a_phrase_cannot_split_the_head(server: int) -> None:
    status, reason, body, headers = _get(server, "GET", "/hostile")
    assert status == 403 and "set-cookie" not in headers
    assert reason == "a Set-Cookie: x=1 é ?" and body == b"no\n"


def test_twine_prints_the_reason(server: int, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "pkg", "1.0")
    result = subprocess.run(
        [
            str(BIN / "twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"http://127.0.0.1:{server}/legacy/",
            "-u",
            "__token__",
            "-p",
            "vestry-x",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    # twine 6 prints "HTTPError: 400 Bad Request from URL" and then the reason phrase; the body
    # it shows only with --verbose.
    assert "400" in output and MESSAGE in output, output


@pytest.mark.parametrize(
    ("message", "phrase"),
    [
        ("plain", "plain"),
        ("two\r\nlines", "two lines"),
        ("tab\tkept", "tab\tkept"),
        ("snow ☃", "snow ?"),
        ("x" * 500, "x" * 397 + "..."),
        ("  ", ""),
    ],
)
def test_reason_phrase_is_one_safe_line(message: str, phrase: str) -> None:
    assert reason_phrase(message) == phrase


def test_rewrite_head_leaves_other_writes_alone() -> None:
    head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\nx-vestry-reason: Nope\r\n\r\n"
    assert rewrite_head(head) == b"HTTP/1.1 400 Nope\r\ncontent-length: 2\r\n\r\n"
    body = b"HTTP/1.1 looks like a head but is a body chunk"
    assert rewrite_head(body) == body
    without = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
    assert rewrite_head(without) == without
    # The marker in a body that follows the head in the same write is not a header.
    both = without + b"\r\nx-vestry-reason: no\r\n"
    assert rewrite_head(both) == both

"""The access log written in batches: the same lines, in order, whole, written together within
a bounded delay, never more than one atomic pipe write at a time, and all of them out when the
process is stopped."""

from __future__ import annotations

import http.client
import logging
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from vestry.cli.batched_log import BatchedStreamHandler


class Stream:
    """A text stream that remembers each write it was given."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.wrote = threading.Event()

    def write(self, text: str) -> int:
        self.writes.append(text)
        self.wrote.set()
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.writes)


@pytest.fixture
def stream() -> Stream:
    return Stream()


@pytest.fixture
def handler(stream: Stream) -> Iterator[BatchedStreamHandler]:
    handler = BatchedStreamHandler(stream, batched=["test.busy"], max_delay=0.05)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    yield handler
    handler.close()


def _record(name: str, message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 0, message, None, None)


def test_lines_are_held_and_written_together_soon(
    handler: BatchedStreamHandler, stream: Stream
) -> None:
    for n in range(3):
        handler.handle(_record("test.busy", f"line {n}"))
    assert stream.writes == []  # held
    assert stream.wrote.wait(10)  # the flusher wakes within max_delay (not timed here)
    assert stream.writes == [
        "INFO test.busy: line 0\nINFO test.busy: line 1\nINFO test.busy: line 2\n"
    ]
    handler.handle(_record("test.busy", "later"))  # a new batch, a new wake-up
    stream.wrote.clear()
    assert stream.wrote.wait(10)
    assert stream.writes[-1] == "INFO test.busy: later\n"


def test_other_lines_go_at_once_after_what_is_held(
    handler: BatchedStreamHandler, stream: Stream
) -> None:
    handler.handle(_record("test.busy", "first"))
    handler.handle(_record("test.other", "second"))
    handler.handle(_record("test.busy", "third"))
    handler.handle(_record("test.busy", "trouble", logging.WARNING))  # warnings are not held
    assert stream.text() == (
        "INFO test.busy: first\nINFO test.other: second\n"
        "INFO test.busy: third\nWARNING test.busy: trouble\n"
    )


def test_no_write_is_bigger_than_one_atomic_pipe_write(
    handler: BatchedStreamHandler, stream: Stream
) -> None:
    lines = [f"request {n} " + "x" * (n % 150) for n in range(400)]
    for line in lines:
        handler.handle(_record("test.busy", line))
    handler.flush()
    assert len(stream.writes) > 1
    for write in stream.writes:
        assert len(write.encode()) <= select.PIPE_BUF and write.endswith("\n")
    assert stream.text() == "".join(f"INFO test.busy: {line}\n" for line in lines)


def test_close_writes_what_is_held(stream: Stream) -> None:
    handler = BatchedStreamHandler(stream, batched=["test.busy"], max_delay=3600)  # type: ignore[arg-type]
    handler.handle(_record("test.busy", "last words"))
    handler.close()
    assert stream.text() == "last words\n"


def test_the_gateway_loses_no_access_line_when_stopped(tmp_path: pytest.TempPathFactory) -> None:
    """A gateway-like server (the `vestry serve` logging set-up, the telemetry middleware, the
    gateway's HTTP protocol) answers requests, is sent SIGTERM right after the last answer, and
    has written every access line, whole, by the time it is gone."""
    script = textwrap.dedent(
        """
        import socket, sys
        import uvicorn
        from fastapi import FastAPI
        from vestry.cli.main import _logging
        from vestry.gateway.reason_phrase import http_protocol
        from vestry.gateway.telemetry import RequestTelemetry

        _logging("INFO", batched=["vestry.access"])  # as `vestry serve gateway` does
        app = FastAPI()
        app.add_middleware(RequestTelemetry)

        @app.get("/simple/{name}/")
        async def page(name: str) -> dict[str, str]:
            return {"name": name}

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1], flush=True)
        config = uvicorn.Config(app, http=http_protocol(), access_log=False, lifespan="off",
                                log_level="warning", log_config=None)
        uvicorn.Server(config).run(sockets=[sock])
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(100):
            try:
                conn.connect()
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        for n in range(300):
            conn.request("GET", f"/simple/p{n}/")
            response = conn.getresponse()
            assert response.status == 200 and response.read()
        conn.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # uvicorn ends a process it stopped on a signal by that signal, once everything is closed.
    assert proc.returncode == -signal.SIGTERM, stderr
    line = re.compile(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO vestry\.access: "
        r"127\.0\.0\.1 GET /simple/p(\d+)/ 200 [\d.]+ms user=- token=-"
    )
    access = [row for row in stderr.splitlines() if "vestry.access" in row]
    assert [int(m.group(1)) for m in map(line.fullmatch, access) if m] == list(range(300))
    assert len(access) == 300

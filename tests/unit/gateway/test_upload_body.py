"""The upload body is counted as it arrives: an over-long one is refused part-way, whatever
Content-Length said (or did not say)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message

from vestry.gateway.routes.upload import capped_request
from vestry.gateway.upload.form import UploadError
from vestry.gateway.upload.receive import receive_multipart

CHUNK = 64 * 1024
BOUNDARY = "b0undary"


def _scope() -> dict[str, object]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/legacy/",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
        "query_string": b"",
    }


def _body(file_size: int) -> list[bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="x.whl"\r\n\r\n'
    ).encode()
    chunks = [head] + [b"x" * CHUNK] * (file_size // CHUNK)
    return [*chunks, f"\r\n--{BOUNDARY}--\r\n".encode()]


def _run(chunks: list[bytes], cap: int) -> tuple[int, int | None]:
    """(messages the app pulled, size of the file it parsed, or None if refused)."""
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        body = chunks[pulled - 1]
        return {"type": "http.request", "body": body, "more_body": pulled < len(chunks)}

    async def parse() -> int | None:
        request = capped_request(Request(_scope(), receive), cap, limit=cap)
        try:
            received = await receive_multipart(
                request.headers["content-type"],
                request.stream(),
                max_files=4,
                max_fields=10,
                max_part_size=CHUNK,
            )
        except UploadError as exc:
            assert exc.status == 413 and exc.message.startswith("File too large")
            return None
        assert received.file is not None and received.digests is not None
        size = len(received.file.read())
        assert size == received.digests.size
        received.close()
        return size

    size = asyncio.run(parse())
    return pulled, size


@pytest.mark.parametrize("cap_chunks", [4, 16])
def test_over_long_body_is_refused_part_way(cap_chunks: int) -> None:
    chunks = _body(1000 * CHUNK)
    pulled, size = _run(chunks, cap=cap_chunks * CHUNK)
    assert size is None
    # The head plus `cap_chunks` chunks is the first read past the cap; nothing after it was
    # pulled, so the remaining ~1000 chunks never reached the temporary file.
    assert pulled == cap_chunks + 1


def test_body_within_cap_is_parsed_whole() -> None:
    chunks = _body(8 * CHUNK)
    pulled, size = _run(chunks, cap=sum(map(len, chunks)))
    assert (pulled, size) == (len(chunks), 8 * CHUNK)

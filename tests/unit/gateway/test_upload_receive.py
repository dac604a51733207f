"""The upload body parsed as it arrives: the file's digests come from the same pass that stores
it, whatever the chunking; the form's limits and malformed bodies end in a clean UploadError."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vestry.gateway.upload.form import UploadError
from vestry.gateway.upload.receive import BATCH, Received, receive_multipart

BOUNDARY = "xYzZy"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def receive(data: bytes, cuts: list[int] | None = None, **limits: int) -> Received:
    """Parse `data` delivered in pieces cut at `cuts` (default: 64 KiB pieces)."""
    edges = sorted({0, len(data), *(c for c in (cuts or []) if 0 < c < len(data))})
    if cuts is None:
        edges = [*range(0, len(data), 64 * 1024), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(edges)]

    async def stream() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    options = {"max_files": 4, "max_fields": 20, "max_part_size": 1024, **limits}
    return asyncio.run(receive_multipart(CONTENT_TYPE, stream(), **options))


def assert_content(received: Received, expected: bytes, filename: str = "x-1.0.tar.gz") -> None:
    assert received.filename == filename
    assert received.file is not None and received.digests is not None
    assert received.file.read() == expected
    d = received.digests
    assert d.size == len(expected)
    assert d.sha256 == hashlib.sha256(expected).hexdigest()
    assert d.blake2b_256 == hashlib.blake2b(expected, digest_size=32).hexdigest()
    assert d.md5 == hashlib.md5(expected, usedforsecurity=False).hexdigest()


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(max_size=4096).map(lambda b: b * 3),
    cuts=st.lists(st.integers(min_value=0, max_value=13000), max_size=12),
)
def test_any_chunking_gives_the_same_fields_bytes_and_digests(
    content: bytes, cuts: list[int]
) -> None:
    # The boundary's own bytes inside the content, split across pieces, must not end the part.
    content = content + f"\r\n--{BOUNDARY}x".encode() + content
    data = body(
        part("name", b"x"),
        part("content", content, "x-1.0.tar.gz"),
        part("version", "1.0 \u00e9".encode()),
    )
    received = receive(data, cuts)
    assert received.fields == [("name", "x"), ("version", "1.0 \u00e9")]
    assert_content(received, content)
    received.close()


def test_a_file_of_many_batches_is_digested_whole() -> None:
    content = bytes(range(256)) * (3 * BATCH // 256 + 77)
    received = receive(body(part("content", content, "x-1.0.tar.gz")))
    assert_content(received, content)
    received.close()


def test_other_file_parts_are_not_kept() -> None:
    received = receive(
        body(part("gpg_signature", b"sig", "x.asc"), part("content", b"data", "x-1.0.tar.gz"))
    )
    assert_content(received, b"data")
    assert received.fields == []
    received.close()


def test_no_file_part_gives_fields_only() -> None:
    received = receive(body(part("name", b"x")))
    assert (received.fields, received.file, received.digests) == ([("name", "x")], None, None)


@pytest.mark.parametrize(
    ("data", "limits", "words"),
    [
        (
            body(part("content", b"a", "a.whl"), part("content", b"b", "b.whl")),
            {},
            "content: the field was sent more than once",
        ),
        (body(*(part("f", b"", f"{i}.txt") for i in range(3))), {"max_files": 2}, "Too many files"),
        (body(*(part(f"k{i}", b"v") for i in range(3))), {"max_fields": 2}, "Too many fields"),
        (body(part("summary", b"x" * 2048)), {}, "Part exceeded maximum size of 1KB"),
        (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
            f"--{BOUNDARY}--\r\n".encode(),
            {},
            '"name" must be provided',
        ),
        (b"--not-the-boundary\r\n\r\n", {}, "Invalid multipart data"),
    ],
    ids=["content-twice", "files", "fields", "part-size", "no-name", "malformed"],
)
def test_bad_bodies_are_refused(data: bytes, limits: dict[str, int], words: str) -> None:
    with pytest.raises(UploadError) as err:
        receive(data, **limits)
    assert err.value.status == 400
    assert words in err.value.message


def test_a_missing_boundary_is_refused() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b""

    with pytest.raises(UploadError, match="Missing boundary"):
        asyncio.run(
            receive_multipart(
                "multipart/form-data", stream(), max_files=1, max_fields=1, max_part_size=1
            )
        )

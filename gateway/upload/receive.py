"""The multipart upload body, parsed as it arrives: the file part is written to a temp file and
run through the three digests in the same pass, so no later step reads it again to hash it.

Starlette's form parser writes each ~64 KiB network chunk through its own thread hop and leaves
hashing to a second read of the whole file. Here the file's bytes are gathered into 1 MiB
batches, and each batch is written and hashed in one worker thread (both release the GIL) while
the event loop receives the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from vestry.common.digests import TripleDigest
from vestry.gateway.upload.digests import Digests
from vestry.gateway.upload.form import UploadError
from vestry.gateway.upload.spool import SpooledFile, anonymous_file

__all__ = ["BATCH", "Received", "receive_multipart"]

BATCH = 1024 * 1024  # bytes written and hashed per thread hop


class _FilePart:
    """One file part arriving. Only the `content` part is kept; others (gpg_signature, which
    Vestry does not use) are counted against the limits and dropped."""

    def __init__(self, filename: str, spooled: SpooledFile | None) -> None:
        self.filename = filename
        # A real file, not a spooled one: its descriptor lets the store's transfer read it by
        # offset (os.pread) while the archive checks seek in it. None: the part is dropped.
        self.spooled = spooled
        self.file = spooled.file if spooled is not None else None
        self._digest = TripleDigest()
        self._pending: list[memoryview] = []
        self._pending_size = 0
        self.size = 0

    def add(self, data: memoryview) -> None:
        if self.file is not None:
            # A view, not a copy: the parser's input is an immutable bytes object.
            self._pending.append(data)
            self._pending_size += len(data)

    def full(self) -> bool:
        return self._pending_size >= BATCH

    def take(self) -> bytes:
        batch = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return batch

    def write(self, batch: bytes) -> None:
        """In a worker thread, one batch at a time and in order."""
        assert self.file is not None
        self._digest.update(batch)
        self.file.write(batch)
        self.size += len(batch)

    def digests(self) -> Digests:
        d = self._digest
        return Digests(d.sha256, d.blake2b_256, d.md5, self.size)


@dataclass
class Received:
    """The text fields in order, and the `content` file (rewound) with its digests."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    filename: str | None = None
    spooled: SpooledFile | None = None
    digests: Digests | None = None

    @property
    def file(self) -> BinaryIO | None:
        return self.spooled.file if self.spooled is not None else None

    def close(self) -> None:
        if self.spooled is not None:
            self.spooled.close()


class _Parser:
    """python-multipart callbacks, with Starlette's limits and error texts."""

    def __init__(
        self,
        charset: str,
        max_files: int,
        max_fields: int,
        max_part_size: int,
        temp_file: Callable[[], SpooledFile],
    ) -> None:
        self.charset = charset
        self.temp_file = temp_file
        self.max_files, self.max_fields, self.max_part_size = max_files, max_fields, max_part_size
        self.received = Received()
        self.content: _FilePart | None = None
        self.current: _FilePart | None = None
        self.files = 0
        self._field_name = ""
        self._data = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            return raw.decode("latin-1")

    def on_part_begin(self) -> None:
        self.current = None
        self._data = bytearray()
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise UploadError(
                'invalid upload body: The Content-Disposition header field "name" must be provided.'
            )
        self._field_name = self._decode(options[b"name"])
        if b"filename" not in options:
            if len(self.received.fields) + 1 > self.max_fields:
                raise UploadError(
                    f"invalid upload body: Too many fields. Maximum number of fields is "
                    f"{self.max_fields}."
                )
            return
        self.files += 1
        if self.files > self.max_files:
            raise UploadError(
                f"invalid upload body: Too many files. Maximum number of files is {self.max_files}."
            )
        keep = self._field_name == "content"
        if keep and self.content is not None:
            raise UploadError("content: the field was sent more than once")
        filename = self._decode(options[b"filename"])
        self.current = _FilePart(filename, self.temp_file() if keep else None)
        if keep:
            self.content = self.current

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current.add(memoryview(data)[start:end])
            return
        if len(self._data) + (end - start) > self.max_part_size:
            raise UploadError(
                f"invalid upload body: Part exceeded maximum size of "
                f"{self.max_part_size // 1024}KB."
            )
        self._data += data[start:end]

    def on_part_end(self) -> None:
        if self.current is None:
            self.received.fields.append((self._field_name, self._decode(bytes(self._data))))
        self.current = None

    def callbacks(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name in (
                "on_part_begin",
                "on_part_data",
                "on_part_end",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
            )
        }


async def receive_multipart(
    content_type: str,
    stream: AsyncIterator[bytes],
    *,
    max_files: int,
    max_fields: int,
    max_part_size: int,
    temp_file: Callable[[], SpooledFile] = anonymous_file,
) -> Received:
    """Parse a multipart/form-data body from `stream`; raises UploadError for a malformed one.

    The `content` part goes into a file `temp_file` makes. Whatever goes wrong, that file is
    closed (and removed) before the error leaves.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError("invalid upload body: Missing boundary in multipart.")
    charset = params.get(b"charset", b"utf-8")
    p = _Parser(
        charset.decode("latin-1") if isinstance(charset, bytes) else charset,
        max_files,
        max_fields,
        max_part_size,
        temp_file,
    )
    parser = MultipartParser(boundary, p.callbacks())  # type: ignore[arg-type]
    writing: asyncio.Future[None] | None = None  # the batch being written, at most one

    async def flush(part: _FilePart) -> None:
        nonlocal writing
        if writing is not None:
            await writing  # batches are hashed in order
        writing = asyncio.ensure_future(asyncio.to_thread(part.write, part.take()))

    try:
        async for chunk in stream:
            parser.write(chunk)
            if p.content is not None and p.content.full():
                await flush(p.content)
        parser.finalize()
        if p.content is not None:
            await flush(p.content)
            assert writing is not None
            await writing
            writing = None
            assert p.content.file is not None
            p.content.file.seek(0)
            p.received.filename = p.content.filename
            p.received.spooled = p.content.spooled
            p.received.digests = p.content.digests()
    except BaseException as exc:
        if writing is not None:
            with contextlib.suppress(BaseException):
                await writing  # the thread must be done with the file before it closes
        if p.content is not None and p.content.spooled is not None:
            p.content.spooled.close()
        if isinstance(exc, FormParserError):
            raise UploadError("invalid upload body: Invalid multipart data.") from exc
        raise
    return p.received

"""Reading archive members with the bytes that actually come out counted, never the sizes the
headers claim.

`zipfile` decompresses bzip2 and lzma members with no output bound (one 4 KiB read of a bzip2
member can expand to gigabytes before it is cut to the claimed size), so zip members are read
here from their raw bytes with our own decompressors, `max_length` on every call. Tar streams are
read through `CappedReader`, which refuses to produce more than a budget of decompressed bytes.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol

from vestry.gateway.upload.form import UploadError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["CappedReader", "check_local_header", "check_zip_directory", "zip_member"]

CHUNK = 64 * 1024

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # local file header, 30 bytes
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # central directory entry, 46 bytes
_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory, 22 bytes
_EOCD64_LOCATOR = struct.Struct("<4sIQI")  # 20 bytes
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")  # 56 bytes

METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_LZMA_DICT_MIN = 4096


def _unreadable() -> UploadError:
    return UploadError("invalid distribution file: not a readable zip archive")


def check_zip_directory(f: BinaryIO, max_members: int) -> None:
    """Walk the central directory before `zipfile` builds a ZipInfo per entry: refuse more than
    `max_members` entries, and raw member names with a NUL (zipfile silently cuts them there)."""
    size = f.seek(0, io.SEEK_END)
    tail_len = min(size, _EOCD.size + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or tail_len - pos < _EOCD.size:
        raise _unreadable()
    _sig, _d, _cd, _n, entries, cd_size, cd_offset, _c = _EOCD.unpack_from(tail, pos)
    end = size - tail_len + pos  # where zipfile finds the directory: just before this record
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        if end < _EOCD64_LOCATOR.size + _EOCD64.size:
            raise _unreadable()
        f.seek(end - _EOCD64_LOCATOR.size - _EOCD64.size)
        record = f.read(_EOCD64.size)
        sig, _s, _v, _vn, _d4, _cd4, _n8, entries, cd_size, cd_offset = _EOCD64.unpack(record)
        if sig != b"PK\x06\x06":
            raise _unreadable()
        end -= _EOCD64_LOCATOR.size + _EOCD64.size
    if entries > max_members:
        raise UploadError("invalid distribution file: too many members")
    start = end - cd_size
    if start < 0:
        raise _unreadable()
    f.seek(start)
    walked, count = 0, 0
    while walked < cd_size:
        head = f.read(_CENTRAL.size)
        if len(head) < _CENTRAL.size or head[:4] != b"PK\x01\x02":
            raise _unreadable()
        fields = _CENTRAL.unpack(head)
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        name = f.read(name_len)
        if b"\x00" in name:
            raise UploadError(
                f"invalid distribution file: unsafe member path {name[:100]!r} (NUL byte)"
            )
        f.seek(extra_len + comment_len, io.SEEK_CUR)
        walked += _CENTRAL.size + name_len + extra_len + comment_len
        count += 1
        if count > max_members:
            raise UploadError("invalid distribution file: too many members")
    f.seek(0)


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Stored:
    eof = False
    needs_input = True

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return data


class _Inflate:
    """zlib's decompressobj behind the bz2/lzma interface (`needs_input`, `max_length`)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        self._tail = b""
        self._full = False

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._tail and not self._full

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._d.decompress(self._tail + data, max(max_length, 0))
        self._tail = self._d.unconsumed_tail
        self._full = max_length > 0 and len(out) == max_length  # more may be pending
        return out


class _ZipLzma:
    """The zip flavour of LZMA: a 4-byte header, LZMA1 properties, then a raw LZMA1 stream."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._head = b""
        self._d: lzma.LZMADecompressor | None = None

    @property
    def eof(self) -> bool:
        return self._d is not None and self._d.eof

    @property
    def needs_input(self) -> bool:
        return self._d is None or self._d.needs_input

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._d is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            (props_size,) = struct.unpack_from("<H", self._head, 2)
            if props_size != 5:
                raise UploadError("invalid distribution file: malformed lzma member")
            if len(self._head) < 4 + props_size:
                return b""
            props, data = self._head[4:9], self._head[9:]
            pb, rest = divmod(props[0], 45)
            lp, lc = divmod(rest, 9)
            (dict_size,) = struct.unpack_from("<I", props, 1)
            # The dictionary never needs to hold more than we will accept: no bigger allocation.
            dict_size = max(_LZMA_DICT_MIN, min(dict_size, self._limit))
            filters = [
                {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
            ]
            self._d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
        return self._d.decompress(data, max_length)


def _decompressor(method: int, limit: int) -> _Decompressor:
    if method == zipfile.ZIP_STORED:
        return _Stored()
    if method == zipfile.ZIP_DEFLATED:
        return _Inflate()
    if method == zipfile.ZIP_BZIP2:
        return bz2.BZ2Decompressor()
    return _ZipLzma(limit)


def check_local_header(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Check the local header agrees with the central directory; return where the data starts."""
    name = info.orig_filename[:100]
    if info.flag_bits & 0x1:
        raise UploadError(f"invalid distribution file: member {name!r} is encrypted")
    if info.compress_type not in METHODS:
        raise UploadError(
            f"invalid distribution file: member {name!r} uses compression method "
            f"{info.compress_type}; only stored, deflate, bzip2 and lzma are accepted"
        )
    f.seek(info.header_offset)
    head = f.read(_LOCAL.size)
    if len(head) < _LOCAL.size or head[:4] != b"PK\x03\x04":
        raise _unreadable()
    _sig, _v, flags, method, _t, _d, crc, csize, usize, name_len, extra_len = _LOCAL.unpack(head)
    raw_name = f.read(name_len)
    local_name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
    sizes_differ = (
        not flags & 0x8
        and 0xFFFFFFFF not in (csize, usize)
        and ((crc, csize, usize) != (info.CRC, info.compress_size, info.file_size))
    )
    if local_name != info.orig_filename or method != info.compress_type or sizes_differ:
        raise UploadError(
            f"invalid distribution file: the local header of {name!r} disagrees with the "
            "central directory"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise UploadError(
            f"invalid distribution file: stored member {name!r} claims {info.file_size} bytes "
            f"but holds {info.compress_size} (it looks like a zip bomb)"
        )
    start = f.seek(extra_len, io.SEEK_CUR)
    if start + info.compress_size > f.seek(0, io.SEEK_END):
        raise UploadError(f"invalid distribution file: {name!r} is truncated")
    f.seek(start)
    return start


def _chunks(f: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's decompressed bytes, at most CHUNK at a time; past its claimed size: refused."""
    limit = info.file_size
    name = info.orig_filename[:100]
    f.seek(check_local_header(f, info))
    d = _decompressor(info.compress_type, limit)
    left, produced = info.compress_size, 0

    def counted(out: bytes) -> bytes:
        nonlocal produced
        produced += len(out)
        if produced > limit:
            raise UploadError(
                f"invalid distribution file: {name!r} decompresses to more than the "
                f"{limit} bytes its header claims (it looks like a zip bomb)"
            )
        return out

    while left > 0 and not d.eof:
        raw = f.read(min(CHUNK, left))
        if not raw:
            raise UploadError(f"invalid distribution file: {name!r} is truncated")
        left -= len(raw)
        yield counted(d.decompress(raw, CHUNK))
        while not d.eof and not d.needs_input:
            yield counted(d.decompress(b"", CHUNK))
    if produced != limit:
        raise UploadError(
            f"invalid distribution file: {name!r} is truncated or its header lies about its size"
        )


def zip_member(f: BinaryIO, info: zipfile.ZipInfo, *, keep: bool) -> bytes:
    """Decompress one member with bounded memory, checking size and CRC; its bytes if `keep`."""
    kept: list[bytes] = []
    crc = 0
    try:
        for chunk in _chunks(f, info):
            crc = zlib.crc32(chunk, crc)
            if keep:
                kept.append(chunk)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        name = info.orig_filename[:100]
        raise UploadError(f"invalid distribution file: {name!r} cannot be decompressed") from exc
    if crc != info.CRC:
        raise UploadError(f"invalid distribution file: bad CRC for {info.orig_filename[:100]!r}")
    return b"".join(kept)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class CappedReader(io.RawIOBase):
    """A read-only stream over `raw` that refuses to produce more than `budget` bytes in all."""

    def __init__(self, raw: _Readable, budget: int, message: str) -> None:
        super().__init__()
        self._raw = raw
        self._left = budget
        self._message = message

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(min(len(view), CHUNK))
        self._left -= len(data)
        if self._left < 0:
            raise UploadError(self._message)
        view[: len(data)] = data
        return len(data)

"""Hostile archives, built byte by byte: zip members whose headers lie, bombs of every
compression method zip allows, tar headers tarfile would read whole.

`python -m tests.support.hostile` writes the corpus kept in tests/data/hostile/ (each file a few
KB at most); the tests read it from there, and build the cheap variants in code.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tests.factories import metadata_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
MiB = 1024 * 1024
DI = "demo_pkg-1.0.dist-info"
WHEEL_FILE = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
METADATA = metadata_text("demo-pkg", "1.0").encode()
PKG_INFO = METADATA


# ---- zip, byte by byte -------------------------------------------------------------------


def compress(method: int, data: bytes) -> bytes:
    """`data` compressed the way a zip member of `method` holds it."""
    if method == zipfile.ZIP_STORED:
        return data
    if method == zipfile.ZIP_DEFLATED:
        c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if method == zipfile.ZIP_BZIP2:
        return bz2.compress(data, 9)
    if method == zipfile.ZIP_LZMA:
        props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1})  # type: ignore[attr-defined]
        c = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1}])
        return struct.pack("<BBH", 9, 4, len(props)) + props + c.compress(data) + c.flush()
    raise ValueError(method)


def compress_zeros(method: int, size: int, prefix: bytes = b"") -> bytes:
    """`prefix` then `size` zero bytes, compressed in 1 MiB pieces (never all held at once)."""
    piece = bytes(MiB)
    if method == zipfile.ZIP_DEFLATED:
        c: object = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    elif method == zipfile.ZIP_BZIP2:
        c = bz2.BZ2Compressor(9)
    elif method == zipfile.ZIP_LZMA:
        props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1})  # type: ignore[attr-defined]
        c = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1}])
        head = struct.pack("<BBH", 9, 4, len(props)) + props
    else:
        raise ValueError(method)
    out = [head] if method == zipfile.ZIP_LZMA else []
    out.append(c.compress(prefix))  # type: ignore[attr-defined]
    for _ in range(size // MiB):
        out.append(c.compress(piece))  # type: ignore[attr-defined]
    out.append(c.flush())  # type: ignore[attr-defined]
    return b"".join(out)


@dataclass
class Member:
    name: str
    data: bytes = b""  # what the member really holds, uncompressed
    method: int = zipfile.ZIP_DEFLATED
    raw: bytes | None = None  # the compressed bytes, if not compress(method, data)
    claimed_size: int | None = None  # the uncompressed size the headers claim
    claimed_crc: int | None = None
    local_name: str | None = None  # the local header's name, if it should differ
    local_method: int | None = None
    local_size: int | None = None
    unix_mode: int | None = None  # high 16 bits of external_attr, with create_system 3
    raw_name: bytes | None = None  # the name's bytes, verbatim (e.g. with a NUL)


def raw_zip(members: list[Member], truncate: int | None = None) -> bytes:
    out = io.BytesIO()
    central = []
    for m in members:
        body = m.raw if m.raw is not None else compress(m.method, m.data)
        name = m.raw_name if m.raw_name is not None else m.name.encode()
        size = len(m.data) if m.claimed_size is None else m.claimed_size
        crc = zlib.crc32(m.data) if m.claimed_crc is None else m.claimed_crc
        lname = m.local_name.encode() if m.local_name is not None else name
        lmethod = m.method if m.local_method is None else m.local_method
        lsize = size if m.local_size is None else m.local_size
        offset = out.tell()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                lmethod,
                0,
                0x21,
                crc,
                len(body),
                lsize,
                len(lname),
                0,
            )
        )
        out.write(lname + body)
        made_by = (3 << 8 | 20) if m.unix_mode is not None else 20
        attr = (m.unix_mode or 0) << 16
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                made_by,
                20,
                0,
                m.method,
                0,
                0x21,
                crc,
                len(body),
                size,
                len(name),
                0,
                0,
                0,
                0,
                attr,
                offset,
            )
            + name
        )
    cd_start = out.tell()
    for entry in central:
        out.write(entry)
    cd_size = out.tell() - cd_start
    out.write(
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_size, cd_start, 0
        )
    )
    data = out.getvalue()
    return data[:truncate] if truncate is not None else data


def good_wheel_members() -> list[Member]:
    return [
        Member("demo_pkg/__init__.py", b""),
        Member(f"{DI}/METADATA", METADATA),
        Member(f"{DI}/WHEEL", WHEEL_FILE),
        Member(f"{DI}/RECORD", b""),
    ]


def wheel_with(*extra: Member, replace_metadata: Member | None = None) -> bytes:
    members = good_wheel_members()
    if replace_metadata is not None:
        members[1] = replace_metadata
    return raw_zip(members + list(extra))


def metadata_bomb(method: int, size: int = 500 * MiB) -> bytes:
    """A wheel whose METADATA claims (size and CRC) its real few hundred bytes, yet its stream
    goes on to `size` more: zipfile expands it all, then cuts it to the claim and accepts it."""
    raw = compress_zeros(method, size, prefix=METADATA)
    return wheel_with(replace_metadata=Member(f"{DI}/METADATA", METADATA, method=method, raw=raw))


# ---- tar ---------------------------------------------------------------------------------


def tar_gz(build: object) -> bytes:
    """A .tar.gz written by `build(tarfile)`, for members the tests describe in code."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
        build(tf)  # type: ignore[operator]
    return buf.getvalue()


def tar_header(name: bytes, size: int, typeflag: bytes) -> bytes:
    """One raw 512-byte ustar/GNU header block: what tarfile reads before deciding anything."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = f"{size:011o}".encode() + b"\x00"
    block[136:148] = b"00000000000\x00"
    block[156:157] = typeflag
    block[257:265] = b"ustar  \x00"
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\x00 "
    return bytes(block)


def long_header_bomb(typeflag: bytes, size: int = 500 * MiB) -> bytes:
    """A .tar.gz opening with a GNU longname ('L') or pax ('x') header of `size` bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    out = [c.compress(tar_header(b"././@LongLink", size, typeflag))]
    piece = b"a" * MiB
    for _ in range(size // MiB):
        out.append(c.compress(piece))
    out.append(c.flush())
    return b"".join(out)


def gzip_zeros(size: int) -> bytes:
    """A .tar.gz whose one member holds `size` zero bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = bytes(MiB)
    head = c.compress(tar_header(b"demo_pkg-1.0/zeros", size, b"0"))
    return b"".join([head, *(c.compress(piece) for _ in range(size // MiB)), c.flush()])


# ---- the corpus kept in the repository ---------------------------------------------------

METHODS = {
    "stored": zipfile.ZIP_STORED,
    "deflate": zipfile.ZIP_DEFLATED,
    "bzip2": zipfile.ZIP_BZIP2,
    "lzma": zipfile.ZIP_LZMA,
}


def corpus() -> dict[str, bytes]:
    """name -> bytes for every file of tests/data/hostile/ (the slow-to-build ones)."""
    # deflate and gzip top out near 1000:1, so theirs are 64 MiB (a 64 KB file) not 500 MiB.
    files = {
        "metadata-bomb-bzip2.whl": metadata_bomb(zipfile.ZIP_BZIP2, 500 * MiB),
        "metadata-bomb-lzma.whl": metadata_bomb(zipfile.ZIP_LZMA, 64 * MiB),
        "metadata-bomb-deflate.whl": metadata_bomb(zipfile.ZIP_DEFLATED, 64 * MiB),
        "gnu-longname-bomb.tar.gz": long_header_bomb(tarfile.GNUTYPE_LONGNAME, 64 * MiB),
        "pax-header-bomb.tar.gz": long_header_bomb(tarfile.XHDTYPE, 64 * MiB),
        "gzip-bomb.tar.gz": gzip_zeros(64 * MiB),
    }
    return files


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()

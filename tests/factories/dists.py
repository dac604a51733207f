"""Build real, installable wheels and sdists in a few milliseconds, for tests; and raw zip and
tar archives for the crafted files an upload must refuse."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name


def metadata_text(
    name: str,
    version: str,
    metadata_version: str = "2.1",
    requires_python: str = "",
    requires_dist: tuple[str, ...] = (),
    summary: str = "A test package",
) -> str:
    lines = [
        f"Metadata-Version: {metadata_version}",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires_dist]
    return "\n".join(lines) + "\n\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    dist_name: str | None = None,
    module: str | None = None,
    requires_python: str = "",
    requires_dist: tuple[str, ...] = (),
    metadata_version: str = "2.1",
    extra_files: dict[str, bytes] | None = None,
    omit: tuple[str, ...] = (),
) -> Path:
    """A pure-Python wheel that pip can install. `dist_name` overrides the filename's name part
    (e.g. legacy un-normalised names like MarkupSafe)."""
    stem = dist_name or canonicalize_name(name).replace("-", "_")
    module = module or canonicalize_name(name).replace("-", "_")
    dist_info = f"{stem}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": metadata_text(
            name, version, metadata_version, requires_python, requires_dist
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: vestry-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n\n",
    }
    files.update(extra_files or {})
    for path in omit:
        files.pop(path.format(dist_info=dist_info), None)
    record_path = f"{dist_info}/RECORD"
    record = "\n".join([_record_line(p, d) for p, d in files.items()] + [f"{record_path},,"])
    files[record_path] = (record + "\n").encode()
    out = directory / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return out


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    filename_stem: str | None = None,
    extra_members: dict[str, bytes] | None = None,
    pkg_info: bool = True,
) -> Path:
    stem = filename_stem or f"{canonicalize_name(name).replace('-', '_')}-{version}"
    members: dict[str, bytes] = {}
    if pkg_info:
        members[f"{stem}/PKG-INFO"] = metadata_text(name, version).encode()
    members[f"{stem}/setup.py"] = b"from setuptools import setup\nsetup()\n"
    members.update(extra_members or {})
    out = directory / f"{stem}.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return out


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive of exactly `members`, in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tar of exactly `members`, plus symbolic `links` (name -> target), in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return buf.getvalue()


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])

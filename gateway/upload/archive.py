"""Archive sanity checks on an uploaded file, and the filename rules that go with them.

Runs on the spooled temp file before any byte reaches storage.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from vestry.gateway.upload.form import UploadError

__all__ = ["ArchiveFacts", "check_filename", "check_pep625", "inspect_archive"]

# Warehouse's zip-bomb rule: a member may not expand more than 50x (beyond a small floor).
MAX_COMPRESSION_RATIO = 50
_RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 100_000
MAX_METADATA_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveFacts:
    metadata: bytes | None  # the wheel's METADATA, byte for byte (PEP 658); None for sdists


def check_filename(filename: str, filetype: str, name: str, version: str) -> None:
    """Filename rules: characters, extension vs filetype, name and version vs the form."""
    if not filename or len(filename) > 255:
        raise UploadError("invalid filename: it must be 1-255 characters")
    if "/" in filename or "\\" in filename or any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise UploadError("invalid filename: it may not contain '/', '\\' or control characters")
    if filename.startswith(".") or ".." in filename.split("/"):
        raise UploadError("invalid filename")
    form_name, form_version = canonicalize_name(name), Version(version)
    if filetype == "bdist_wheel":
        if not filename.endswith(".whl"):
            raise UploadError("invalid file extension: a bdist_wheel must end in .whl")
        try:
            wname, wversion, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            raise UploadError(f"invalid wheel filename: {exc}") from exc
        if wname != form_name:
            raise UploadError(
                f"start filename for {name!r} with {name.replace('-', '_')!r}: the wheel's name "
                "does not match the project"
            )
        if wversion != form_version:
            raise UploadError(
                f"version in filename ({wversion}) does not match the metadata version ({version})"
            )
        return
    if not (filename.endswith(".tar.gz") or filename.endswith(".zip")):
        raise UploadError("invalid file extension: an sdist must end in .tar.gz (or .zip)")
    try:
        sname, sversion = parse_sdist_filename(filename)
    except InvalidSdistFilename as exc:
        raise UploadError(f"invalid sdist filename: {exc}") from exc
    if sname != form_name:
        raise UploadError(f"the sdist's name in {filename!r} does not match the project {name!r}")
    if sversion != form_version:
        raise UploadError(
            f"version in filename ({sversion}) does not match the metadata version ({version})"
        )


def check_pep625(filename: str, name: str, version: str) -> None:
    """New projects get normalised sdist names (PEP 625); older ones keep their legacy form."""
    expected = f"{canonicalize_name(name).replace('-', '_')}-{Version(version)}.tar.gz"
    if filename != expected:
        raise UploadError(f"invalid sdist filename {filename!r}: it must be {expected!r} (PEP 625)")


def _check_zip_ratio(zf: zipfile.ZipFile) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UploadError("invalid distribution file: too many members")
    for info in infos:
        if (
            info.file_size > _RATIO_FLOOR
            and info.file_size > info.compress_size * MAX_COMPRESSION_RATIO
        ):
            raise UploadError("file exceeds the compression ratio limit (it looks like a zip bomb)")
        name = info.filename
        if name.startswith("/") or ".." in name.replace("\\", "/").split("/"):
            raise UploadError(f"invalid distribution file: unsafe member path {name[:100]!r}")


def _wheel_metadata(f: BinaryIO, filename: str) -> bytes:
    name, version, _b, _t = parse_wheel_filename(filename)
    try:
        with zipfile.ZipFile(f) as zf:
            _check_zip_ratio(zf)
            # .dist-info directory names in the wild are not always normalised (MarkupSafe-…).
            dist_infos = {
                n.split("/")[0]
                for n in zf.namelist()
                if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")
            }
            wanted = None
            for d in dist_infos:
                stem = d[: -len(".dist-info")]
                dname, _, dversion = stem.rpartition("-")
                try:
                    if canonicalize_name(dname) == name and Version(dversion) == version:
                        wanted = d
                except ValueError:
                    continue
            if wanted is None:
                raise UploadError("wheel is invalid: missing .dist-info directory")
            names = set(zf.namelist())
            if f"{wanted}/WHEEL" not in names:
                raise UploadError(f"wheel is invalid: missing {wanted}/WHEEL")
            if f"{wanted}/METADATA" not in names:
                raise UploadError(f"wheel is invalid: missing {wanted}/METADATA")
            info = zf.getinfo(f"{wanted}/METADATA")
            if info.file_size > MAX_METADATA_SIZE:
                raise UploadError("wheel is invalid: METADATA is too large")
            metadata = zf.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UploadError("invalid distribution file: not a readable zip archive") from exc
    _check_metadata_matches(metadata, filename, name, version)
    return metadata


def _check_metadata_matches(
    metadata: bytes, filename: str, name: NormalizedName, version: Version
) -> None:
    """The wheel's own METADATA must name the project and version its filename claims: pip and
    uv resolve from that file (PEP 658), so a mismatch would install something else."""
    try:
        raw, _unparsed = parse_email(metadata)
    except ValueError as exc:
        raise UploadError(f"wheel is invalid: METADATA cannot be parsed ({exc})") from exc
    meta_name, meta_version = raw.get("name", ""), raw.get("version", "")
    try:
        same = canonicalize_name(meta_name) == name and Version(meta_version) == version
    except InvalidVersion:
        same = False
    if not same:
        raise UploadError(
            f"wheel is invalid: its METADATA says {meta_name[:100]!r} version "
            f"{meta_version[:100]!r}, but the filename {filename!r} says {name!r} {version}"
        )


def _check_sdist_tar(f: BinaryIO) -> None:
    compressed = f.seek(0, os.SEEK_END)
    f.seek(0)
    # Stop expanding as soon as the ratio is exceeded: a bomb must not cost its full size in CPU.
    budget = max(_RATIO_FLOOR, compressed * MAX_COMPRESSION_RATIO)
    try:
        with tarfile.open(fileobj=f, mode="r:gz") as tf:
            top: set[str] = set()
            has_pkg_info = False
            total = 0
            for count, member in enumerate(tf, start=1):
                if count > MAX_MEMBERS:
                    raise UploadError("invalid distribution file: too many members")
                name = member.name
                parts = name.split("/")
                if name.startswith("/") or ".." in parts:
                    raise UploadError(
                        f"invalid distribution file: unsafe member path {name[:100]!r}"
                    )
                if member.issym() or member.islnk():
                    target = member.linkname
                    if target.startswith("/") or ".." in target.split("/"):
                        raise UploadError("invalid distribution file: link points outside")
                total += max(member.size, 0)
                if total > budget:
                    raise UploadError(
                        "file exceeds the compression ratio limit (it looks like a bomb)"
                    )
                top.add(parts[0])
                if len(parts) == 2 and parts[1] == "PKG-INFO":
                    has_pkg_info = True
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadError("invalid distribution file: not a readable .tar.gz archive") from exc

    if len(top) != 1:
        raise UploadError("invalid sdist: it must contain exactly one top-level directory")
    if not has_pkg_info:
        raise UploadError("invalid sdist: PKG-INFO is missing from the top-level directory")


def _check_sdist_zip(f: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(f) as zf:
            _check_zip_ratio(zf)
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UploadError("invalid distribution file: not a readable zip archive") from exc
    top = {n.split("/")[0] for n in names}
    if len(top) != 1:
        raise UploadError("invalid sdist: it must contain exactly one top-level directory")
    if not any(n.count("/") == 1 and n.endswith("/PKG-INFO") for n in names):
        raise UploadError("invalid sdist: PKG-INFO is missing from the top-level directory")


def inspect_archive(f: BinaryIO, filename: str, filetype: str) -> ArchiveFacts:
    """Check the archive (a seekable file) is sane; return the wheel METADATA for PEP 658."""
    f.seek(0)
    if filetype == "bdist_wheel":
        return ArchiveFacts(_wheel_metadata(f, filename))
    if filename.endswith(".zip"):
        _check_sdist_zip(f)
    else:
        _check_sdist_tar(f)
    return ArchiveFacts(None)

"""Archive sanity checks on an uploaded file, and the filename rules that go with them.

Runs on the upload's temp file while its bytes travel to storage: storage keeps none of them
unless these checks (and the index) said yes (gateway.routes.upload).
"""

from __future__ import annotations

import gzip
import os
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
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

from vestry.common.errors import InvalidArgument
from vestry.common.filenames import check_filename_characters
from vestry.common.versions import MAX_VERSION_LENGTH, parse_version
from vestry.gateway.upload.bounded import (
    METHODS,
    CappedReader,
    check_local_header,
    check_zip_directory,
    zip_member,
)
from vestry.gateway.upload.form import UploadError

__all__ = ["ArchiveFacts", "check_filename", "check_pep625", "inspect_archive"]

# Warehouse's zip-bomb rule: a member may not expand more than 50x (beyond a small floor).
MAX_COMPRESSION_RATIO = 50
_RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 100_000
MAX_METADATA_SIZE = 10 * 1024 * 1024
# All members of a zip together, by what they claim (each is then checked to produce no more).
_TOTAL_FLOOR = 32 * 1024 * 1024
# GNU longname/longlink and pax headers: tarfile reads each into memory whole.
MAX_TAR_HEADER_SIZE = 256 * 1024
_EXTENSION_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_DRIVE = re.compile(r"[A-Za-z]:")
_TAG_PART = re.compile(r"[A-Za-z0-9_.]+\Z")


@dataclass(frozen=True)
class ArchiveFacts:
    metadata: bytes | None  # the wheel's METADATA, byte for byte (PEP 658); None for sdists


def check_filename(filename: str, filetype: str, name: str, version: str) -> None:
    """Filename rules: characters, extension vs filetype, name and version vs the form."""
    try:
        check_filename_characters(filename)
        # The form's version, already held to the local-version setting by parse_form.
        form_version = parse_version(version, allow_local=True)
    except InvalidArgument as exc:
        raise UploadError(exc.message) from exc
    form_name = canonicalize_name(name)
    if filetype == "bdist_wheel":
        if not filename.endswith(".whl"):
            raise UploadError("invalid file extension: a bdist_wheel must end in .whl")
        try:
            wname, wversion, _build, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion, ValueError) as exc:
            raise UploadError(f"invalid wheel filename: {exc}") from exc
        for tag in tags:
            for part in (tag.interpreter, tag.abi, tag.platform):
                if not _TAG_PART.match(part):
                    raise UploadError(f"invalid wheel filename: bad tag {part[:100]!r}")
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
    except (InvalidSdistFilename, InvalidVersion, ValueError) as exc:
        raise UploadError(f"invalid sdist filename: {exc}") from exc
    if sname != form_name:
        raise UploadError(f"the sdist's name in {filename!r} does not match the project {name!r}")
    if sversion != form_version:
        raise UploadError(
            f"version in filename ({sversion}) does not match the metadata version ({version})"
        )


def check_pep625(filename: str, name: str, version: str) -> None:
    """New projects get normalised sdist names (PEP 625); older ones keep their legacy form."""
    try:
        parsed = parse_version(version, allow_local=True)  # as in check_filename
    except InvalidArgument as exc:
        raise UploadError(exc.message) from exc
    expected = f"{canonicalize_name(name).replace('-', '_')}-{parsed}.tar.gz"
    if filename != expected:
        raise UploadError(f"invalid sdist filename {filename!r}: it must be {expected!r} (PEP 625)")


def check_member_path(name: str, what: str = "unsafe member path") -> None:
    """A member path must be relative, '/'-separated and stay inside the archive."""
    shown = name[:100]
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or _DRIVE.match(name)
        or ".." in name.split("/")
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    ):
        raise UploadError(f"invalid distribution file: {what} {shown!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:  # surrogate-escaped bytes: not valid UTF-8
        raise UploadError(f"invalid distribution file: member path {shown!r} is not UTF-8") from exc


def _check_zip_members(f: BinaryIO, zf: zipfile.ZipFile, size: int) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UploadError("invalid distribution file: too many members")
    seen: set[str] = set()
    total = 0
    for info in infos:
        if (
            info.file_size > _RATIO_FLOOR
            and info.file_size > info.compress_size * MAX_COMPRESSION_RATIO
        ):
            raise UploadError("file exceeds the compression ratio limit (it looks like a zip bomb)")
        total += info.file_size
        name = info.orig_filename
        check_member_path(name)
        if name in seen:
            raise UploadError(f"invalid distribution file: duplicate member {name[:100]!r}")
        seen.add(name)
        if info.compress_type not in METHODS:
            raise UploadError(
                f"invalid distribution file: member {name[:100]!r} uses compression method "
                f"{info.compress_type}; only stored, deflate, bzip2 and lzma are accepted"
            )
        mode = info.external_attr >> 16
        if info.create_system == 3 and mode:  # Unix attributes
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UploadError(
                    f"invalid distribution file: {name[:100]!r} is not a regular file "
                    "or directory (links, devices and FIFOs are refused)"
                )
            if mode & (stat.S_ISUID | stat.S_ISGID):
                raise UploadError(f"invalid distribution file: {name[:100]!r} is setuid/setgid")
    if total > max(_TOTAL_FLOOR, size * MAX_COMPRESSION_RATIO):
        raise UploadError("file exceeds the compression ratio limit (it looks like a zip bomb)")
    # Every member's local header must agree with the central directory (a cheap seek and read
    # each). Only the members Vestry reads (METADATA, WHEEL, PKG-INFO) are decompressed, each
    # counted against its claimed size and CRC-checked: decompressing all of a 100 MiB wheel
    # would cost seconds per upload, for bytes Vestry never looks at.
    for info in infos:
        check_local_header(f, info)
    return infos


def _open_zip(f: BinaryIO) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    size = f.seek(0, os.SEEK_END)
    check_zip_directory(f, MAX_MEMBERS)
    zf = zipfile.ZipFile(f)
    return zf, _check_zip_members(f, zf, size)


def _read_small(f: BinaryIO, info: zipfile.ZipInfo, what: str) -> bytes:
    if info.file_size > MAX_METADATA_SIZE:
        raise UploadError(f"{what} is too large")
    return zip_member(f, info, keep=True)


def _wheel_metadata(f: BinaryIO, filename: str) -> bytes:
    name, version, _b, _t = parse_wheel_filename(filename)
    try:
        zf, infos = _open_zip(f)
        with zf:
            names = {i.orig_filename: i for i in infos}
            # .dist-info directory names in the wild are not always normalised (MarkupSafe-…).
            dist_infos = {
                n.split("/")[0]
                for n in names
                if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")
            }
            wanted = None
            for d in sorted(dist_infos):
                stem = d[: -len(".dist-info")]
                dname, _, dversion = stem.rpartition("-")
                try:
                    if (
                        len(dversion) <= MAX_VERSION_LENGTH
                        and canonicalize_name(dname) == name
                        and Version(dversion) == version
                    ):
                        wanted = d
                except ValueError:
                    continue
            if wanted is None:
                raise UploadError("wheel is invalid: missing .dist-info directory")
            if f"{wanted}/WHEEL" not in names:
                raise UploadError(f"wheel is invalid: missing {wanted}/WHEEL")
            if f"{wanted}/METADATA" not in names:
                raise UploadError(f"wheel is invalid: missing {wanted}/METADATA")
            metadata = _read_small(f, names[f"{wanted}/METADATA"], "wheel is invalid: METADATA")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadError("invalid distribution file: not a readable zip archive") from exc
    _check_metadata_matches(metadata, filename, name, version)
    return metadata


def _check_metadata_matches(
    metadata: bytes,
    filename: str,
    name: NormalizedName,
    version: Version,
    kind: str = "wheel",
    member: str = "METADATA",
) -> None:
    """The archive's own METADATA (PKG-INFO) must name the project and version its filename and
    form claim: pip and uv resolve from that file (PEP 658), so a mismatch would install
    something else."""
    try:
        raw, _unparsed = parse_email(metadata)
    except (ValueError, LookupError) as exc:
        raise UploadError(f"{kind} is invalid: {member} cannot be parsed ({exc})") from exc
    meta_name, meta_version = raw.get("name", ""), raw.get("version", "")
    try:
        same = (
            len(meta_version) <= MAX_VERSION_LENGTH
            and canonicalize_name(meta_name) == name
            and Version(meta_version) == version
        )
    except (InvalidVersion, ValueError):
        same = False
    if not same:
        raise UploadError(
            f"{kind} is invalid: its {member} says {meta_name[:100]!r} version "
            f"{meta_version[:100]!r}, but the filename {filename!r} says {name!r} {version}"
        )


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses an over-long GNU longname/longlink or pax header before tarfile reads it whole."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _BoundedTarInfo:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENSION_TYPES and info.size > MAX_TAR_HEADER_SIZE:
            raise UploadError(
                f"invalid distribution file: a {info.size}-byte tar extension header "
                f"(limit {MAX_TAR_HEADER_SIZE})"
            )
        return info


def _check_tar_member(member: tarfile.TarInfo, seen: set[str]) -> None:
    name = member.name
    check_member_path(name)
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UploadError(
            f"invalid distribution file: {name[:100]!r} is not a regular file or directory "
            "(devices and FIFOs are refused)"
        )
    if member.mode & (stat.S_ISUID | stat.S_ISGID):
        raise UploadError(f"invalid distribution file: {name[:100]!r} is setuid/setgid")
    if member.issym() or member.islnk():
        target = member.linkname
        if (
            not target
            or target.startswith("/")
            or "\\" in target
            or "\x00" in target
            or _DRIVE.match(target)
        ):
            raise UploadError(f"invalid distribution file: link points outside {name[:100]!r}")
        if member.issym():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        else:  # a hard link names another member, from the archive's root
            resolved = posixpath.normpath(target)
        if resolved.split("/")[0] != name.split("/")[0]:
            # outside the archive, or outside its one top-level directory
            raise UploadError(f"invalid distribution file: link points outside {name[:100]!r}")
        if member.islnk() and target not in seen:
            raise UploadError(
                f"invalid distribution file: hard link {name[:100]!r} to a missing member"
            )


def _check_sdist_tar(f: BinaryIO, filename: str, name: NormalizedName, version: Version) -> None:
    compressed = f.seek(0, os.SEEK_END)
    f.seek(0)
    # Decompressed bytes are counted as they come out, headers included: a bomb costs at most
    # this budget in CPU and never its size in memory.
    budget = max(_RATIO_FLOOR, compressed * MAX_COMPRESSION_RATIO)
    pkg_info: bytes | None = None
    top: set[str] = set()
    seen: set[str] = set()
    try:
        with gzip.GzipFile(fileobj=f, mode="rb") as gz:
            capped = CappedReader(
                gz,
                budget,
                "file exceeds the compression ratio limit (it looks like a bomb)",
            )
            with tarfile.open(
                fileobj=capped,
                mode="r|",
                tarinfo=_BoundedTarInfo,
                encoding="utf-8",
                errors="surrogateescape",
            ) as tf:
                for count, member in enumerate(tf, start=1):
                    if count > MAX_MEMBERS:
                        raise UploadError("invalid distribution file: too many members")
                    _check_tar_member(member, seen)
                    seen.add(member.name)
                    parts = member.name.split("/")
                    top.add(parts[0])
                    if len(parts) == 2 and parts[1] == "PKG-INFO":
                        if pkg_info is not None:
                            raise UploadError("invalid sdist: more than one PKG-INFO")
                        if not member.isreg():
                            raise UploadError("invalid sdist: PKG-INFO is not a regular file")
                        if member.size > MAX_METADATA_SIZE:
                            raise UploadError("invalid sdist: PKG-INFO is too large")
                        extracted = tf.extractfile(member)
                        assert extracted is not None
                        pkg_info = extracted.read(MAX_METADATA_SIZE + 1)
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise UploadError("invalid distribution file: not a readable .tar.gz archive") from exc
    _check_sdist_layout(top, pkg_info is not None)
    assert pkg_info is not None
    _check_metadata_matches(pkg_info, filename, name, version, "sdist", "PKG-INFO")


def _check_sdist_layout(top: set[str], has_pkg_info: bool) -> None:
    if len(top) != 1:
        raise UploadError("invalid sdist: it must contain exactly one top-level directory")
    if not has_pkg_info:
        raise UploadError("invalid sdist: PKG-INFO is missing from the top-level directory")


def _check_sdist_zip(f: BinaryIO, filename: str, name: NormalizedName, version: Version) -> None:
    try:
        zf, infos = _open_zip(f)
        with zf:
            names = [i.orig_filename for i in infos]
            top = {n.split("/")[0] for n in names}
            pkg_infos = [
                i
                for i in infos
                if i.orig_filename.count("/") == 1 and i.orig_filename.endswith("/PKG-INFO")
            ]
            _check_sdist_layout(top, bool(pkg_infos))
            pkg_info = _read_small(f, pkg_infos[0], "invalid sdist: PKG-INFO")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadError("invalid distribution file: not a readable zip archive") from exc
    _check_metadata_matches(pkg_info, filename, name, version, "sdist", "PKG-INFO")


def inspect_archive(f: BinaryIO, filename: str, filetype: str) -> ArchiveFacts:
    """Check the archive (a seekable file) is sane; return the wheel METADATA for PEP 658."""
    f.seek(0)
    if filetype == "bdist_wheel":
        return ArchiveFacts(_wheel_metadata(f, filename))
    name, version = parse_sdist_filename(filename)
    if filename.endswith(".zip"):
        _check_sdist_zip(f, filename, name, version)
    else:
        _check_sdist_tar(f, filename, name, version)
    return ArchiveFacts(None)

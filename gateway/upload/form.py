"""The legacy upload form (`POST /legacy/`): fields, duplicates, digests and core metadata.

Pure functions over the parsed multipart fields, so every rejection is testable without a server.
Messages follow Warehouse's where clients depend on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata

from vestry.common.errors import InvalidArgument
from vestry.common.http import is_link_url
from vestry.common.versions import MAX_VERSION_LENGTH, LocalVersionRefused, parse_version
from vestry.gateway.errors import HTTPError

__all__ = [
    "MAX_VERSION_LENGTH",
    "MULTI_META",
    "SINGLE_META",
    "UploadError",
    "UploadForm",
    "parse_form",
]

# As the index stores them; checked before packaging parses a version (a 100,000-digit release
# segment costs CPU, and past 4300 digits int() raises ValueError: a 500, not a 400).
# Warehouse (forklift/metadata.py): Summary at most 512 characters, on one line; a Project-URL
# label at most 32. Warehouse sets no limit on the others; these are Vestry's, generous for real
# metadata (a whole licence text in License, a long README in Description).
SUMMARY_MAX = 512
PROJECT_URL_LABEL_MAX = 32
DESCRIPTION_MAX = 4 * 1024 * 1024
LICENSE_MAX = 128 * 1024
FIELD_MAX = 8 * 1024  # any other metadata value, each of a repeated field's values included
VALUES_MAX = 1000  # values of one repeated field
FORM_MAX = 8 * 1024 * 1024  # all fields together, in characters
_FIELD_LIMITS = {"description": DESCRIPTION_MAX, "license": LICENSE_MAX, "summary": SUMMARY_MAX}
_URL_FIELDS = ("home_page", "download_url")


class UploadError(HTTPError):
    """An answer to an upload (400 unless said), given by the gateway's one error handler; the
    message is shown by twine/uv."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)


SUPPORTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5")
FILETYPES = ("sdist", "bdist_wheel")

# Form fields that may legitimately repeat; all others must appear once.
_MULTI = {
    "classifiers",
    "platform",
    "supported_platform",
    "requires_dist",
    "provides_dist",
    "obsoletes_dist",
    "requires_external",
    "project_urls",
    "provides_extra",
    "dynamic",
    "license_file",
    "license_files",
    "requires",
    "provides",
    "obsoletes",
    "import_name",
    "import_namespace",
    "attestations",
}
# form field -> RawMetadata key, for single-valued fields
SINGLE_META = {
    "name": "name",
    "version": "version",
    "summary": "summary",
    "description": "description",
    "description_content_type": "description_content_type",
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "license_expression": "license_expression",
    "home_page": "home_page",
    "download_url": "download_url",
    "requires_python": "requires_python",
}
MULTI_META = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_files",
}
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_HEX32 = re.compile(r"^[0-9a-f]{32}\Z")


@dataclass
class UploadForm:
    name: str
    version: str
    filetype: str
    pyversion: str
    metadata_version: str
    md5_digest: str = ""
    sha256_digest: str = ""
    blake2_256_digest: str = ""
    metadata: Metadata | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)

    def one(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[0]

    def many(self, key: str) -> list[str]:
        return [v for v in self.fields.get(key, []) if v]


def _collect(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    total = 0
    for key, value in items:
        total += len(key) + len(value)
        if total > FORM_MAX:
            raise UploadError(
                f"the upload form is too large: its fields may total {FORM_MAX} characters"
            )
        fields.setdefault(key, []).append(value)
    for key, values in fields.items():
        if key not in _MULTI and len(values) > 1:
            raise UploadError(f"{key}: the field was sent more than once")
    return fields


def _check_sizes(fields: dict[str, list[str]]) -> None:
    """Per-field limits on the metadata the index stores; the message names the field."""
    known = {*SINGLE_META, *MULTI_META, "keywords", "project_urls"}
    for key in sorted(known & fields.keys()):
        values = fields[key]
        if len(values) > VALUES_MAX:
            raise UploadError(f"{key}: at most {VALUES_MAX} values may be sent")
        limit = _FIELD_LIMITS.get(key, FIELD_MAX)
        for value in values:
            if len(value) > limit:
                raise UploadError(f"{key}: the field must be {limit} characters or less")
    summary = fields.get("summary", [""])[0]
    if "\n" in summary or "\r" in summary:
        raise UploadError("summary: multiple lines are not allowed")


def _check_url(key: str, url: str) -> None:
    """Only http(s) URLs with a host: a javascript: or data: link would be rendered as a link."""
    if not is_link_url(url):
        raise UploadError(
            f"{key}: {url[:100]!r} is not a valid URL: only http:// and https:// URLs"
        )


def _raw_metadata(fields: dict[str, list[str]]) -> RawMetadata:
    raw: dict[str, Any] = {"metadata_version": fields["metadata_version"][0]}
    for key in _URL_FIELDS:
        value = fields.get(key, [""])[0].strip()
        if value:
            _check_url(key, value)
    for form_key, raw_key in SINGLE_META.items():
        value = fields.get(form_key, [""])[0]
        if value:
            raw[raw_key] = value
    for form_key, raw_key in MULTI_META.items():
        values = [v for v in fields.get(form_key, []) if v]
        if values:
            raw[raw_key] = values
    keywords = fields.get("keywords", [""])[0]
    if keywords:
        raw["keywords"] = [k.strip() for k in keywords.split(",") if k.strip()]
    urls: dict[str, str] = {}
    for entry in fields.get("project_urls", []):
        label, sep, url = entry.partition(",")
        if not sep:
            raise UploadError(f"project_urls: {entry[:100]!r} is not 'Label, URL'")
        label, url = label.strip(), url.strip()
        if not label or len(label) > PROJECT_URL_LABEL_MAX:
            raise UploadError(
                f"project_urls: the label {label[:100]!r} must be 1-{PROJECT_URL_LABEL_MAX} "
                "characters"
            )
        _check_url("project_urls", url)
        urls[label] = url
    if urls:
        raw["project_urls"] = urls
    return raw  # type: ignore[return-value]


def _first_problem(group: ExceptionGroup) -> str:
    for exc in group.exceptions:
        if isinstance(exc, InvalidMetadata):
            return f"{exc.field}: {exc}"
        return str(exc)
    return "invalid metadata"


def _too_new(exc: Exception) -> bool:
    return isinstance(exc, InvalidMetadata) and "introduced in metadata version" in str(exc)


def _validated(raw: RawMetadata) -> Metadata:
    """Validate core metadata; a field newer than the declared Metadata-Version is accepted.

    Real files carry such fields (License-Expression under Metadata-Version 2.1, written by
    several build backends; twine 7 refuses to send them, older twine and uv publish do, and PyPI
    serves them). Refusing them would make those releases impossible to mirror into Vestry, so
    they are checked by the newest rules instead; every other problem is still refused.
    """
    try:
        return Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        if not all(_too_new(exc) for exc in group.exceptions):
            raise
    newest: dict[str, Any] = {**raw, "metadata_version": SUPPORTED_METADATA_VERSIONS[-1]}
    return Metadata.from_raw(newest, validate=True)  # type: ignore[arg-type]


def parse_form(items: Iterable[tuple[str, str]], *, allow_local: bool = True) -> UploadForm:
    """Validate the non-file fields of an upload; raise UploadError with the first problem.

    A wheel's `pyversion` may be missing or empty (uv publish sends none for tags such as
    cp313t): `before_index` takes it from the filename. `allow_local` accepts local versions.
    """
    fields = _collect(items)

    def one(key: str) -> str:
        return fields.get(key, [""])[0]

    action = one(":action")
    if action != "file_upload":
        raise UploadError(f"unsupported ':action' {action!r}; only 'file_upload' is supported")
    if one("protocol_version") not in ("", "1"):
        raise UploadError("unknown protocol_version; this index speaks version 1")
    for required in ("name", "version", "filetype", "metadata_version"):
        if not one(required):
            raise UploadError(f"{required}: this field is required")
    filetype = one("filetype")
    if filetype not in FILETYPES:
        raise UploadError(f"filetype: {filetype[:50]!r} is not one of sdist, bdist_wheel")
    pyversion = one("pyversion")
    if filetype == "sdist" and pyversion not in ("", "source"):
        raise UploadError("pyversion: use 'source' for an sdist")
    md5, sha256, blake2 = (
        one("md5_digest").lower(),
        one("sha256_digest").lower(),
        one("blake2_256_digest").lower(),
    )
    if not (md5 or sha256 or blake2):
        raise UploadError("include at least one message digest (sha256_digest)")
    if (
        (sha256 and not _HEX64.match(sha256))
        or (blake2 and not _HEX64.match(blake2))
        or (md5 and not _HEX32.match(md5))
    ):
        raise UploadError("a message digest is not a hex digest of the right length")
    metadata_version = one("metadata_version")
    if metadata_version not in SUPPORTED_METADATA_VERSIONS:
        raise UploadError(
            f"metadata_version: {metadata_version[:20]!r} is not a supported metadata version"
        )
    _check_sizes(fields)
    try:
        parse_version(one("version"), allow_local=allow_local)
    except LocalVersionRefused as exc:
        raise UploadError(exc.message) from exc  # PyPI's text, word for word
    except InvalidArgument as exc:
        raise UploadError(f"version: {exc.message}") from exc
    raw = _raw_metadata(fields)
    # 2.0 was never a published spec, yet old bdist_wheel wrote it alongside 2.1 fields
    # (Provides-Extra, Description-Content-Type): validate such uploads by 2.1's rules.
    if metadata_version == "2.0":
        raw["metadata_version"] = "2.1"
    try:
        metadata = _validated(raw)
    except ExceptionGroup as group:
        raise UploadError(f"invalid metadata: {_first_problem(group)}") from group
    return UploadForm(
        name=one("name"),
        version=one("version"),
        filetype=filetype,
        pyversion=pyversion,
        metadata_version=metadata_version,
        md5_digest=md5,
        sha256_digest=sha256,
        blake2_256_digest=blake2,
        metadata=metadata,
        fields=fields,
    )

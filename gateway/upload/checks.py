"""The gateway's own upload checks, in the route's documented order, around the one index call.

`before_index` runs everything the gateway can decide alone (form, metadata, content present,
filename, size, digests); the index then decides project, permission and duplicates;
`after_index` checks the archive and PEP 625. Pure and synchronous over a seekable file, so the
route and the tests run exactly the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from vestry.gateway.upload.archive import (
    ArchiveFacts,
    check_filename,
    check_pep625,
    inspect_archive,
)
from vestry.gateway.upload.digests import Digests, digest_file
from vestry.gateway.upload.form import UploadError, UploadForm, parse_form

__all__ = ["Checked", "after_index", "before_index", "too_large"]


@dataclass(frozen=True)
class Checked:
    form: UploadForm
    filename: str
    digests: Digests


def too_large(limit: int) -> UploadError:
    return UploadError(
        f"File too large. Limit is {limit // (1024 * 1024)} MiB; ask the index operator to raise "
        "VESTRY_GATEWAY_MAX_UPLOAD_SIZE.",
        status=413,
    )


def before_index(
    fields: Iterable[tuple[str, str]], filename: str | None, f: BinaryIO | None, limit: int
) -> Checked:
    """Raise UploadError with the first problem; `filename`/`f` are None without a content part."""
    form = parse_form(fields)
    if f is None or not filename:
        raise UploadError("Upload payload does not have a file.")
    check_filename(filename, form.filetype, form.name, form.version)
    digests = digest_file(f)
    if digests.size > limit:
        raise too_large(limit)
    if digests.size == 0:
        raise UploadError("invalid distribution file: the file is empty")
    for supplied, actual in (
        (form.md5_digest, digests.md5),
        (form.sha256_digest, digests.sha256),
        (form.blake2_256_digest, digests.blake2b_256),
    ):
        if supplied and supplied != actual:
            raise UploadError(
                "The digest supplied does not match a digest calculated from the uploaded file."
            )
    return Checked(form, filename, digests)


def after_index(checked: Checked, f: BinaryIO, project_exists: bool) -> ArchiveFacts:
    """Archive sanity, then PEP 625 for sdists of new projects; the wheel METADATA comes back."""
    facts = inspect_archive(f, checked.filename, checked.form.filetype)
    if checked.form.filetype == "sdist" and not project_exists:
        check_pep625(checked.filename, checked.form.name, checked.form.version)
    return facts

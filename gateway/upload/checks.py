"""The gateway's own upload checks, in the route's documented order, around the one index call.

`before_index` runs everything the gateway can decide alone (form, metadata, content present,
filename, size, digests); the index then decides project, permission and duplicates;
`after_index` checks the archive and PEP 625. Pure and synchronous over a seekable file, so the
route and the tests run exactly the same code (the route passes the digests it computed while the
file arrived, gateway.upload.receive; the tests let them be computed here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import BinaryIO

from vestry.gateway.upload.archive import (
    ArchiveFacts,
    check_filename,
    check_pep625,
    inspect_archive,
)
from vestry.gateway.upload.digests import Digests, digest_file
from vestry.gateway.upload.form import UploadError, UploadForm, parse_form

__all__ = [
    "Checked",
    "after_index",
    "before_index",
    "check_archive",
    "check_new_project",
    "too_large",
]


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


def _filetype_from(fields: list[tuple[str, str]], filename: str | None) -> list[tuple[str, str]]:
    """The fields, with a missing or empty `filetype` taken from the file's extension: the
    file says what it is. A filetype that was sent is checked against it (check_filename)."""
    if not filename or any(k == "filetype" and v for k, v in fields):
        return fields
    kind = "bdist_wheel" if filename.endswith(".whl") else ""
    if filename.endswith((".tar.gz", ".zip")):
        kind = "sdist"
    if not kind:
        return fields
    return [*(item for item in fields if item[0] != "filetype"), ("filetype", kind)]


def _wheel_pyversion(form: UploadForm, filename: str) -> UploadForm:
    """The form with its `pyversion` taken from the wheel's filename when it sent none; a
    `pyversion` naming none of the file's Python tags contradicts the file and is refused."""
    tag = filename[: -len(".whl")].split("-")[-3]
    if not form.pyversion:
        return replace(form, pyversion=tag)
    if not set(form.pyversion.split(".")) & set(tag.split(".")):
        raise UploadError(
            f"pyversion: {form.pyversion[:50]!r} contradicts the wheel's Python tag {tag!r}; "
            "send the tag of the filename, or no pyversion"
        )
    return form


def before_index(
    fields: Iterable[tuple[str, str]],
    filename: str | None,
    f: BinaryIO | None,
    limit: int,
    allow_local: bool = True,
    digests: Digests | None = None,
) -> Checked:
    """Raise UploadError with the first problem; `filename`/`f` are None without a content part.

    `digests` are the file's, when they were computed as it arrived; else `f` is read for them.
    """
    form = parse_form(_filetype_from(list(fields), filename), allow_local=allow_local)
    if f is None or not filename:
        raise UploadError("Upload payload does not have a file.")
    check_filename(filename, form.filetype, form.name, form.version)
    if form.filetype == "bdist_wheel":
        form = _wheel_pyversion(form, filename)
    if digests is None:
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
    facts = check_archive(checked, f)
    check_new_project(checked, project_exists)
    return facts


def check_archive(checked: Checked, f: BinaryIO) -> ArchiveFacts:
    """The part of `after_index` that needs no answer from the index: the route runs it while
    the index decides, and reports its outcome only after the index's."""
    return inspect_archive(f, checked.filename, checked.form.filetype)


def check_new_project(checked: Checked, project_exists: bool) -> None:
    """The part of `after_index` that depends on the index's answer: PEP 625 for new projects."""
    if checked.form.filetype == "sdist" and not project_exists:
        check_pep625(checked.filename, checked.form.name, checked.form.version)

"""`POST /legacy/` (also `/`): twine, uv publish and poetry publish.

Order of checks (STANDARDS.md): authenticate -> form -> metadata -> content present -> filename ->
size -> digests -> project and permission, duplicates, filename registry (one index call) ->
archive -> PEP 625 for new projects -> store -> commit. One documented difference from Warehouse:
the filename, size and digest checks, which the gateway decides alone, come before the index is
asked about the project; the answer to each bad input is the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.datastructures import UploadFile
from vestry.index.v1 import index_pb2

from gateway.backends import Backends
from gateway.blobs import put_bytes, put_file
from gateway.errors import HTTPError
from gateway.identity import identify
from gateway.upload.archive import check_filename, check_pep625, inspect_archive
from gateway.upload.digests import digest_file
from gateway.upload.form import UploadError, UploadForm, parse_form

router = APIRouter()
log = logging.getLogger(__name__)
_FORM_OVERHEAD = 16 * 1024 * 1024  # metadata fields beside the file


def _release(form: UploadForm) -> index_pb2.Release:
    md = form.metadata
    assert md is not None
    return index_pb2.Release(
        version=form.version,
        summary=md.summary or "",
        description=md.description or "",
        description_content_type=md.description_content_type or "",
        requires_python=str(md.requires_python or ""),
        requires_dist=[str(r) for r in md.requires_dist or []],
        author=md.author or "",
        author_email=md.author_email or "",
        license=md.license_expression or md.license or "",
        home_page=md.home_page or "",
        classifiers=list(md.classifiers or []),
        project_urls=dict(md.project_urls or {}),
        metadata_version=form.metadata_version,
        keywords=",".join(md.keywords or []),
        maintainer=md.maintainer or "",
        maintainer_email=md.maintainer_email or "",
    )


def _ok(message: str = "OK") -> Response:
    return PlainTextResponse(message + "\n")


async def _upload(request: Request) -> Response:
    backends: Backends = request.app.state.backends
    limit: int = request.app.state.settings.max_upload_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD:
        raise UploadError(f"File too large. Limit is {limit // (1024 * 1024)} MiB.", status=413)
    try:
        who = await identify(request, backends)
    except HTTPError as exc:
        raise UploadError(
            f"Invalid or non-existent authentication information. {exc.message}", status=403
        ) from exc
    if not who.authenticated:
        raise UploadError(
            "Invalid or non-existent authentication information: upload with an API token "
            "(username '__token__').",
            status=403,
        )
    # The multipart body streams into a spooled temp file (memory stays flat on large uploads).
    async with request.form(max_files=1, max_fields=2000, max_part_size=16 * 1024 * 1024) as data:
        content: UploadFile | None = None
        fields: list[tuple[str, str]] = []
        for key, value in data.multi_items():
            if isinstance(value, str):
                fields.append((key, value))
            elif key == "content":
                content = value
            # other file parts (e.g. gpg_signature, attestations) are not used by Vestry
        form = parse_form(fields)
        if content is None or not content.filename:
            raise UploadError("Upload payload does not have a file.")
        filename = content.filename
        check_filename(filename, form.filetype, form.name, form.version)
        digests = await asyncio.to_thread(digest_file, content.file)
        if digests.size > limit:
            raise UploadError(f"File too large. Limit is {limit // (1024 * 1024)} MiB.")
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
        check = await backends.index.CheckUpload(
            index_pb2.CheckUploadRequest(
                caller=who.caller,
                project_name=form.name,
                version=form.version,
                filename=filename,
                sha256=digests.sha256,
                blake2b_256=digests.blake2b_256,
            ),
            timeout=backends.timeout,
        )
        if check.outcome == index_pb2.CheckUploadResponse.IDENTICAL:
            return _ok("OK (identical file already uploaded)")
        facts = await asyncio.to_thread(inspect_archive, content.file, filename, form.filetype)
        if form.filetype == "sdist" and not check.project_exists:
            check_pep625(filename, form.name, form.version)
        blob = await put_file(backends, content.file, digests.sha256, digests.size)
    metadata_key = metadata_sha = ""
    if facts.metadata is not None:
        metadata_sha = hashlib.sha256(facts.metadata).hexdigest()
        metadata_key = (await put_bytes(backends, facts.metadata, metadata_sha)).key
    record = index_pb2.FileRecord(
        filename=filename,
        version=form.version,
        packagetype=form.filetype,
        python_version=form.pyversion or "source",
        requires_python=str(form.metadata.requires_python or "") if form.metadata else "",
        size=blob.size,
        sha256=blob.sha256,
        blake2b_256=blob.blake2b_256,
        md5=blob.md5,
        blob_key=blob.key,
        metadata_blob_key=metadata_key,
        metadata_sha256=metadata_sha,
    )
    result = await backends.index.CommitFile(
        index_pb2.CommitFileRequest(
            caller=who.caller, project_name=form.name, release=_release(form), file=record
        ),
        timeout=backends.timeout,
    )
    if result.already_present:
        return _ok("OK (identical file already uploaded)")
    log.info("uploaded %s by %s", filename, who.caller.username)
    return _ok()


@router.post("/legacy/")
@router.post("/", include_in_schema=False)
async def upload(request: Request) -> Response:
    try:
        return await _upload(request)
    except UploadError as exc:
        return PlainTextResponse(exc.message + "\n", status_code=exc.status)

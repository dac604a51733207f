"""`POST /legacy/` (also `/`): twine, uv publish and poetry publish.

Order of checks (Warehouse's): authenticate -> form -> metadata -> content present -> filename ->
size -> digests -> project and permission, duplicates, filename registry (one index call) ->
archive -> PEP 625 for new projects -> store -> commit. One documented difference from Warehouse:
the filename, size and digest checks, which the gateway decides alone, come before the index is
asked about the project; the answer to each bad input is the same. That is the order of the
answers: the file is digested as it arrives, travels to storage while the index and the archive
checks decide (the wheel's METADATA too, as soon as the archive checks have read it), and both
are stored only on a final commit once the index and the archive checks said yes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable
from typing import Any, BinaryIO

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message
from vestry.index.v1 import index_pb2
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.blobs import put_bytes
from vestry.gateway.errors import UPLOAD, answers_as
from vestry.gateway.identity import identify
from vestry.gateway.upload.checks import (
    Checked,
    before_index,
    check_archive,
    check_new_project,
    too_large,
)
from vestry.gateway.upload.form import UploadError, UploadForm
from vestry.gateway.upload.receive import Received, receive_multipart
from vestry.gateway.upload.spool import SharedSpool

router = APIRouter(dependencies=[Depends(answers_as(UPLOAD))])
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
        # As written by the uploader (validated by packaging): indexes serve metadata verbatim.
        requires_python=form.one("requires_python").strip(),
        requires_dist=form.many("requires_dist"),
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


def capped_request(request: Request, cap: int, limit: int) -> Request:
    """The same request, refusing its body once more than `cap` bytes have arrived.

    Content-Length may be absent (chunked) or lie; counting what arrives is what bounds the
    temporary file. The rest of an over-long body is drained by the server, not stored.
    """
    receive = request.receive
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                raise too_large(limit)
        return message

    return Request(request.scope, capped_receive)


async def _archive_then_metadata(
    backends: Backends, checked: Checked, f: BinaryIO, keep: Awaitable[None]
) -> asyncio.Future[storage_pb2.BlobInfo] | None:
    """The archive checks (in a thread; raises UploadError), then the transfer of the wheel's
    METADATA blob, begun at once and returned: like the file, it is stored only on `keep`, so
    its write and sync overlap the index's decision instead of following it."""
    facts = await asyncio.to_thread(check_archive, checked, f)
    if facts.metadata is None:
        return None
    sha256 = hashlib.sha256(facts.metadata).hexdigest()
    return asyncio.ensure_future(put_bytes(backends, facts.metadata, sha256, commit=keep))


async def _store_blobs(
    file: asyncio.Future[storage_pb2.BlobInfo],
    metadata: asyncio.Future[storage_pb2.BlobInfo] | None,
) -> tuple[storage_pb2.BlobInfo, storage_pb2.BlobInfo | None]:
    """Both blobs' infos, once both are stored; the first failure is raised once both calls
    are over (the caller then closes the upload's temporary file, which must not be in use)."""
    if metadata is None:
        return await file, None
    await asyncio.wait((file, metadata))
    return file.result(), metadata.result()


async def _receive(request: Request, spool: SharedSpool) -> Received:
    """The upload body: multipart, as every upload client sends it; any other body's fields
    (urlencoded) are read as Starlette reads them, and carry no file."""
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return await receive_multipart(
            content_type,
            request.stream(),
            max_files=4,
            max_fields=2000,
            max_part_size=_FORM_OVERHEAD,
            temp_file=spool.temp_file,
        )
    try:
        data = await request.form(max_files=4, max_fields=2000, max_part_size=_FORM_OVERHEAD)
    except StarletteHTTPException as exc:
        raise UploadError(f"invalid upload body: {exc.detail}") from exc
    return Received(fields=[(k, v) for k, v in data.multi_items() if isinstance(v, str)])


@router.post("/legacy/")
# Also without the slash (a redirect would make twine refuse, and drop the body on other
# clients) and at the root, where some tools post.
@router.post("/legacy", include_in_schema=False)
@router.post("/", include_in_schema=False)
async def upload(request: Request) -> Response:
    backends = backends_of(request)
    limit: int = request.app.state.settings.max_upload_size
    # A refused credential is 403 here, as on PyPI: errors.FAMILY_OVERRIDES[UPLOAD].
    who = await identify(request, backends)
    if not who.authenticated:
        raise UploadError(
            "Invalid or non-existent authentication information: upload with an API token "
            "(username '__token__').",
            status=403,
        )
    cap = limit + _FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    # Refused before a byte of the body is read: the answer does not wait for 500 MB to arrive.
    if declared.isdigit() and int(declared) > cap:
        raise too_large(limit)
    # The file part streams into a temp file and through the digests in one pass; in storage's
    # own spool when this gateway shares its volume, so storage takes the file as it is.
    spool: SharedSpool = request.app.state.shared_spool
    await spool.prepare(backends)
    received = await _receive(capped_request(request, cap, limit), spool)
    try:
        checked = before_index(
            received.fields,
            received.filename,
            received.file,
            limit,
            request.app.state.settings.allow_local_versions,
            received.digests,
        )
        form, filename, digests = checked.form, checked.filename, checked.digests
        assert received.spooled is not None  # before_index refused an upload without one
        # The file travels to storage while the index and the archive checks decide; it is
        # stored only when both said yes (`keep`), and the transfer is cancelled otherwise.
        keep: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stored = asyncio.ensure_future(
            spool.store(backends, received.spooled, digests.sha256, digests.size, commit=keep)
        )
        # The archive is checked meanwhile too, and the METADATA it yields sent on; its verdict
        # is heard only after the index's, so the answer to an upload that fails both is the
        # index's, as in Warehouse's order.
        archive = asyncio.ensure_future(
            _archive_then_metadata(backends, checked, received.spooled.file, keep)
        )
        try:
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
            metadata = await archive
            check_new_project(checked, check.project_exists)
            keep.set_result(None)
            blob, meta = await _store_blobs(stored, metadata)
        finally:
            # Whatever was not committed is cancelled: storage then keeps none of it. The
            # transfer and the archive check read the temp file: both must be over before the
            # file closes (a thread cannot be cancelled: it is waited for).
            if not stored.done():
                stored.cancel()
            await asyncio.wait((stored, archive))
            tasks: list[asyncio.Future[Any]] = [stored, archive]
            if not archive.cancelled() and archive.exception() is None:
                begun = archive.result()
                if begun is not None:
                    if not begun.done():
                        begun.cancel()
                    await asyncio.wait((begun,))
                    tasks.append(begun)
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # seen: an outcome already reported is not logged again
    finally:
        received.close()
    record = index_pb2.FileRecord(
        filename=filename,
        version=form.version,
        packagetype=form.filetype,
        python_version=form.pyversion or "source",
        requires_python=form.one("requires_python").strip(),
        size=blob.size,
        sha256=blob.sha256,
        blake2b_256=blob.blake2b_256,
        md5=blob.md5,
        blob_key=blob.key,
        metadata_blob_key=meta.key if meta is not None else "",
        metadata_sha256=meta.sha256 if meta is not None else "",
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

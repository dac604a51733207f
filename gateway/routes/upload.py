"""`POST /legacy/` (also `/`): twine, uv publish and poetry publish.

Order of checks (Warehouse's): authenticate -> form -> metadata -> content present -> filename ->
size -> digests -> project and permission, duplicates, filename registry (one index call) ->
archive -> PEP 625 for new projects -> store -> commit. One documented difference from Warehouse:
the filename, size and digest checks, which the gateway decides alone, come before the index is
asked about the project; the answer to each bad input is the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message
from vestry.index.v1 import index_pb2
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.blobs import Arriving, put_arriving, put_bytes
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


async def _store_blobs(
    file: Awaitable[storage_pb2.BlobInfo], metadata: Awaitable[storage_pb2.BlobInfo] | None
) -> tuple[storage_pb2.BlobInfo, str]:
    """Store both blobs at once; the file's info and the metadata's key ("" without one).

    Both calls end before this returns, even when one fails: the upload's temporary file is
    closed right after, and must not be in use.
    """
    if metadata is None:
        return await file, ""
    stored, meta = await asyncio.gather(file, metadata, return_exceptions=True)
    for outcome in (stored, meta):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(stored, storage_pb2.BlobInfo) and isinstance(meta, storage_pb2.BlobInfo)
    return stored, meta.key


class _Stored(NamedTuple):
    checked: Checked
    blob: storage_pb2.BlobInfo
    metadata_key: str  # "" without one
    metadata_sha256: str


async def _check_and_store(
    request: Request,
    backends: Backends,
    caller: index_pb2.Caller,
    received: Received,
    transfers: list[asyncio.Future[storage_pb2.BlobInfo]],
    keep: asyncio.Future[None],
) -> _Stored | None:
    """Every check in the route's order, then the blobs stored; None for an identical re-upload.
    `transfers` holds the file's transfer to storage, which `keep` lets store the blob."""
    checked = before_index(
        received.fields,
        received.filename,
        received.file,
        request.app.state.settings.max_upload_size,
        request.app.state.settings.allow_local_versions,
        received.digests,
    )
    assert received.file is not None and transfers  # before_index refused a body without a file
    digests = checked.digests
    # The archive is checked while the index decides; its verdict is heard only after the
    # index's, so the answer to an upload that fails both is the index's, as in Warehouse's order.
    archive = asyncio.ensure_future(asyncio.to_thread(check_archive, checked, received.file))
    try:
        check = await backends.index.CheckUpload(
            index_pb2.CheckUploadRequest(
                caller=caller,
                project_name=checked.form.name,
                version=checked.form.version,
                filename=checked.filename,
                sha256=digests.sha256,
                blake2b_256=digests.blake2b_256,
            ),
            timeout=backends.timeout,
        )
        if check.outcome == index_pb2.CheckUploadResponse.IDENTICAL:
            return None
        facts = await archive
        check_new_project(checked, check.project_exists)
        metadata_sha = (
            hashlib.sha256(facts.metadata).hexdigest() if facts.metadata is not None else ""
        )
        keep.set_result(None)
        # The file and its extracted metadata are independent blobs: store them side by side.
        blob, metadata_key = await _store_blobs(
            transfers[0],
            put_bytes(backends, facts.metadata, metadata_sha)
            if facts.metadata is not None
            else None,
        )
        return _Stored(checked, blob, metadata_key, metadata_sha)
    finally:
        # The archive check reads the temp file in a thread, which cannot be cancelled: it must
        # be over before the file closes.
        await asyncio.wait((archive,))
        if not archive.cancelled():
            archive.exception()  # seen: an outcome already reported is not logged again


async def _settle(transfers: list[asyncio.Future[storage_pb2.BlobInfo]]) -> None:
    """End the file's transfer: cancelled unless it is done (then nothing is stored)."""
    for transfer in transfers:
        transfer.cancel()  # a no-op once it is done
    if transfers:
        await asyncio.wait(transfers)
    for transfer in transfers:
        if not transfer.cancelled():
            transfer.exception()  # seen: an outcome already reported is not logged again


async def _receive(request: Request, on_content: Callable[[Arriving], None]) -> Received:
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
            on_content=on_content,
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
    # The file is digested and written to a temp file in one pass as it arrives, and travels
    # on to storage meanwhile (`transfers`); it is stored only once the gateway's checks and
    # the index said yes (`keep`). Any other outcome cancels the transfer: nothing is kept.
    keep: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    transfers: list[asyncio.Future[storage_pb2.BlobInfo]] = []

    def send_on(arriving: Arriving) -> None:
        transfers.append(asyncio.ensure_future(put_arriving(backends, arriving, limit, keep)))

    try:
        received = await _receive(capped_request(request, cap, limit), send_on)
        try:
            stored = await _check_and_store(
                request, backends, who.caller, received, transfers, keep
            )
        finally:
            received.close()
    finally:
        await _settle(transfers)
    if stored is None:
        return _ok("OK (identical file already uploaded)")
    form, filename, blob = stored.checked.form, stored.checked.filename, stored.blob
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
        metadata_blob_key=stored.metadata_key,
        metadata_sha256=stored.metadata_sha256,
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

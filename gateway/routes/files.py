"""Downloads: every file URL is access-checked like its project page, then streamed."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from vestry.index.v1 import index_pb2
from vestry.storage.v1 import storage_pb2

from vestry.common.http import content_disposition
from vestry.common.vocabulary import Visibility
from vestry.gateway.backends import backends_of
from vestry.gateway.blobs import read_blob
from vestry.gateway.conditional import READ_METHODS, etag_matches
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import identify
from vestry.gateway.local_blobs import LocalFileResponse
from vestry.gateway.upstream import proxy as upstream_proxy
from vestry.gateway.warm import index_answer

router = APIRouter()
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)\Z")
# No file is 10**18 bytes: a longer position only means "past any end", and int() of more than
# 4300 digits raises (a 500); such positions are read as this instead.
_MAX_DIGITS = 18
_PAST_ANY_END = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _PAST_ANY_END


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, length) of a single byte range, None to send everything; 416 if unsatisfiable."""
    match = _RANGE.match(header.strip())
    if not match:
        return None  # multi-range or garbage: RFC 9110 lets us ignore it and send it all
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = _position(last)
        # Of an empty file, no suffix is satisfiable: (0, 0) would send "bytes 0--1/0".
        if suffix == 0 or size == 0:
            raise HTTPError(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
        start = max(size - suffix, 0)
        return start, size - start
    start = _position(first)
    end = min(_position(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise HTTPError(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
    return start, end - start + 1


FILE_TYPE = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"


def file_headers(record: index_pb2.FileRecord, digest: str) -> tuple[str, dict[str, str]]:
    """The ETag of a file (or its metadata) of `digest`, and the headers every answer about it
    carries, 304s included."""
    private = record.project_visibility != Visibility.PUBLIC
    etag = f'"{digest}"'
    return etag, {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        # Content-addressed: the bytes under this URL never change.
        "Cache-Control": "private, max-age=31536000, immutable"
        if private
        else "public, max-age=31536000, immutable",
    }


@router.api_route("/files/{project}/{filename}", methods=READ_METHODS)
async def download(request: Request, project: str, filename: str) -> Response:
    backends = backends_of(request)
    who = await identify(request, backends)
    is_metadata = filename.endswith(".metadata")
    dist = filename[: -len(".metadata")] if is_metadata else filename

    def lookup() -> Awaitable[index_pb2.FileRecord]:
        return backends.index.GetFile(
            index_pb2.GetFileRequest(caller=who.caller, project_name=project, filename=dist),
            timeout=backends.timeout,
        )

    try:
        asked = (who.key, project, dist)
        record = await index_answer(request, lambda w: w.files, asked, lookup)
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAUTHENTICATED):
            raise
        # Not a local file: a cached or fetchable upstream one, if the index allows it.
        return await upstream_proxy.download(request, who, project, filename, exc)
    if is_metadata:
        if not record.metadata_blob_key:
            raise HTTPError(404, "this file has no separate metadata")
        key, digest, media = record.metadata_blob_key, record.metadata_sha256, METADATA_TYPE
        size = -1
    else:
        key, digest, size = record.blob_key, record.sha256, record.size
        media = FILE_TYPE
    etag, headers = file_headers(record, digest)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if not is_metadata and request.method == "GET" and not request.headers.get("range"):
        request.app.state.downloads.add(project, dist)  # in memory; sent in batches
    settings = request.app.state.settings
    if settings.presigned_downloads and not is_metadata:
        reply = await backends.storage.PresignGet(
            storage_pb2.PresignGetRequest(
                key=key, expires_seconds=settings.presign_seconds, filename=dist
            ),
            timeout=backends.timeout,
        )
        if reply.url:
            return RedirectResponse(
                reply.url, status_code=302, headers={"Cache-Control": "private, no-store"}
            )
    fd = None
    if size < 0 and settings.local_blobs and request.method == "GET":
        opened = await request.app.state.blob_locations.open_sized(backends, key)
        if opened is not None:  # the file tells its size: no Stat call
            fd, size = opened
    if size < 0:
        stat = await backends.storage.Stat(storage_pb2.BlobRef(key=key), timeout=backends.timeout)
        size = stat.size
    status, offset, length = 200, 0, size
    range_header = request.headers.get("range")
    if range_header and request.headers.get("if-range", etag) == etag:
        try:
            parsed = _parse_range(range_header, size)
        except HTTPError:
            if fd is not None:
                os.close(fd)
            raise
        if parsed is not None:
            offset, length = parsed
            status = 206
            headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{size}"
    headers["Content-Length"] = str(length)
    if not is_metadata:
        headers["Content-Disposition"] = content_disposition(dist)
    if request.method == "HEAD":  # the same headers, and no bytes fetched from storage
        return Response(status_code=status, media_type=media, headers=headers)
    if settings.local_blobs:
        if fd is None:
            fd = await request.app.state.blob_locations.open(backends, key, size)
        if fd is not None:
            return LocalFileResponse(fd, offset, length, status, headers, media)
    stream = read_blob(backends, key, offset, length)
    # Fetch the first chunk before the status line goes out: a storage failure must be a 503,
    # not a 200 that is cut short.
    first = b""
    if length > 0:
        first = await anext(stream, b"")

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in stream:
            yield chunk

    return StreamingResponse(body(), status_code=status, media_type=media, headers=headers)

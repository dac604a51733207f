"""gRPC adapter for the blob store: streams in, streams out."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator

from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.common.errors import FailedPrecondition, InvalidArgument
from vestry.common.grpc_server import Context
from vestry.services.storage.blobstore import (
    SHARED_PREFIX,
    BlobInfo,
    BlobStore,
    IncomingBlob,
    StoredBlob,
    presign_seconds,
    start_incoming,
    validate_key,
    verify_blob,
)
from vestry.services.storage.convert import (
    blob_info_to_proto,
    modified_before_from_proto,
    stored_blob_to_proto,
)
from vestry.services.storage.errors import DigestMismatch
from vestry.services.storage.metrics import BYTES_SENT, BYTES_STORED, SHARED_FILES

__all__ = ["LIST_BATCH", "StorageServicer"]

LIST_BATCH = 1000


def _take(incoming: IncomingBlob, chunk: bytes, expected_size: int) -> BlobInfo | None:
    """Write one chunk; once every announced byte is here, also verify and sync, in the same
    thread hop (a small blob's one chunk costs one hop, not two), while the caller may still
    be deciding whether to keep the blob: it is stored when the stream ends or commits, and a
    cancelled stream leaves nothing."""
    incoming.write(chunk)
    if expected_size and incoming.size == expected_size:
        return incoming.finish()
    return None


def _take_shared(
    tmp_dir: str,
    max_blob_size: int,
    expected_sha256: str,
    expected_size: int,
    max_size: int,
    name: str,
) -> tuple[IncomingBlob, BlobInfo]:
    """A shared file read through the digests, verified and synced, in one thread hop (as
    `_take` does for a streamed blob's last chunk); it is stored when the stream commits. On a
    failure the file is discarded here: the caller never gets hold of it."""
    incoming = start_incoming(
        tmp_dir, max_blob_size, expected_sha256, expected_size, max_size, name
    )
    try:
        return incoming, incoming.finish()
    except BaseException:
        incoming.discard()
        raise


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    def __init__(self, store: BlobStore, max_blob_size: int, chunk_size: int) -> None:
        self._store = store
        self._max = max_blob_size
        self._chunk = chunk_size
        self._spool = os.path.abspath(store.tmp_dir())

    async def PutBlob(
        self,
        request_iterator: AsyncIterator[storage_pb2.PutBlobRequest],
        context: Context,
    ) -> storage_pb2.BlobInfo:
        incoming: IncomingBlob | None = None
        info: BlobInfo | None = None
        committed = False
        try:
            async for message in request_iterator:
                if incoming is None:
                    if message.WhichOneof("part") != "header":
                        raise InvalidArgument("PutBlob starts with a header")
                    header = message.header
                    args = (
                        self._store.tmp_dir(),
                        self._max,
                        header.expected_sha256,
                        header.expected_size,
                        header.max_size,
                    )
                    if header.shared_file:
                        incoming, info = await asyncio.to_thread(
                            _take_shared, *args, header.shared_file
                        )
                    else:
                        incoming = start_incoming(*args)
                    continue
                part = message.WhichOneof("part")
                if part == "commit" and header.commit_required and not committed:
                    committed = message.commit
                    continue
                if part != "chunk" or committed or header.shared_file:
                    raise InvalidArgument(
                        "PutBlob: one header, chunks (none for a shared file), "
                        "and a commit if required"
                    )
                if info is not None:
                    if message.chunk:
                        raise DigestMismatch(
                            f"received more than the {incoming.size} bytes announced"
                        )
                    continue
                # Hashing and writing release the GIL: a worker thread keeps the loop free.
                info = await asyncio.to_thread(_take, incoming, message.chunk, header.expected_size)
            if incoming is None:
                raise InvalidArgument("PutBlob received nothing")
            if header.commit_required and not committed:
                raise FailedPrecondition("PutBlob ended without its commit: nothing was stored")
            if info is None:
                info = await asyncio.to_thread(incoming.finish)
            stored = blob_info_to_proto(await asyncio.to_thread(self._store.commit, incoming, info))
            BYTES_STORED.inc(stored.size)
            if header.shared_file:
                SHARED_FILES.inc()
            return stored
        finally:
            # Rejected, failed or abandoned (client gone, call cancelled): nothing is left.
            if incoming is not None:
                incoming.discard()

    async def GetBlob(
        self, request: storage_pb2.GetBlobRequest, context: Context
    ) -> AsyncIterator[storage_pb2.GetBlobResponse]:
        key = validate_key(request.key)
        info, chunks = await asyncio.to_thread(
            self._store.open_range, key, request.offset, request.length, self._chunk
        )
        first = True
        it: Iterator[bytes] = iter(chunks)
        try:
            while True:
                chunk = await asyncio.to_thread(next, it, None)
                if chunk is None:
                    break
                yield storage_pb2.GetBlobResponse(
                    chunk=chunk, info=blob_info_to_proto(info) if first else None
                )
                BYTES_SENT.inc(len(chunk))
                first = False
            if first:  # an empty range still tells the caller the blob's size
                yield storage_pb2.GetBlobResponse(info=blob_info_to_proto(info))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def Stat(self, request: storage_pb2.BlobRef, context: Context) -> storage_pb2.BlobInfo:
        info = await asyncio.to_thread(self._store.stat, validate_key(request.key))
        return blob_info_to_proto(info)

    async def Exists(
        self, request: storage_pb2.BlobRef, context: Context
    ) -> storage_pb2.ExistsResponse:
        exists = await asyncio.to_thread(self._store.exists, validate_key(request.key))
        return storage_pb2.ExistsResponse(exists=exists)

    async def Delete(
        self, request: storage_pb2.BlobRef, context: Context
    ) -> storage_pb2.DeleteResponse:
        deleted = await asyncio.to_thread(self._store.delete, validate_key(request.key))
        return storage_pb2.DeleteResponse(deleted=deleted)

    async def PresignGet(
        self, request: storage_pb2.PresignGetRequest, context: Context
    ) -> storage_pb2.PresignGetResponse:
        url = await asyncio.to_thread(
            self._store.presign_get,
            validate_key(request.key),
            presign_seconds(request.expires_seconds),
            request.filename,
        )
        return storage_pb2.PresignGetResponse(url=url)

    async def LocateBlob(
        self, request: storage_pb2.BlobRef, context: Context
    ) -> storage_pb2.LocateBlobResponse:
        key = validate_key(request.key)
        path = await asyncio.to_thread(self._store.local_path, key)
        if not path:
            return storage_pb2.LocateBlobResponse()
        info = await asyncio.to_thread(self._store.stat, key)
        return storage_pb2.LocateBlobResponse(path=path, size=info.size)

    async def SharedSpool(
        self, request: storage_pb2.SharedSpoolRequest, context: Context
    ) -> storage_pb2.SharedSpoolResponse:
        return storage_pb2.SharedSpoolResponse(directory=self._spool, prefix=SHARED_PREFIX)

    async def VerifyBlob(
        self, request: storage_pb2.BlobRef, context: Context
    ) -> storage_pb2.BlobInfo:
        key = validate_key(request.key)
        info = await asyncio.to_thread(verify_blob, self._store, key, self._chunk)
        return blob_info_to_proto(info)

    async def ListBlobs(
        self, request: storage_pb2.ListBlobsRequest, context: Context
    ) -> AsyncIterator[storage_pb2.ListBlobsResponse]:
        blobs = self._store.list_blobs()

        def batch() -> list[StoredBlob]:
            return list(itertools.islice(blobs, LIST_BATCH))

        while page := await asyncio.to_thread(batch):
            yield storage_pb2.ListBlobsResponse(blobs=[stored_blob_to_proto(b) for b in page])

    async def DeleteIfOlder(
        self, request: storage_pb2.DeleteIfOlderRequest, context: Context
    ) -> storage_pb2.DeleteResponse:
        key = validate_key(request.key)
        cutoff = modified_before_from_proto(request)
        deleted = await asyncio.to_thread(self._store.delete_if_older, key, cutoff)
        return storage_pb2.DeleteResponse(deleted=deleted)

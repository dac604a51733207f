"""gRPC adapter for the blob store: streams in, streams out."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.common.errors import InvalidArgument
from vestry.common.grpc_server import Context
from vestry.services.storage.blobstore import (
    BlobInfo,
    BlobStore,
    IncomingBlob,
    StoredBlob,
    validate_key,
    verify_blob,
)

__all__ = ["LIST_BATCH", "StorageServicer"]

LIST_BATCH = 1000
MAX_PRESIGN_SECONDS = 3600
BYTES_STORED = Counter("vestry_storage_stored_bytes_total", "Bytes of blobs stored by PutBlob.")
BYTES_SENT = Counter("vestry_storage_sent_bytes_total", "Bytes of blobs sent by GetBlob.")


def _info(info: BlobInfo) -> storage_pb2.BlobInfo:
    return storage_pb2.BlobInfo(
        key=info.key, size=info.size, sha256=info.sha256, blake2b_256=info.blake2b_256, md5=info.md5
    )


def _stored(blob: StoredBlob) -> storage_pb2.StoredBlob:
    modified = Timestamp()
    modified.FromNanoseconds(int(blob.modified * 1e9))
    return storage_pb2.StoredBlob(key=blob.key, size=blob.size, modified=modified)


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    def __init__(self, store: BlobStore, max_blob_size: int, chunk_size: int) -> None:
        self._store = store
        self._max = max_blob_size
        self._chunk = chunk_size

    async def PutBlob(
        self,
        request_iterator: AsyncIterator[storage_pb2.PutBlobRequest],
        context: Context,
    ) -> storage_pb2.BlobInfo:
        incoming: IncomingBlob | None = None
        try:
            async for message in request_iterator:
                if incoming is None:
                    if message.WhichOneof("part") != "header":
                        raise InvalidArgument("PutBlob starts with a header")
                    header = message.header
                    if header.expected_sha256:
                        validate_key(header.expected_sha256)
                    if header.expected_size < 0 or header.max_size < 0:
                        raise InvalidArgument("sizes in the PutBlob header are non-negative")
                    limit = min(self._max, header.max_size) if header.max_size > 0 else self._max
                    if header.expected_size > limit:
                        raise InvalidArgument(
                            f"the announced size {header.expected_size} exceeds the limit "
                            f"of {limit} bytes"
                        )
                    incoming = IncomingBlob(
                        self._store.tmp_dir(), limit, header.expected_sha256, header.expected_size
                    )
                    continue
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument("only one header per PutBlob")
                # Hashing and writing release the GIL: a worker thread keeps the loop free.
                await asyncio.to_thread(incoming.write, message.chunk)
            if incoming is None:
                raise InvalidArgument("PutBlob received nothing")
            info = await asyncio.to_thread(incoming.finish)
            stored = _info(await asyncio.to_thread(self._store.commit, incoming, info))
            BYTES_STORED.inc(stored.size)
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
                yield storage_pb2.GetBlobResponse(chunk=chunk, info=_info(info) if first else None)
                BYTES_SENT.inc(len(chunk))
                first = False
            if first:  # an empty range still tells the caller the blob's size
                yield storage_pb2.GetBlobResponse(info=_info(info))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def Stat(self, request: storage_pb2.BlobRef, context: Context) -> storage_pb2.BlobInfo:
        return _info(await asyncio.to_thread(self._store.stat, validate_key(request.key)))

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
        expires = (
            request.expires_seconds if 0 < request.expires_seconds <= MAX_PRESIGN_SECONDS else 300
        )
        url = await asyncio.to_thread(
            self._store.presign_get, validate_key(request.key), expires, request.filename
        )
        return storage_pb2.PresignGetResponse(url=url)

    async def VerifyBlob(
        self, request: storage_pb2.BlobRef, context: Context
    ) -> storage_pb2.BlobInfo:
        key = validate_key(request.key)
        return _info(await asyncio.to_thread(verify_blob, self._store, key, self._chunk))

    async def ListBlobs(
        self, request: storage_pb2.ListBlobsRequest, context: Context
    ) -> AsyncIterator[storage_pb2.ListBlobsResponse]:
        blobs = self._store.list_blobs()

        def batch() -> list[StoredBlob]:
            return list(itertools.islice(blobs, LIST_BATCH))

        while page := await asyncio.to_thread(batch):
            yield storage_pb2.ListBlobsResponse(blobs=[_stored(b) for b in page])

    async def DeleteIfOlder(
        self, request: storage_pb2.DeleteIfOlderRequest, context: Context
    ) -> storage_pb2.DeleteResponse:
        key = validate_key(request.key)
        if not request.HasField("modified_before"):
            raise InvalidArgument("DeleteIfOlder needs modified_before")
        cutoff = request.modified_before.ToNanoseconds() / 1e9
        deleted = await asyncio.to_thread(self._store.delete_if_older, key, cutoff)
        return storage_pb2.DeleteResponse(deleted=deleted)

"""One client interface over the blob store, at the domain level and through the real gRPC
servicer, so that one contract suite runs on every (backend, level) pair."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from minio import Minio
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.common.channels import internal_channel
from vestry.common.errors import DomainError, FailedPrecondition
from vestry.services.storage.backends.s3 import S3BlobStore
from vestry.services.storage.blobstore import (
    SHARED_PREFIX,
    BlobInfo,
    BlobStore,
    IncomingBlob,
    StoredBlob,
    start_incoming,
    validate_key,
    verify_blob,
)
from vestry.services.storage.server import build_service, create_server
from vestry.services.storage.settings import StorageSettings

T = TypeVar("T")
CHUNK = 64 * 1024  # small, so that test blobs cross many chunk boundaries


class Failed(Exception):
    """A refused call, whichever level refused it: the status code and message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class BlobClient(Protocol):
    def put(
        self, data: bytes, expected_sha256: str = "", expected_size: int = 0, max_size: int = 0
    ) -> BlobInfo: ...

    def get(self, key: str, offset: int = 0, length: int = 0) -> tuple[BlobInfo, bytes]: ...

    def spool(self) -> tuple[str, str]:
        """Where a caller sharing the volume writes files for `put_shared`, and their prefix."""
        ...

    def put_shared(
        self, name: str, expected_sha256: str = "", expected_size: int = 0, commit: bool = True
    ) -> BlobInfo:
        """Store the spool's file `name` (PutBlob's shared_file); without `commit`, the call
        ends without its commit message."""
        ...

    def stat(self, key: str) -> BlobInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def presign(self, key: str, expires: int = 300, filename: str = "") -> str: ...

    def locate(self, key: str) -> str: ...

    def verify(self, key: str) -> BlobInfo: ...

    def list(self) -> list[StoredBlob]: ...

    def delete_if_older(self, key: str, cutoff: float) -> bool: ...


def _chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


class DomainClient:
    """The BlobStore used directly, the way the servicer uses it."""

    def __init__(self, store: BlobStore, max_blob_size: int) -> None:
        self.store = store
        self._max = max_blob_size

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except DomainError as exc:
            raise Failed(grpc.StatusCode[exc.code], exc.message) from exc

    def put(
        self, data: bytes, expected_sha256: str = "", expected_size: int = 0, max_size: int = 0
    ) -> BlobInfo:
        def go() -> BlobInfo:
            if expected_sha256:
                validate_key(expected_sha256)
            limit = min(self._max, max_size) if max_size else self._max
            incoming = IncomingBlob(self.store.tmp_dir(), limit, expected_sha256, expected_size)
            try:
                for chunk in _chunks(data):
                    incoming.write(chunk)
                return self.store.commit(incoming, incoming.finish())
            finally:
                incoming.discard()

        info: BlobInfo = self._call(go)
        return info

    def spool(self) -> tuple[str, str]:
        return os.path.abspath(self.store.tmp_dir()), SHARED_PREFIX

    def put_shared(
        self, name: str, expected_sha256: str = "", expected_size: int = 0, commit: bool = True
    ) -> BlobInfo:
        def go() -> BlobInfo:
            incoming = start_incoming(
                self.store.tmp_dir(), self._max, expected_sha256, expected_size, 0, name
            )
            try:
                info = incoming.finish()
                if not commit:
                    raise FailedPrecondition("ended without its commit")
                return self.store.commit(incoming, info)
            finally:
                incoming.discard()

        info: BlobInfo = self._call(go)
        return info

    def get(self, key: str, offset: int = 0, length: int = 0) -> tuple[BlobInfo, bytes]:
        def go() -> tuple[BlobInfo, bytes]:
            info, chunks = self.store.open_range(key, offset, length, CHUNK)
            return info, b"".join(chunks)

        result: tuple[BlobInfo, bytes] = self._call(go)
        return result

    def stat(self, key: str) -> BlobInfo:
        info: BlobInfo = self._call(self.store.stat, key)
        return info

    def exists(self, key: str) -> bool:
        return bool(self._call(self.store.exists, key))

    def delete(self, key: str) -> bool:
        return bool(self._call(self.store.delete, key))

    def presign(self, key: str, expires: int = 300, filename: str = "") -> str:
        return str(self._call(self.store.presign_get, key, expires, filename))

    def locate(self, key: str) -> str:
        return str(self._call(self.store.local_path, key))

    def verify(self, key: str) -> BlobInfo:
        info: BlobInfo = self._call(verify_blob, self.store, key)
        return info

    def list(self) -> list[StoredBlob]:
        blobs: list[StoredBlob] = self._call(lambda: list(self.store.list_blobs()))
        return blobs

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        return bool(self._call(self.store.delete_if_older, key, cutoff))


class ServerThread:
    """The real storage gRPC server (`create_server`) on its own asyncio loop."""

    def __init__(
        self,
        settings: StorageSettings | None = None,
        factory: Callable[[], tuple[grpc.aio.Server, int]] | None = None,
    ) -> None:
        """Serve `settings`' storage service, or whatever `factory` builds (e.g. the index)."""
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

        self._store = build_service(settings) if settings is not None else None

        async def start() -> tuple[grpc.aio.Server, int]:
            if factory is not None:
                server, port = factory()
            else:
                assert settings is not None
                server, port = create_server(settings, "127.0.0.1:0", store=self._store)
            await server.start()
            return server, port

        self.server, self.port = self.run(start())
        self.address = f"127.0.0.1:{self.port}"

    @property
    def store(self) -> BlobStore:
        """The blob store a storage server serves (a `factory` server has none here)."""
        assert self._store is not None
        return self._store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def stop(self) -> None:
        self.run(self.server.stop(None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


def _info(p: storage_pb2.BlobInfo) -> BlobInfo:
    return BlobInfo(p.key, p.size, p.sha256, p.blake2b_256, p.md5)


class GrpcClient:
    """The storage service called over gRPC with Vestry's internal channel."""

    def __init__(self, address: str, secret: bytes) -> None:
        self.loop = asyncio.new_event_loop()

        async def connect() -> grpc.aio.Channel:
            return internal_channel(address, secret)  # binds to the running loop

        self.channel = self.loop.run_until_complete(connect())
        self.stub = storage_pb2_grpc.StorageServiceStub(self.channel)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self.loop.run_until_complete(coro)
        except grpc.aio.AioRpcError as exc:
            raise Failed(exc.code(), exc.details() or "") from exc

    def close(self) -> None:
        self.loop.run_until_complete(self.channel.close())

        async def drain() -> None:
            # A call abandoned mid-stream leaves its request-feeding task behind: end it too.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        self.loop.run_until_complete(drain())
        self.loop.close()

    def put(
        self, data: bytes, expected_sha256: str = "", expected_size: int = 0, max_size: int = 0
    ) -> BlobInfo:
        async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
            yield storage_pb2.PutBlobRequest(
                header=storage_pb2.PutBlobHeader(
                    expected_sha256=expected_sha256, expected_size=expected_size, max_size=max_size
                )
            )
            for chunk in _chunks(data):
                yield storage_pb2.PutBlobRequest(chunk=chunk)

        async def go() -> BlobInfo:
            return _info(await self.stub.PutBlob(requests(), timeout=120))

        return self.run(go())

    def spool(self) -> tuple[str, str]:
        reply = self.run(self.stub.SharedSpool(storage_pb2.SharedSpoolRequest(), timeout=30))
        return reply.directory, reply.prefix

    def put_shared(
        self, name: str, expected_sha256: str = "", expected_size: int = 0, commit: bool = True
    ) -> BlobInfo:
        async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
            yield storage_pb2.PutBlobRequest(
                header=storage_pb2.PutBlobHeader(
                    expected_sha256=expected_sha256,
                    expected_size=expected_size,
                    commit_required=True,
                    shared_file=name,
                )
            )
            if commit:
                yield storage_pb2.PutBlobRequest(commit=True)

        async def go() -> BlobInfo:
            return _info(await self.stub.PutBlob(requests(), timeout=120))

        return self.run(go())

    def get(self, key: str, offset: int = 0, length: int = 0) -> tuple[BlobInfo, bytes]:
        async def go() -> tuple[BlobInfo, bytes]:
            info: BlobInfo | None = None
            parts = []
            call = self.stub.GetBlob(
                storage_pb2.GetBlobRequest(key=key, offset=offset, length=length), timeout=120
            )
            async for message in call:
                if message.HasField("info"):
                    assert info is None, "info comes on the first message only"
                    info = _info(message.info)
                parts.append(message.chunk)
            assert info is not None, "the first message carries the blob's info"
            return info, b"".join(parts)

        return self.run(go())

    def stat(self, key: str) -> BlobInfo:
        return _info(self.run(self.stub.Stat(storage_pb2.BlobRef(key=key), timeout=30)))

    def exists(self, key: str) -> bool:
        reply = self.run(self.stub.Exists(storage_pb2.BlobRef(key=key), timeout=30))
        return bool(reply.exists)

    def delete(self, key: str) -> bool:
        return bool(self.run(self.stub.Delete(storage_pb2.BlobRef(key=key), timeout=30)).deleted)

    def presign(self, key: str, expires: int = 300, filename: str = "") -> str:
        request = storage_pb2.PresignGetRequest(key=key, expires_seconds=expires, filename=filename)
        return str(self.run(self.stub.PresignGet(request, timeout=30)).url)

    def locate(self, key: str) -> str:
        reply = self.run(self.stub.LocateBlob(storage_pb2.BlobRef(key=key), timeout=30))
        if reply.path:
            assert reply.size == os.path.getsize(reply.path), "the size is the file's"
        return str(reply.path)

    def verify(self, key: str) -> BlobInfo:
        return _info(self.run(self.stub.VerifyBlob(storage_pb2.BlobRef(key=key), timeout=60)))

    def list(self) -> list[StoredBlob]:
        async def go() -> list[StoredBlob]:
            out = []
            async for page in self.stub.ListBlobs(storage_pb2.ListBlobsRequest(), timeout=60):
                out += [
                    StoredBlob(b.key, b.size, b.modified.ToNanoseconds() / 1e9) for b in page.blobs
                ]
            return out

        return self.run(go())

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        before = Timestamp()
        before.FromNanoseconds(int(cutoff * 1e9))
        request = storage_pb2.DeleteIfOlderRequest(key=key, modified_before=before)
        return bool(self.run(self.stub.DeleteIfOlder(request, timeout=30)).deleted)


@dataclass
class Harness:
    """A client at one level over one backend, and what a test needs to look behind it."""

    backend: str
    level: str
    client: BlobClient
    store: BlobStore  # the store behind the client, for inspection and tampering
    minio: Minio | None  # S3 only: the raw SDK, to look at the bucket directly
    bucket: str
    new_client: Callable[[], BlobClient]  # another client (own connection) for concurrency

    def spooled(self) -> list[str]:
        """Temp files left in the spool directory."""
        tmp = self.store.tmp_dir()
        return sorted(os.listdir(tmp)) if os.path.isdir(tmp) else []

    def stored_keys(self) -> list[str]:
        return sorted(b.key for b in self.store.list_blobs())

    def raw_objects(self) -> list[str]:
        """Everything in the bucket or blob tree, blob or not."""
        if self.minio is not None:
            return sorted(
                o.object_name or "" for o in self.minio.list_objects(self.bucket, recursive=True)
            )
        assert not isinstance(self.store, S3BlobStore)
        root = os.path.join(os.path.dirname(self.store.tmp_dir()), "blobs")
        return sorted(
            os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
        )

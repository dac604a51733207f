"""Faults: an unreachable S3, a client that goes away mid-upload, a full disk, a crash."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from vestry.storage.v1 import storage_pb2

from tests.factories import blob
from tests.integration.storage.harness import (
    CHUNK,
    DomainClient,
    Failed,
    GrpcClient,
    ServerThread,
)
from tests.support.seaweedfs import start_seaweedfs
from tests.support.storage import BACKENDS, backend_settings, storage_settings
from tests.support.vestry_up import free_port
from vestry.cli.healthcheck import check
from vestry.common.errors import Unavailable
from vestry.gateway.errors import rpc_error_response
from vestry.services.storage.backends import make_store
from vestry.services.storage.backends.s3 import S3BlobStore
from vestry.services.storage.blobstore import blob_path

BIN = Path(sys.executable).parent
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition from inside an event loop (the server runs in another thread)."""
    deadline = time.monotonic() + 20
    while True:
        if condition():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def spooled(root: Path) -> list[str]:
    tmp = root / "tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def spooled_bytes(root: Path) -> int:
    return sum((root / "tmp" / name).stat().st_size for name in spooled(root))


# ---- the S3 backend unreachable ----------------------------------------------------------


@pytest.fixture
def unreachable_s3(tmp_path: Path, internal_secret: str) -> Iterator[ServerThread]:
    settings = storage_settings(
        "s3",
        tmp_path / "spool",
        internal_secret,
        s3_endpoint=f"127.0.0.1:{free_port()}",  # nothing listens there
        s3_access_key="AK",
        s3_secret_key="SK",
    )
    server = ServerThread(settings)  # starts anyway, and answers UNAVAILABLE
    yield server
    server.stop()


def _unreachable_s3(spool: Path) -> tuple[S3BlobStore, int]:
    """A blob store for an S3 server that is not there, and the port it would be on."""
    port = free_port()
    store = S3BlobStore.from_settings(
        f"127.0.0.1:{port}", "AK", "SK", "vestry", False, None, str(spool)
    )
    return store, port


@pytest.mark.parametrize("method", ["stat", "get", "exists", "verify"])
def test_unreachable_s3_is_unavailable_with_a_clear_message(tmp_path: Path, method: str) -> None:
    store, port = _unreachable_s3(tmp_path / "spool")
    with pytest.raises(Failed) as err:
        getattr(DomainClient(store, 1 << 20), method)(hashlib.sha256(b"x").hexdigest())
    assert err.value.code == UNAVAILABLE
    assert f"S3 blob store at 127.0.0.1:{port}" in err.value.message
    assert "unreachable" in err.value.message and "Connection refused" in err.value.message


def test_upload_to_unreachable_s3_is_unavailable_and_leaves_no_spool(tmp_path: Path) -> None:
    store, _ = _unreachable_s3(tmp_path / "spool")
    client = DomainClient(store, 1 << 20)
    with pytest.raises(Failed) as err:
        client.put(b"bytes that cannot be stored")
    assert err.value.code == UNAVAILABLE
    assert spooled(tmp_path / "spool") == []
    with pytest.raises(Unavailable):
        list(store.list_blobs())


def test_unreachable_s3_through_grpc_and_the_gateway(
    unreachable_s3: ServerThread, internal_secret: str, tmp_path: Path
) -> None:
    client = GrpcClient(unreachable_s3.address, internal_secret.encode())
    key = hashlib.sha256(b"x").hexdigest()
    try:
        calls: list[Callable[[], object]] = [
            lambda: client.put(b"bytes that cannot be stored"),
            lambda: client.get(key),
            lambda: client.stat(key),
            lambda: client.exists(key),
            lambda: client.list(),
        ]
        for call in calls:
            with pytest.raises(Failed) as err:
                call()
            assert err.value.code == UNAVAILABLE
            assert "unreachable" in err.value.message
            rpc_error = err.value.__cause__
            assert isinstance(rpc_error, grpc.aio.AioRpcError)
            response = rpc_error_response(rpc_error)
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) > 0
    finally:
        client.close()
    assert spooled(tmp_path / "spool") == []


@pytest.mark.s3
def test_s3_stopped_while_serving(tmp_path: Path, internal_secret: str) -> None:
    s3 = start_seaweedfs(tmp_path / "weed")  # its own server: this test stops it
    server: ServerThread | None = None
    client: GrpcClient | None = None
    try:
        server = ServerThread(storage_settings("s3", tmp_path / "spool", internal_secret, s3))
        client = GrpcClient(server.address, internal_secret.encode())
        key = client.put(b"stored before the outage").key
        s3.stop()
        for call in (
            lambda: client.get(key),
            lambda: client.stat(key),
            lambda: client.put(b"during the outage"),
        ):
            with pytest.raises(Failed) as err:
                call()
            assert err.value.code == UNAVAILABLE
            assert "unreachable" in err.value.message
        assert spooled(tmp_path / "spool") == []
    finally:
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
        s3.stop()


# ---- a client that goes away mid-stream -------------------------------------------------


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, internal_secret: str
) -> Iterator[tuple[ServerThread, Path]]:
    root = tmp_path / "store"
    settings = backend_settings(request, request.param, root, internal_secret)
    thread = ServerThread(settings)
    yield thread, root
    thread.stop()


def test_cancelled_upload_leaves_nothing_and_is_never_visible(
    server: tuple[ServerThread, Path], internal_secret: str
) -> None:
    thread, root = server
    data = blob(8 * CHUNK, seed=11)
    key = hashlib.sha256(data).hexdigest()
    client = GrpcClient(thread.address, internal_secret.encode())

    async def go() -> None:
        never = asyncio.Event()

        async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
            yield storage_pb2.PutBlobRequest(
                header=storage_pb2.PutBlobHeader(expected_sha256=key, expected_size=len(data))
            )
            for i in range(0, 4 * CHUNK, CHUNK):
                yield storage_pb2.PutBlobRequest(chunk=data[i : i + CHUNK])
            await never.wait()  # the client stalls, then goes away

        call = client.stub.PutBlob(requests(), timeout=60)
        await until(lambda: spooled_bytes(root) >= 4 * CHUNK, "the upload to arrive")
        # Half received: nothing under the key yet, on any backend.
        assert not thread.store.exists(key)
        assert [b.key for b in thread.store.list_blobs()] == []
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    try:
        client.loop.run_until_complete(go())
    finally:
        client.close()
    wait_for(lambda: spooled(root) == [], "the server to remove the partial upload")
    assert not thread.store.exists(key)


CLIENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from vestry.common.channels import internal_channel
    from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

    async def main():
        channel = internal_channel(sys.argv[1], os.environ["VESTRY_INTERNAL_SECRET"].encode())
        stub = storage_pb2_grpc.StorageServiceStub(channel)

        async def requests():
            yield storage_pb2.PutBlobRequest(header=storage_pb2.PutBlobHeader())
            for _ in range(4):
                yield storage_pb2.PutBlobRequest(chunk=b"x" * 65536)
            print("sent", flush=True)
            await asyncio.Event().wait()

        await stub.PutBlob(requests())

    asyncio.run(main())
    """
)


def test_killed_client_process_leaves_nothing(
    server: tuple[ServerThread, Path], internal_secret: str
) -> None:
    thread, root = server
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, thread.address],
        env={**os.environ, "VESTRY_INTERNAL_SECRET": internal_secret},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "sent"
        wait_for(lambda: spooled_bytes(root) >= 4 * 65536, "the upload to arrive")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    wait_for(lambda: spooled(root) == [], "the server to remove the abandoned upload")
    assert list(thread.store.list_blobs()) == []


# ---- a full disk ------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs), so ENOSPC comes from the kernel."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("level", ["domain", "grpc"])
def test_full_disk_is_resource_exhausted_and_leaves_no_partial_blob(
    request: pytest.FixtureRequest,
    small_disk: Path,
    internal_secret: str,
    backend: str,
    level: str,
) -> None:
    settings = backend_settings(request, backend, small_disk / "store", internal_secret)
    too_big = blob(2 * 1024 * 1024, seed=5)
    server = ServerThread(settings) if level == "grpc" else None
    client: DomainClient | GrpcClient = (
        GrpcClient(server.address, internal_secret.encode())
        if server is not None
        else DomainClient(make_store(settings), settings.max_blob_size)
    )
    store = server.store if server is not None else client.store  # type: ignore[union-attr]
    try:
        with pytest.raises(Failed) as err:
            client.put(too_big)
        assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "disk is full" in err.value.message
        assert spooled(small_disk / "store") == []
        assert list(store.list_blobs()) == []
        assert not store.exists(hashlib.sha256(too_big).hexdigest())
        # The space came back: a blob that fits is stored.
        small = blob(100_000, seed=6)
        assert client.get(client.put(small).key)[1] == small
    finally:
        if isinstance(client, GrpcClient):
            client.close()
        if server is not None:
            server.stop()


# ---- a storage process that crashes mid-upload ------------------------------------------


def _serve_storage(root: Path, address: str, secret: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VESTRY_INTERNAL_SECRET": secret,
        "VESTRY_STORAGE_LISTEN": address,
        "VESTRY_STORAGE_PATH": str(root),
        "VESTRY_STORAGE_BACKEND": "local",
    }
    proc = subprocess.Popen(
        [str(BIN / "vestry"), "serve", "storage"], env=env, stderr=subprocess.DEVNULL
    )

    def healthy() -> bool:
        assert proc.poll() is None, "the storage process exited"
        return check(address, timeout=1) is None

    wait_for(healthy, "the storage service to start", timeout=60)
    return proc


def test_crash_mid_upload_never_exposes_a_partial_blob(
    tmp_path: Path, internal_secret: str
) -> None:
    root = tmp_path / "store"
    address = f"127.0.0.1:{free_port()}"
    data = blob(8 * CHUNK, seed=9)
    key = hashlib.sha256(data).hexdigest()
    proc = _serve_storage(root, address, internal_secret)
    client = GrpcClient(address, internal_secret.encode())

    async def upload_half_then_crash() -> None:
        async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
            yield storage_pb2.PutBlobRequest(header=storage_pb2.PutBlobHeader())
            yield storage_pb2.PutBlobRequest(chunk=data[: 4 * CHUNK])
            await asyncio.Event().wait()

        call = client.stub.PutBlob(requests(), timeout=60)
        await until(lambda: spooled_bytes(root) >= 4 * CHUNK, "the upload to arrive")
        os.kill(proc.pid, signal.SIGKILL)  # the storage process dies mid-upload
        with pytest.raises(grpc.aio.AioRpcError):
            await call

    try:
        client.loop.run_until_complete(upload_half_then_crash())
    finally:
        client.close()
        proc.wait(30)
    assert not (root / "blobs" / blob_path(key)).exists()
    leftovers = spooled(root)
    assert len(leftovers) == 1  # the crash left its temp file, never under the final name
    # Once it is old enough not to belong to a live upload, the next start sweeps it.
    old = time.time() - 2 * 3600
    os.utime(root / "tmp" / leftovers[0], (old, old))
    proc = _serve_storage(root, address, internal_secret)
    try:
        assert spooled(root) == []
    finally:
        proc.terminate()
        proc.wait(30)

"""Service-to-service trust: a direct call without Vestry's internal credential is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from tests.support.vestry_up import free_port
from vestry.cli.healthcheck import check
from vestry.common.channels import internal_channel
from vestry.common.internal_auth import METADATA_KEY, mint_credential

BIN = Path(sys.executable).parent


@pytest.fixture
def storage_service(tmp_path: Path, internal_secret: str) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "VESTRY_INTERNAL_SECRET": internal_secret,
        "VESTRY_STORAGE_LISTEN": address,
        "VESTRY_STORAGE_PATH": str(tmp_path / "blobs"),
    }
    proc = subprocess.Popen(
        [str(BIN / "vestry"), "serve", "storage"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while check(address, timeout=1) is not None:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "storage did not start"
            time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        assert proc.wait(15) == 0  # graceful shutdown on SIGTERM exits cleanly
        if proc.stderr:
            proc.stderr.close()


def _exists(address: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as ch:
        try:
            storage_pb2_grpc.StorageServiceStub(ch).Exists(
                storage_pb2.BlobRef(key="0" * 64), metadata=metadata, timeout=5
            )
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_call_without_credential_is_refused(storage_service: str) -> None:
    assert _exists(storage_service) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("kind", ["garbage", "other-secret", "expired"])
def test_forged_or_stale_credential_is_refused(
    storage_service: str, internal_secret: str, kind: str
) -> None:
    credential = {
        "garbage": "garbage",
        "other-secret": mint_credential(b"another installation's secret, 32+ chars long"),
        # Signed with the right secret an hour ago: stale, refused.
        "expired": mint_credential(internal_secret.encode(), now=time.time() - 3600),
    }[kind]
    assert _exists(storage_service, ((METADATA_KEY, credential),)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_vestry_channel_is_accepted_for_every_call_kind(
    storage_service: str, internal_secret: str
) -> None:
    async def go() -> None:
        channel = internal_channel(storage_service, internal_secret.encode())
        stub = storage_pb2_grpc.StorageServiceStub(channel)

        async def parts():  # type: ignore[no-untyped-def]
            yield storage_pb2.PutBlobRequest(header=storage_pb2.PutBlobHeader())
            yield storage_pb2.PutBlobRequest(chunk=b"trusted bytes")

        info = await stub.PutBlob(parts())  # client-streaming
        assert (await stub.Exists(storage_pb2.BlobRef(key=info.key))).exists  # unary
        chunks = [m.chunk async for m in stub.GetBlob(storage_pb2.GetBlobRequest(key=info.key))]
        assert b"".join(chunks) == b"trusted bytes"  # server-streaming
        await channel.close()

    asyncio.run(go())


def test_health_answers_without_credential(storage_service: str) -> None:
    with grpc.insecure_channel(storage_service) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING

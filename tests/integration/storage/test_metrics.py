"""Every guarded gRPC call is counted with the status code it ended with, as Prometheus sees it
(the shared server wrapper; the storage service is the subject here)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from tests.integration.storage.harness import Failed, GrpcClient, ServerThread
from tests.support.storage import storage_settings

SERVICE = "vestry.storage.v1.StorageService"


def _handled(method: str, code: str) -> float:
    labels = {"grpc_service": SERVICE, "grpc_method": method, "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0


def test_calls_are_counted_with_the_code_they_ended_with(
    tmp_path: Path, internal_secret: str
) -> None:
    cases = [
        ("Exists", "OK"),
        ("Stat", "NOT_FOUND"),
        ("Stat", "INVALID_ARGUMENT"),
        ("GetBlob", "NOT_FOUND"),
        ("PutBlob", "OK"),
        ("Exists", "UNAUTHENTICATED"),
    ]
    before = {case: _handled(*case) for case in cases}
    server = ServerThread(storage_settings("local", tmp_path / "store", internal_secret))
    client = GrpcClient(server.address, internal_secret.encode())
    try:
        client.exists("0" * 64)
        for bad in ("f" * 64, "not-a-key"):
            with pytest.raises(Failed):
                client.stat(bad)
        with pytest.raises(Failed):
            client.get("e" * 64)
        client.put(b"counted")
        # No internal credential:
        with grpc.insecure_channel(server.address) as plain, pytest.raises(grpc.RpcError):
            storage_pb2_grpc.StorageServiceStub(plain).Exists(
                storage_pb2.BlobRef(key="0" * 64), timeout=10
            )
    finally:
        client.close()
        server.stop()
    for case in cases:
        assert _handled(*case) - before[case] == 1, case
    timed = REGISTRY.get_sample_value(
        "grpc_server_handling_seconds_count", {"grpc_service": SERVICE, "grpc_method": "PutBlob"}
    )
    assert timed is not None and timed >= 1

"""How the gateway reaches several replicas of a service (vestry.common.channels)."""

from __future__ import annotations

import json

import pytest

from tests.support.tables import maps
from vestry.common.channels import grpc_target, service_config
from vestry.gateway.backends import RETRYABLE

test_addresses_become_grpc_targets = maps(
    grpc_target,
    [
        ("127.0.0.1:50051", "127.0.0.1:50051"),
        ("auth:50051", "auth:50051"),
        ("dns:///vestry-auth:50051", "dns:///vestry-auth:50051"),
        ("unix:/run/vestry/auth.sock", "unix:/run/vestry/auth.sock"),
        ("10.0.0.1:50051,10.0.0.2:50051", "ipv4:10.0.0.1:50051,10.0.0.2:50051"),
        (" 10.0.0.1:1 , 10.0.0.2:2 ,", "ipv4:10.0.0.1:1,10.0.0.2:2"),
        ("[::1]:50051,[fd00::2]:50051", "ipv6:[::1]:50051,[fd00::2]:50051"),
    ],
)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "empty"),
        ("auth-1:50051,auth-2:50051", "dns:///"),
        ("10.0.0.1:50051,10.0.0.2", "not HOST:PORT"),
        ("10.0.0.1:50051,[::1]:50051", "IPv4 and IPv6"),
    ],
)
def test_unusable_address_lists_are_refused_with_advice(address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grpc_target(address)


def test_gateway_settings_refuse_an_unusable_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from vestry.gateway.settings import GatewaySettings

    monkeypatch.setenv("VESTRY_INTERNAL_SECRET", "x" * 32)
    monkeypatch.setenv("VESTRY_INDEX_ADDRESS", "index-1:50052,index-2:50052")
    with pytest.raises(ValidationError, match="dns:///"):
        GatewaySettings()  # type: ignore[call-arg]


def test_only_safe_calls_are_retried_and_all_are_balanced() -> None:
    config = json.loads(service_config(RETRYABLE))
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    (method_config,) = config["methodConfig"]
    retried = {(n["service"], n["method"]) for n in method_config["name"]}
    assert ("vestry.index.v1.IndexService", "CommitFile") in retried
    for unsafe in ("MintToken", "RevokeToken", "CreateUser"):
        assert ("vestry.auth.v1.AuthService", unsafe) not in retried
    policy = method_config["retryPolicy"]
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert 2 <= policy["maxAttempts"] <= 5  # gRPC caps attempts at 5


def test_retryable_methods_exist() -> None:
    from vestry.auth.v1 import auth_pb2
    from vestry.index.v1 import index_pb2
    from vestry.storage.v1 import storage_pb2

    for module in (auth_pb2, index_pb2, storage_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in RETRYABLE.get(service.full_name, ()):
                assert method in service.methods_by_name, f"{service.full_name}/{method}"
    assert set(RETRYABLE) == {
        s.full_name
        for m in (auth_pb2, index_pb2, storage_pb2)
        for s in m.DESCRIPTOR.services_by_name.values()
    }

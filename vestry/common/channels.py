"""Client channels to Vestry's services, carrying the internal credential on every call."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from vestry.common.grpc_options import CLIENT_OPTIONS
from vestry.common.internal_auth import MAX_AGE_SECONDS, METADATA_KEY, mint_credential

__all__ = ["grpc_target", "internal_channel", "service_config"]


class _Credential:
    """Re-mints the credential well before it expires; minting is a single HMAC."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._value = ""
        self._minted = 0.0

    def current(self) -> str:
        now = time.time()
        if now - self._minted > MAX_AGE_SECONDS / 3:
            self._value = mint_credential(self._secret, now)
            self._minted = now
        return self._value


class _WithCredential:
    # Metadata rather than call credentials: gRPC drops call credentials on plaintext channels,
    # and in-cluster traffic between replicas is plaintext TCP.
    def __init__(self, credential: _Credential) -> None:
        self._credential = credential

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata[METADATA_KEY] = self._credential.current()
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def _carry(self, continuation: Any, details: Any, request_or_requests: Any) -> Any:
        """Every kind of call alike: continue it with the credential in its metadata."""
        return await continuation(self._details(details), request_or_requests)


# grpc.aio files each interceptor under the FIRST interceptor kind it is an instance of, so one
# class per kind is needed for every kind of call to carry the credential. Each kind's method is
# `_carry` (typed Any: the stubs name each kind's parameters differently; the calls pass them by
# position).
_CARRY: Any = _WithCredential._carry


class _UnaryUnary(_WithCredential, grpc.aio.UnaryUnaryClientInterceptor):
    intercept_unary_unary = _CARRY


class _UnaryStream(_WithCredential, grpc.aio.UnaryStreamClientInterceptor):
    intercept_unary_stream = _CARRY


class _StreamUnary(_WithCredential, grpc.aio.StreamUnaryClientInterceptor):
    intercept_stream_unary = _CARRY


class _StreamStream(_WithCredential, grpc.aio.StreamStreamClientInterceptor):
    intercept_stream_stream = _CARRY


def _replica(entry: str) -> tuple[int, str]:
    host, sep, port = entry.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{entry!r} is not HOST:PORT")
    try:
        ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        raise ValueError(
            f"{entry!r}: list several replicas by IP address, or give one DNS name that resolves "
            "to all of them (dns:///auth.example:50051, e.g. a Kubernetes headless Service)"
        ) from None
    return ip.version, f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def grpc_target(address: str) -> str:
    """The gRPC target for a `VESTRY_*_ADDRESS` value.

    One address (`host:port`, `unix:path`, `dns:///name:port`) is used as it is; a DNS name that
    resolves to several addresses reaches all of them. A comma-separated list of `IP:PORT`
    replicas becomes one `ipv4:`/`ipv6:` target. Raises ValueError for a list that names hosts
    (they would be resolved once, and a replica that moved would be lost).
    """
    entries = [e.strip() for e in address.split(",") if e.strip()]
    if not entries:
        raise ValueError("the address is empty")
    if len(entries) == 1:
        return entries[0]
    replicas = [_replica(e) for e in entries]
    versions = {version for version, _ in replicas}
    if len(versions) != 1:
        raise ValueError(f"{address!r}: mix of IPv4 and IPv6 replicas; use one family")
    return f"ipv{versions.pop()}:" + ",".join(r for _, r in replicas)


def service_config(retryable: Mapping[str, Sequence[str]]) -> str:
    """gRPC service config: spread calls over every replica, and retry on another one.

    `retryable` maps a full service name to the methods that are safe to repeat; a call to one of
    them that fails UNAVAILABLE (the replica died or is shutting down) is retried up to 4 more
    times with backoff, over the load balancer's next pick. Other methods are never repeated
    after they reached a server, since their effect may have happened.
    """
    names = [
        {"service": service, "method": method}
        for service, methods in retryable.items()
        for method in methods
    ]
    config: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}
    if names:
        config["methodConfig"] = [
            {
                "name": names,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    return json.dumps(config)


def internal_channel(
    address: str, secret: bytes, retryable: Mapping[str, Sequence[str]] | None = None
) -> grpc.aio.Channel:
    """An asyncio channel to a Vestry service at `address` (see `grpc_target`).

    Calls are balanced round-robin over every address the target resolves to; methods named in
    `retryable` (service name -> methods) are retried on UNAVAILABLE.
    """
    credential = _Credential(secret)
    interceptors = [
        cls(credential) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
    ]
    options = [
        *CLIENT_OPTIONS,
        ("grpc.service_config", service_config(retryable or {})),
        ("grpc.enable_retries", 1),
        # Ours, never one a DNS TXT record would supply.
        ("grpc.service_config_disable_resolution", 1),
    ]
    return grpc.aio.insecure_channel(
        grpc_target(address), options=options, interceptors=interceptors
    )

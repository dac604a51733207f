"""Client channels to Vestry's services, carrying the internal credential on every call."""

from __future__ import annotations

import time
from typing import Any

import grpc

from vestry.common.grpc_server import CHANNEL_OPTIONS
from vestry.common.internal_auth import MAX_AGE_SECONDS, METADATA_KEY, mint_credential

__all__ = ["internal_channel"]


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


# grpc.aio files each interceptor under the FIRST interceptor kind it is an instance of, so one
# class per kind is needed for every kind of call to carry the credential.
class _UnaryUnary(_WithCredential, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_WithCredential, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_WithCredential, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_WithCredential, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def internal_channel(address: str, secret: bytes) -> grpc.aio.Channel:
    """An asyncio channel to a Vestry service at `address` (host:port or unix:path)."""
    credential = _Credential(secret)
    interceptors = [
        cls(credential) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
    ]
    return grpc.aio.insecure_channel(
        address, options=list(CHANNEL_OPTIONS), interceptors=interceptors
    )

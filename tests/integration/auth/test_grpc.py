"""Two real auth gRPC replicas sharing one PostgreSQL and one Redis: bad input is answered with
UNAUTHENTICATED / PERMISSION_DENIED and a reason (never INTERNAL), and a revocation through
one replica holds on the other at once."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from vestry.common.channels import internal_channel
from vestry.common.grpc_server import start_serving
from vestry.services.auth import tokens
from vestry.services.auth.server import build_service, create_server, migrate_database
from vestry.services.auth.settings import AuthSettings

BAD = {
    "garbled": lambda t: t[:20] + "$$$" + t[23:],
    "truncated": lambda t: t[:-3],
    "wrong prefix": lambda t: "pypi-" + t[7:],
    "unknown tag": lambda t: _raw(t, "[77]"),
    "raw text": lambda t: _raw(t, "account = alice"),
    "bare exception in pymacaroons": lambda t: "vestry-AgE",
}


def _raw(token: str, predicate: str) -> str:
    m = tokens.load(token)
    m.add_first_party_caveat(predicate)
    return tokens.serialize(m)


async def _scenario(url: str, redis_url: str, prefix: str, secret: str) -> None:
    settings = AuthSettings(
        **{  # the shared fields are read under their VESTRY_* names
            "VESTRY_INTERNAL_SECRET": secret,
            "database_url": url,
            "VESTRY_REDIS_URL": redis_url,
            "VESTRY_REDIS_PREFIX": prefix,
        }
    )
    services = [build_service(settings) for _ in range(2)]
    servers = [create_server(settings, "127.0.0.1:0", service=s) for s in services]
    for server, _ in servers:
        await start_serving(server)
    channels = [internal_channel(f"127.0.0.1:{port}", secret.encode()) for _, port in servers]
    a, b = (auth_pb2_grpc.AuthServiceStub(c) for c in channels)
    try:
        await a.CreateUser(auth_pb2.CreateUserRequest(name="alice"))
        root = (await a.MintToken(auth_pb2.MintTokenRequest(for_user="alice"))).token
        for name, make in BAD.items():
            for stub in (a, b):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.VerifyToken(auth_pb2.VerifyTokenRequest(token=make(root)))
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
                assert info.value.details(), name
        reader = tokens.attenuate(root, permissions=["read"])
        ctx = auth_pb2.AccessContext(permission="upload", project_name="foo")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await b.VerifyToken(auth_pb2.VerifyTokenRequest(token=reader, context=ctx))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "upload" in (info.value.details() or "")

        for stub in (a, b):  # both replicas have it cached now
            await stub.VerifyToken(auth_pb2.VerifyTokenRequest(token=reader))
        await a.RevokeToken(auth_pb2.RevokeTokenRequest(caller_token=root, token_or_id=reader))
        for stub in (b, a):
            for t in (reader, root):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await stub.VerifyToken(auth_pb2.VerifyTokenRequest(token=t))
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert "revoked" in (info.value.details() or "")
    finally:
        for c in channels:
            await c.close()
        for (server, _), service in zip(servers, services, strict=True):
            await server.stop(None)
            service.close()


def test_two_replicas_one_redis(
    postgres_url: str, redis_url: str, redis_prefix: str, internal_secret: str
) -> None:
    migrate_database(postgres_url)
    asyncio.run(_scenario(postgres_url, redis_url, redis_prefix, internal_secret))

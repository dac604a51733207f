"""Over gRPC: auth's writes move the auth epoch before they reply, its reads do not, and a
write whose bump cannot be recorded is answered UNAVAILABLE, never OK."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from vestry.common.channels import internal_channel
from vestry.common.epochs import FileEpochs
from vestry.common.grpc_server import start_serving
from vestry.services.auth.server import create_server, migrate_database
from vestry.services.auth.settings import AuthSettings

Stub = auth_pb2_grpc.AuthServiceStub


def _settings(tmp_path: Path, secret: str, invalidation_url: str) -> AuthSettings:
    url = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    migrate_database(url)
    return AuthSettings(
        **{
            "VESTRY_INTERNAL_SECRET": secret,
            "database_url": url,
            "VESTRY_INVALIDATION_URL": invalidation_url,
        }
    )


async def _with_stub(
    settings: AuthSettings, secret: str, body: Callable[[Stub], Awaitable[None]]
) -> None:
    server, port = create_server(settings, "127.0.0.1:0")
    await start_serving(server)
    channel = internal_channel(f"127.0.0.1:{port}", secret.encode())
    try:
        await body(auth_pb2_grpc.AuthServiceStub(channel))
    finally:
        await channel.close()
        await server.stop(None)


def test_writes_bump_reads_do_not(tmp_path: Path, internal_secret: str) -> None:
    path = tmp_path / "run" / "epochs"
    settings = _settings(tmp_path, internal_secret, path.as_uri())
    epochs = FileEpochs(path)

    async def body(stub: Stub) -> None:
        start = epochs.snapshot()
        await stub.CreateUser(auth_pb2.CreateUserRequest(name="alice"))
        assert epochs.snapshot().auth == start.auth + 1  # moved by the time the reply came
        minted = await stub.MintToken(auth_pb2.MintTokenRequest(for_user="alice"))
        moved = epochs.snapshot()
        assert moved.auth == start.auth + 2
        await stub.VerifyToken(auth_pb2.VerifyTokenRequest(token=minted.token))
        await stub.GetUser(auth_pb2.GetUserRequest(name="alice"))
        assert epochs.snapshot() == moved  # reads leave it alone
        with pytest.raises(grpc.aio.AioRpcError):  # a refused write bumps too
            await stub.SetUserActive(auth_pb2.SetUserActiveRequest(name="nobody"))
        await stub.RevokeToken(
            auth_pb2.RevokeTokenRequest(caller_token=minted.token, token_or_id=minted.token)
        )
        assert epochs.snapshot().auth == moved.auth + 2
        assert epochs.snapshot().index == start.index  # the index's counter is not auth's

    try:
        asyncio.run(_with_stub(settings, internal_secret, body))
    finally:
        epochs.close_sync()


def test_a_write_whose_bump_fails_is_unavailable(tmp_path: Path, internal_secret: str) -> None:
    # Nothing listens on port 1: every bump fails, at once.
    settings = _settings(tmp_path, internal_secret, "redis://127.0.0.1:1/0")

    async def body(stub: Stub) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CreateUser(auth_pb2.CreateUserRequest(name="alice"))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "repeat the request" in (info.value.details() or "")
        # The change itself is committed (the failure is only that gateways may not know yet);
        # reads do not bump, so they still answer.
        user = await stub.GetUser(auth_pb2.GetUserRequest(name="alice"))
        assert user.name == "alice"

    asyncio.run(_with_stub(settings, internal_secret, body))

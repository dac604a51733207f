"""Client channels against real servers that go away and come back."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.vestry_up import free_port
from vestry.cli.healthcheck import check
from vestry.common.channels import internal_channel
from vestry.common.grpc_server import create_server, start_serving


async def _serve(secret: bytes, address: str) -> grpc.aio.Server:
    server, _ = create_server(secret, address, lambda _server: None, ())
    await start_serving(server)
    return server


async def _status(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    return int(reply.status)


def test_a_new_channel_reaches_a_server_restarted_on_the_same_address(
    internal_secret: str,
) -> None:
    # gRPC's process-wide connection pool would hand the new channel the dead connection's
    # reconnect backoff, failing its first call with "connections to all backends failing" —
    # the flake that once hit the storage contract suite when a port was reused.
    secret = internal_secret.encode()
    address = f"127.0.0.1:{free_port()}"
    serving = health_pb2.HealthCheckResponse.SERVING

    async def go() -> None:
        first = await _serve(secret, address)
        old = internal_channel(address, secret)
        assert await _status(old) == serving
        await first.stop(None)
        with pytest.raises(grpc.aio.AioRpcError):
            await _status(old)  # the old connection is gone and now backing off

        second = await _serve(secret, address)
        try:
            fresh = internal_channel(address, secret)
            assert await _status(fresh) == serving
            # The CLI's synchronous health check (`vestry up`, compose) is just as fresh.
            assert await asyncio.to_thread(check, address, 5) is None
            await fresh.close()
        finally:
            await old.close()
            await second.stop(None)

    asyncio.run(go())

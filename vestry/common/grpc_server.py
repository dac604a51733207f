"""What every Vestry gRPC server shares: the trust check, error mapping, health and shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from vestry.common.errors import DomainError
from vestry.common.grpc_options import CHANNEL_OPTIONS
from vestry.common.internal_auth import METADATA_KEY, verify_credential
from vestry.common.metrics import GRPC_HANDLED, GRPC_HANDLING_SECONDS, grpc_labels

__all__ = [
    "Around",
    "AroundInterceptor",
    "Context",
    "GuardInterceptor",
    "create_server",
    "run_until_signalled",
    "wrap_handler",
]

log = logging.getLogger(__name__)

# Health checks come from orchestrators (Kubernetes gRPC probes) that cannot send metadata;
# they learn nothing but "serving".
_UNGUARDED_PREFIXES = ("/grpc.health.v1.Health/",)

Handler = Any  # grpc.RpcMethodHandler; its stubs do not name the behaviour attributes
Context = grpc.aio.ServicerContext[Any, Any]


def _metadata_value(details: grpc.HandlerCallDetails, key: str) -> str | None:
    for item_key, value in details.invocation_metadata or ():
        if item_key == key:
            return value.decode() if isinstance(value, bytes) else value
    return None


def _database_unreachable(exc: BaseException) -> bool:
    """A database that is down, restarting or out of connections: a reason to try again
    shortly (UNAVAILABLE, a 503 + Retry-After at the gateway), not an internal error."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def _translate(exc: BaseException, context: Context, method: str) -> None:
    if isinstance(exc, DomainError):
        await context.abort(grpc.StatusCode[exc.code], exc.message)
    if _database_unreachable(exc):
        log.error("%s cannot reach its database: %s", method, type(exc.__cause__ or exc).__name__)
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the database is unreachable")
    log.exception("unexpected error in %s", method)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")


Around = Callable[[Context], AbstractAsyncContextManager[None]]


class AroundInterceptor(grpc.aio.ServerInterceptor):
    """Runs each call a subclass chooses inside the context manager its `around` gives."""

    def around(self, method: str, details: grpc.HandlerCallDetails) -> Around | None:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        around = self.around(handler_call_details.method, handler_call_details)
        return handler if around is None else wrap_handler(handler, around)


class GuardInterceptor(AroundInterceptor):
    """Refuse callers without Vestry's internal credential; map domain errors to statuses."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def around(self, method: str, details: grpc.HandlerCallDetails) -> Around | None:
        if method.startswith(_UNGUARDED_PREFIXES):
            return None
        credential = _metadata_value(details, METADATA_KEY)
        trusted = credential is not None and verify_credential(self._secret, credential)
        return lambda context: _guarded(context, method, trusted)


class _Outcome:
    """One call's status code and duration, recorded in the metrics when the call ends."""

    def __init__(self, method: str) -> None:
        self._labels = grpc_labels(method)
        self._start = time.perf_counter()
        self.code = grpc.StatusCode.OK

    def failed(self, exc: BaseException, context: Context) -> None:
        if isinstance(exc, asyncio.CancelledError):
            self.code = grpc.StatusCode.CANCELLED
        elif isinstance(exc, grpc.aio.AbortError):  # the servicer aborted: its code stands
            code = context.code()
            self.code = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
        elif isinstance(exc, DomainError):
            self.code = grpc.StatusCode[exc.code]
        elif _database_unreachable(exc):
            self.code = grpc.StatusCode.UNAVAILABLE
        else:
            self.code = grpc.StatusCode.INTERNAL

    def record(self) -> None:
        GRPC_HANDLED.labels(*self._labels, self.code.name).inc()
        GRPC_HANDLING_SECONDS.labels(*self._labels).observe(time.perf_counter() - self._start)


@asynccontextmanager
async def _guarded(context: Context, method: str, trusted: bool) -> AsyncIterator[None]:
    """Around one call: refuse it without the credential, turn domain errors into statuses,
    and record its status code and duration."""
    outcome = _Outcome(method)
    try:
        if not trusted:
            log.warning("refused a call to %s without a valid internal credential", method)
            outcome.code = grpc.StatusCode.UNAUTHENTICATED
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "this service only answers Vestry's own processes"
            )
        try:
            yield
        except (asyncio.CancelledError, grpc.aio.AbortError) as exc:
            outcome.failed(exc, context)
            raise
        except Exception as exc:
            outcome.failed(exc, context)
            await _translate(exc, context, method)
    finally:
        outcome.record()


def wrap_handler(handler: Handler, around: Around) -> Handler:
    """`handler`, each call of it run inside `around(context)` (a stream: all of it)."""
    if handler.unary_unary or handler.stream_unary:
        inner = handler.unary_unary or handler.stream_unary

        async def unary_response(request: Any, context: Context) -> Any:
            async with around(context):
                return await inner(request, context)

        if handler.unary_unary:
            return _like(handler, grpc.unary_unary_rpc_method_handler, unary_response)
        return _like(handler, grpc.stream_unary_rpc_method_handler, unary_response)

    inner_stream = handler.unary_stream or handler.stream_stream

    async def stream_response(request: Any, context: Context) -> AsyncIterator[Any]:
        async with around(context):
            async for item in inner_stream(request, context):
                yield item

    if handler.unary_stream:
        return _like(handler, grpc.unary_stream_rpc_method_handler, stream_response)
    return _like(handler, grpc.stream_stream_rpc_method_handler, stream_response)


def _like(handler: Handler, factory: Callable[..., Handler], behaviour: Any) -> Handler:
    """A handler made by `factory` for `behaviour`, (de)serialising as `handler` does."""
    return factory(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# gRPC sets SO_REUSEPORT by default, so a second server on a taken port starts "fine" and the two
# silently share connections. A port clash must fail at bind time instead.
#
# Connections are recycled every few minutes (clients get a GOAWAY and reconnect), so gateways
# that reach replicas through DNS (`dns:///vestry-auth:50051`) re-resolve and spread calls onto
# replicas added since; calls already running keep their connection for up to an hour.
SERVER_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.so_reuseport", 0),
    ("grpc.max_connection_age_ms", 5 * 60 * 1000),
    ("grpc.max_connection_age_grace_ms", 60 * 60 * 1000),
)


def create_server(
    secret: bytes,
    address: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, int]:
    """Build a guarded `grpc.aio` server with the standard health service, bound to `address`.

    `interceptors` run inside the guard (only for trusted calls), in order.
    Returns the server (not yet started) and the bound TCP port (0 for a unix socket).
    """
    server = grpc.aio.server(
        interceptors=[GuardInterceptor(secret), *interceptors],
        options=[*CHANNEL_OPTIONS, *SERVER_OPTIONS],
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.health_servicer = health_servicer  # type: ignore[attr-defined]
    server.vestry_service_names = tuple(service_names)  # type: ignore[attr-defined]
    if address.startswith("unix:"):
        path = address.removeprefix("unix:").removeprefix("//")
        if os.path.exists(path):
            os.unlink(path)  # a stale socket from a process that died
        # The socket is created with the umask's mode; keep it private to this user.
        old = os.umask(0o077)
        try:
            port = server.add_insecure_port(address)
        finally:
            os.umask(old)
    else:
        port = server.add_insecure_port(address)
    return server, port


async def start_serving(server: grpc.aio.Server) -> None:
    await server.start()
    health_servicer: health.aio.HealthServicer = server.health_servicer  # type: ignore[attr-defined]
    for name in ("", *server.vestry_service_names):  # type: ignore[attr-defined]
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def run_until_signalled(
    server: grpc.aio.Server, grace_seconds: float = 10.0, on_stop: Callable[[], None] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then stop taking calls and let running ones finish."""
    await start_serving(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    health_servicer: health.aio.HealthServicer = server.health_servicer  # type: ignore[attr-defined]
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
    if on_stop is not None:
        on_stop()

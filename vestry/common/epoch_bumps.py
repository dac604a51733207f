"""A gRPC server interceptor that moves a change epoch after every call that may write.

Writes are the default: every method of the service NOT named in its explicit set of read-only
methods bumps, so a write RPC added later is covered without anyone remembering to. The bump
comes after the handler has finished (its transaction committed) and before the reply is sent,
and also when the handler raised, since a failed call may still have changed something.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import grpc

from vestry.common.epochs import Counter, EpochError, Epochs, open_epochs
from vestry.common.grpc_server import Around, AroundInterceptor, Context

__all__ = ["BumpInterceptor", "bump_interceptors"]

log = logging.getLogger(__name__)


class BumpInterceptor(AroundInterceptor):
    """Bump `counter` of `epochs` after each call to `service` not in `read_only`."""

    def __init__(
        self, epochs: Epochs, counter: Counter, service: str, read_only: Iterable[str]
    ) -> None:
        self._epochs = epochs
        self._counter = counter
        self._prefix = f"/{service}/"
        self._read_only = frozenset(read_only)

    def writes(self, method: str) -> bool:
        """Whether a call to `method` (a full gRPC path) bumps."""
        if not method.startswith(self._prefix):
            return False  # health checks, reflection: another service's methods
        return method.removeprefix(self._prefix) not in self._read_only

    def around(self, method: str, details: grpc.HandlerCallDetails) -> Around | None:
        if not self.writes(method):
            return None
        return lambda context: self._bumping(method, context)

    @asynccontextmanager
    async def _bumping(self, method: str, context: Context) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self._bump(method, context)

    async def _bump(self, method: str, context: Context) -> None:
        try:
            # Off the event loop: a Redis round trip (or a wait for the file lock) must not
            # hold up the other calls this process is serving.
            await asyncio.to_thread(self._epochs.bump, self._counter)
        except EpochError as exc:
            log.error("%s: %s; the call fails so that no one relies on it", method, exc)
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "the change may not yet be visible to every gateway (the invalidation store "
                "is unreachable); repeat the request",
            )


def bump_interceptors(
    url: str, prefix: str, counter: Counter, service: str, read_only: Iterable[str]
) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors a service registers for VESTRY_INVALIDATION_URL (none when unset)."""
    epochs = open_epochs(url, prefix)
    if epochs is None:
        return []
    # A process killed between its commit and its bump left a change that no gateway heard of
    # (its caller got no answer, and a retry may find the work done and change nothing): the
    # process that starts in its place bumps once, before it serves.
    try:
        epochs.bump(counter)
    except EpochError as exc:
        log.warning(
            "%s: no bump at start (%s); gateways bypass their caches while they "
            "cannot read the store either",
            service,
            exc,
        )
    return [BumpInterceptor(epochs, counter, service, read_only)]

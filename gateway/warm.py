"""Warm reads: verified tokens and access decisions reused while nothing changed.

Each answer of auth or the index that a read depends on (who a token is; what GetProjectPage,
ListProjects, GetFile or DecideUpstream told this caller) is kept with the change epoch
(vestry.common.epochs) its service had when the request that asked began, and reused only while
that epoch is still the one read at the start of the current request. Writers move the epoch
before their call replies, so once a revocation, a removed member or a visibility change has
returned, no gateway reuses an answer given before it. When the epochs cannot be read (none
configured, Redis down) every cache is bypassed: the services are asked as if none existed.

The caches are bounded LRUs used from the event loop only (no locking).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

import grpc
from starlette.requests import Request
from starlette.types import Scope
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.epochs import FileEpochs, RedisEpochs, Snapshot, open_epochs
from vestry.gateway.settings import GatewaySettings
from vestry.gateway.telemetry import WARM_CACHE

__all__ = [
    "Answer",
    "Refusal",
    "Warm",
    "WarmCache",
    "index_answer",
    "keep_header",
    "remembered",
    "snapshot",
    "snapshot_of",
    "warm_of",
]

V = TypeVar("V")
R = TypeVar("R")

# Answers that are as much a decision as a reply, and as cacheable: the caller may not see it.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)
# Access entries outlive no change (the epoch sees to that); the age bound is a second line in
# case a store is replaced under a running gateway, and keeps idle entries from lingering.
ACCESS_MAX_AGE = 300.0


@dataclass(frozen=True)
class Refusal:
    """A refusal as the service gave it, raised anew for each request it answers."""

    code: grpc.StatusCode
    details: str

    def error(self) -> grpc.aio.AioRpcError:
        empty = grpc.aio.Metadata()
        return grpc.aio.AioRpcError(self.code, empty, empty, self.details)


class WarmCache(Generic[V]):
    """An LRU of answers, each trusted under the epoch it was filled under, until its deadline."""

    def __init__(
        self,
        name: str,
        entries: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = entries
        self._max_age = max_age
        self._clock = clock
        self._hits = WARM_CACHE.labels(name, "hit")
        self._misses = WARM_CACHE.labels(name, "miss")
        self._bypasses = WARM_CACHE.labels(name, "bypass")
        self._entries: OrderedDict[Hashable, tuple[int, float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, epoch: int | None, *, count_miss: bool = True) -> V | None:
        """The answer kept for `key` if it was filled under `epoch` and is not past its
        deadline; None (and nothing trusted) when `epoch` is None, unknown. `count_miss=False`
        for a first look whose miss the full route will look up (and count) again."""
        if epoch is None:
            if count_miss:
                self._bypasses.inc()
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] != epoch or entry[1] <= self._clock():
            if entry is not None:
                del self._entries[key]  # stale for good: epochs and clocks only move on
            if count_miss:
                self._misses.inc()
            return None
        self._entries.move_to_end(key)
        self._hits.inc()
        return entry[2]

    def put(self, key: Hashable, epoch: int | None, value: V, ttl: float | None = None) -> None:
        """Keep `value` for `key`, filled under `epoch` (read before the call that produced it),
        for `ttl` seconds at most (never more than the cache's max age)."""
        ttl = self._max_age if ttl is None else min(ttl, self._max_age)
        if epoch is None or ttl <= 0 or self._max <= 0:
            return
        self._entries[key] = (epoch, self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


# What one cache holds for a call: the reply, or the refusal it raised.
Answer: TypeAlias = R | Refusal


@dataclass
class Warm:
    """The gateway's caches of identities and access decisions, and the epochs they rely on."""

    epochs: FileEpochs | RedisEpochs | None
    # sha256(token) -> (caller, principal, caller as bytes)
    identities: WarmCache[tuple[index_pb2.Caller, auth_pb2.Principal, bytes]]
    pages: WarmCache[Answer[index_pb2.ProjectPage]]
    listings: WarmCache[Answer[index_pb2.ListProjectsResponse]]
    files: WarmCache[Answer[index_pb2.FileRecord]]
    decisions: WarmCache[Answer[index_pb2.UpstreamDecision]]

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> Warm:
        n = settings.warm_cache_entries
        return cls(
            epochs=open_epochs(settings.invalidation_url, settings.invalidation_prefix),
            identities=WarmCache("identities", n, settings.identity_cache_seconds),
            pages=WarmCache("page-access", n, ACCESS_MAX_AGE),
            listings=WarmCache("listing-access", n, ACCESS_MAX_AGE),
            files=WarmCache("file-access", n, ACCESS_MAX_AGE),
            decisions=WarmCache("upstream-decisions", n, ACCESS_MAX_AGE),
        )

    async def close(self) -> None:
        if self.epochs is not None:
            await self.epochs.close()


_SNAPSHOT = "vestry_epochs"  # request-state key: the epochs as read when the request began


def warm_of(request: Request) -> Warm | None:
    warm: Warm | None = getattr(request.app.state, "warm", None)
    return warm


async def snapshot(request: Request) -> Snapshot | None:
    """The epochs for this request, read once (before any call whose answer may be kept);
    None when they are unknown or there are none, and then nothing cached may be used."""
    return await snapshot_of(request.scope, warm_of(request))


async def snapshot_of(scope: Scope, warm: Warm | None) -> Snapshot | None:
    """`snapshot` for a request known by its ASGI scope (gateway.hot)."""
    state = scope.setdefault("state", {})
    if _SNAPSHOT in state:
        found: Snapshot | None = state[_SNAPSHOT]
        return found
    read = None if warm is None or warm.epochs is None else await warm.epochs.read()
    state[_SNAPSHOT] = read
    return read


async def remembered(
    cache: WarmCache[Answer[R]],
    key: Hashable,
    epoch: int | None,
    call: Callable[[], Awaitable[R]],
    keep: Callable[[R], bool] = lambda _: True,
    refusals: bool = True,
) -> R:
    """`call()`'s answer for `key`, from `cache` while `epoch` holds; else made by `call()` and
    kept when `keep` says the reply is worth keeping, and a refusal too (raised again as it
    came) unless `refusals` is False."""
    found = cache.get(key, epoch)
    if isinstance(found, Refusal):
        raise found.error()
    if found is not None:
        return found
    try:
        reply = await call()
    except grpc.aio.AioRpcError as exc:
        if refusals and exc.code() in _REFUSALS:
            cache.put(key, epoch, Refusal(exc.code(), exc.details() or ""))
        raise
    if keep(reply):
        cache.put(key, epoch, reply)
    return reply


async def keep_header(
    request: Request,
    pick: Callable[[Warm], WarmCache[Answer[R]]],
    key: Hashable,
    header: R,
) -> None:
    """Keep, for `key`, the header-only "unchanged" answer the index would give next time, made
    from a whole reply just received: it is as true as that reply, under the same epoch (the
    one this request read before asking). Without it, the request after a whole reply would
    still make one call to be told "unchanged", and only the one after that none."""
    warm = warm_of(request)
    if warm is None:
        return
    epochs = await snapshot(request)
    pick(warm).put(key, None if epochs is None else epochs.index, header)


async def index_answer(
    request: Request,
    pick: Callable[[Warm], WarmCache[Answer[R]]],
    key: Hashable,
    call: Callable[[], Awaitable[R]],
    keep: Callable[[R], bool] = lambda _: True,
    refusals: bool = True,
) -> R:
    """An index call's answer for `key`, from the cache `pick` chooses while the index's epoch
    holds (see `remembered`)."""
    warm = warm_of(request)
    if warm is None:
        return await call()
    epochs = await snapshot(request)
    epoch = None if epochs is None else epochs.index
    return await remembered(pick(warm), key, epoch, call, keep, refusals)

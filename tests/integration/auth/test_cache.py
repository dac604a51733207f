"""The verification cache, on real Redis and in-process: TTLs, damaged entries, invalidation
across replicas, and Redis going away (slower, never open)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from tests.support.auth import NOW, Clock
from tests.support.redis import ThrowawayRedis
from vestry.common.errors import PermissionDenied, Unauthenticated, Unavailable
from vestry.services.auth import tokens
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.backends.redis import RedisCache
from vestry.services.auth.cache import ENTRY_VERSION, VerificationCache
from vestry.services.auth.caveats import AccessContext, Scope
from vestry.services.auth.service import AuthService

TTL = 300


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Backend:
    """One cache backend as the tests see it: make caches, read/write raw entries."""

    def __init__(self, kind: str, redis_url: str = "", prefix: str = "") -> None:
        self.kind = kind
        self.prefix = prefix
        self.clients: list[redis.Redis] = []
        self._memory = MemoryCache()
        self.url = redis_url

    def cache(self) -> VerificationCache:
        if self.kind == "memory":
            return self._memory  # one process: every "replica" is the same cache
        client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.clients.append(client)
        return RedisCache(client, self.prefix, TTL)

    def raw_set(self, key: str, value: str) -> None:
        if self.kind == "memory":
            self._memory._entries[key] = (time.monotonic() + 60, value, "t", "u")
        else:
            self.clients[0].set(self.prefix + "ver:" + key, value, ex=60)

    def raw_get(self, key: str) -> str:
        if self.kind == "memory":
            return self._memory._entries[key][1]
        value = self.clients[0].get(self.prefix + "ver:" + key)
        assert isinstance(value, bytes)
        return value.decode()

    def remaining_ttl(self, key: str) -> float:
        if self.kind == "memory":
            return self._memory._entries[key][0] - time.monotonic()
        return float(self.clients[0].ttl(self.prefix + "ver:" + key))

    def close(self) -> None:
        for c in self.clients:
            c.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        b = Backend("memory")
    else:
        url: str = request.getfixturevalue("redis_url")
        b = Backend("redis", url, request.getfixturevalue("redis_prefix"))
    yield b
    b.close()


def _service(engine: Engine, cache: VerificationCache, clock: Clock) -> AuthService:
    return AuthService(engine, cache, cache_ttl=TTL, clock=clock)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    # Replicas share one database; PostgreSQL is what a scaled-out deployment runs.
    return postgres_url


def _user_token(svc: AuthService, name: str = "alice") -> str:
    svc.create_user(name)
    return svc.mint(requested=Scope(), for_user=name)[0]


def _count_db_reads(svc: AuthService) -> list[str]:
    calls: list[str] = []
    original = svc._verify_uncached

    def counting(token: str) -> Any:
        calls.append("db")
        return original(token)

    svc._verify_uncached = counting  # type: ignore[method-assign]
    return calls


def test_hits_skip_the_database(engine: Engine, backend: Backend, clock: Clock) -> None:
    svc = _service(engine, backend.cache(), clock)
    token = _user_token(svc)
    reads = _count_db_reads(svc)
    for _ in range(5):
        svc.verify(token, AccessContext("read", "foo"))
    assert reads == ["db"]
    # The per-request part is still evaluated on a hit.
    narrowed = tokens.attenuate(token, permissions=["read"])
    svc.verify(narrowed)
    with pytest.raises(PermissionDenied):
        svc.verify(narrowed, AccessContext("upload", "foo"))


@pytest.mark.parametrize(("expires_in", "bound"), [(None, TTL), (100, 100), (10**6, TTL)])
def test_ttl_never_outlives_the_setting_or_the_token(
    engine: Engine, backend: Backend, clock: Clock, expires_in: int | None, bound: int
) -> None:
    svc = _service(engine, backend.cache(), clock)
    token = _user_token(svc)
    if expires_in is not None:
        token = tokens.attenuate(token, expires_in=expires_in, now=clock.now)
    svc.verify(token)
    remaining = backend.remaining_ttl(_key(token))
    assert 0 < remaining <= bound
    assert remaining > bound - 5


def test_a_token_about_to_expire_is_not_cached(
    engine: Engine, backend: Backend, clock: Clock
) -> None:
    svc = _service(engine, backend.cache(), clock)
    token = tokens.attenuate(_user_token(svc), expires_in=1, now=clock.now)
    clock.now += 0.5  # half a second left: int(0.5) = 0 s of TTL
    reads = _count_db_reads(svc)
    svc.verify(token)
    svc.verify(token)
    assert reads == ["db", "db"]


def _entry(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": ENTRY_VERSION,
        "user_id": "u",
        "username": "mallory",
        "admin": True,
        "token_id": "t",
        "scope": Scope().to_json(),
    }
    base.update(changes)
    return base


DAMAGED = {
    "not json": "{{{{",
    "json list": "[1,2]",
    "old version": json.dumps(_entry(v=0)),
    "future version": json.dumps(_entry(v=ENTRY_VERSION + 1)),
    "no version": json.dumps({k: v for k, v in _entry().items() if k != "v"}),
    "admin as string": json.dumps(_entry(admin="yes")),
    "user id not a string": json.dumps(_entry(user_id=7)),
    "empty user id": json.dumps(_entry(user_id="")),
    "scope missing a field": json.dumps(_entry(scope={"permissions": None})),
    "scope mistyped": json.dumps(_entry(scope={**Scope().to_json(), "expires": "never"})),
    "extra field": json.dumps({**_entry(), "x": 1}),
    # Well-formed, but for another token: it must not be taken for this one.
    "another token's entry": json.dumps(_entry()),
}


@pytest.mark.parametrize("raw", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_or_foreign_entries_are_ignored(
    engine: Engine, backend: Backend, clock: Clock, raw: str
) -> None:
    svc = _service(engine, backend.cache(), clock)
    token = _user_token(svc)
    backend.raw_set(_key(token), raw)
    reads = _count_db_reads(svc)
    who = svc.verify(token)
    assert (who.username, who.admin) == ("alice", False)
    assert reads == ["db"]
    # ... and replaced by a good entry.
    fresh = json.loads(backend.raw_get(_key(token)))
    assert fresh["v"] == ENTRY_VERSION and fresh["username"] == "alice"


def test_invalidation_refuses_late_writes(backend: Backend) -> None:
    """The revoke race: a verification that read the DB before the revocation must not be
    able to cache its (now stale) result afterwards."""
    cache = backend.cache()
    entry = _entry(token_id="t1", user_id="u1")
    cache.invalidate_token("t1", 60)
    cache.put("k1", entry, 60, "t1", "u1")
    assert cache.get("k1") is None
    cache.invalidate_user("u2", 60)
    cache.put("k2", _entry(token_id="t2", user_id="u2"), 60, "t2", "u2")
    assert cache.get("k2") is None
    cache.release_user("u2")
    cache.put("k2", _entry(token_id="t2", user_id="u2"), 60, "t2", "u2")
    assert cache.get("k2") is not None


@pytest.fixture
def two_replicas(engine: Engine, backend: Backend) -> tuple[AuthService, AuthService]:
    # Two services, each with its own Redis connection, one database: two auth replicas.
    return (
        _service(engine, backend.cache(), Clock(NOW)),
        _service(engine, backend.cache(), Clock(NOW)),
    )


def test_revocation_on_one_replica_holds_on_the_other_at_once(
    two_replicas: tuple[AuthService, AuthService],
) -> None:
    a, b = two_replicas
    token = _user_token(a)
    child = tokens.attenuate(token, permissions=["read"])
    for svc in (a, b):
        svc.verify(token)
        svc.verify(child)
    a.revoke(token, child)  # by the child's identity: its root
    for svc in (b, a):
        for t in (token, child):
            with pytest.raises(Unauthenticated, match="revoked"):
                svc.verify(t)


def test_disabling_on_one_replica_holds_on_the_other_at_once(
    two_replicas: tuple[AuthService, AuthService],
) -> None:
    a, b = two_replicas
    token = _user_token(a)
    other = _user_token(a, "bob")
    for svc in (a, b):
        svc.verify(token)
        svc.verify(other)
    a.set_user_active("alice", False)
    for svc in (b, a):
        with pytest.raises(Unauthenticated, match="disabled"):
            svc.verify(token)
        assert svc.verify(other).username == "bob"  # others stay cached and valid
    b.set_user_active("alice", True)
    assert a.verify(token).username == "alice"


def _redis_cache(url: str) -> RedisCache:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisCache(client, "t:", TTL, retry_after=0)


def test_redis_down_falls_back_to_the_database_and_fails_closed(
    engine: Engine, throwaway_redis: ThrowawayRedis, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = _redis_cache(throwaway_redis.url)
    svc = _service(engine, cache, clock)
    token = _user_token(svc)
    svc.verify(token)  # cached in Redis
    throwaway_redis.stop()
    reads = _count_db_reads(svc)
    with caplog.at_level(logging.WARNING):
        assert svc.verify(token).username == "alice"
    assert reads == ["db"]
    assert "Redis unavailable" in caplog.text
    assert token not in caplog.text
    # Revoking or disabling cannot reach every replica's cache: refused, nothing changed.
    with pytest.raises(Unavailable):
        svc.revoke(token, token)
    with pytest.raises(Unavailable):
        svc.set_user_active("alice", False)
    assert svc.verify(token).username == "alice"
    assert svc.get_user(name="alice").active
    # Redis back (empty, as after a restart): everything works again, through the cache.
    throwaway_redis.start()
    svc.verify(token)
    svc.revoke(token, token)
    with pytest.raises(Unauthenticated):
        svc.verify(token)
    cache._r.close()


def test_an_unreachable_redis_from_the_start(
    engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.vestry_up import free_port

    cache = _redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    svc = _service(engine, cache, clock)
    token = _user_token(svc)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert svc.verify(token).username == "alice"
    assert caplog.text.count("Redis unavailable") == 1  # once, not once per request
    cache._r.close()

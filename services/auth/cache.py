"""Caches of token-verification results (the context-free part), keyed by sha256(token).

Two implementations with the same semantics: Redis, shared by every auth replica, and an
in-process one for `vestry up` without Redis. Invalidation is by token ID (revocation) and by
user ID (disabling), because attenuated tokens have their own hashes but share their root's ID.

Fail closed: a cache that cannot be read is a miss; a cache that cannot be *invalidated* makes
revocation fail (the caller retries) rather than leave a revoked token cached.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol

import redis

from vestry.common.errors import Unavailable

__all__ = ["ENTRY_VERSION", "MemoryCache", "RedisCache", "VerificationCache"]

log = logging.getLogger(__name__)
ENTRY_VERSION = 1


class VerificationCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, entry: dict[str, Any], ttl: int, token_id: str, user_id: str) -> None:
        """Store `entry` unless the token or user was invalidated meanwhile."""

    def invalidate_token(self, token_id: str, hold_seconds: int) -> None:
        """Drop every entry of `token_id` and refuse new ones for `hold_seconds`."""

    def invalidate_user(self, user_id: str, hold_seconds: int) -> None: ...

    def release_user(self, user_id: str) -> None:
        """Allow entries for `user_id` again (the user was re-enabled)."""


def _decode(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("v") != ENTRY_VERSION:
        return None
    return entry


class MemoryCache:
    """In-process cache: the single auth process of `vestry up`."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, str, str, str]] = {}
        self._held_tokens: dict[str, float] = {}
        self._held_users: dict[str, float] = {}
        self._max = max_entries

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                return None
            deadline, raw, _, _ = item
            if deadline <= time.monotonic():
                del self._entries[key]
                return None
        return _decode(raw)

    def put(self, key: str, entry: dict[str, Any], ttl: int, token_id: str, user_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            if self._held_tokens.get(token_id, 0) > now or self._held_users.get(user_id, 0) > now:
                return
            if len(self._entries) >= self._max:
                self._entries.clear()  # crude but bounded; a miss only costs a DB read
            self._entries[key] = (now + ttl, json.dumps(entry), token_id, user_id)

    def _prune_holds(self, now: float) -> None:
        # Holds outlive their entries; drop the lapsed ones so revocations do not pile up.
        for held in (self._held_tokens, self._held_users):
            for ident in [i for i, until in held.items() if until <= now]:
                del held[ident]

    def invalidate_token(self, token_id: str, hold_seconds: int) -> None:
        with self._lock:
            self._prune_holds(time.monotonic())
            self._held_tokens[token_id] = time.monotonic() + hold_seconds
            for key in [k for k, v in self._entries.items() if v[2] == token_id]:
                del self._entries[key]

    def invalidate_user(self, user_id: str, hold_seconds: int) -> None:
        with self._lock:
            self._prune_holds(time.monotonic())
            self._held_users[user_id] = time.monotonic() + hold_seconds
            for key in [k for k, v in self._entries.items() if v[3] == user_id]:
                del self._entries[key]

    def release_user(self, user_id: str) -> None:
        with self._lock:
            self._held_users.pop(user_id, None)


# Refuse the write if the token or user was invalidated since this verification read the
# database: closes the race between a slow verification and a revocation.
_PUT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[4], KEYS[1])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('SADD', KEYS[5], KEYS[1])
redis.call('EXPIRE', KEYS[5], ARGV[3])
return 1
"""

_INVALIDATE_SCRIPT = """
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
local keys = redis.call('SMEMBERS', KEYS[2])
for _, k in ipairs(keys) do redis.call('DEL', k) end
redis.call('DEL', KEYS[2])
return #keys
"""


class RedisCache:
    """Shared by every auth replica, so an invalidation holds for all of them at once."""

    def __init__(
        self, client: redis.Redis, prefix: str, max_ttl: int, retry_after: float = 2.0
    ) -> None:
        self._r = client
        self._p = prefix
        self._max_ttl = max_ttl
        self._put = client.register_script(_PUT_SCRIPT)
        self._invalidate = client.register_script(_INVALIDATE_SCRIPT)
        self._down_logged = 0.0
        # After a failure, reads and writes skip Redis for a moment: with Redis unreachable every
        # request would otherwise wait for the socket timeout. Invalidations always try.
        self._retry_after = retry_after
        self._skip_until = 0.0

    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    def _warn(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        self._skip_until = now + self._retry_after
        if now - self._down_logged > 10:  # once per 10 s, not once per request
            log.warning("Redis unavailable (%s): %s; verifying against the database", what, exc)
            self._down_logged = now

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def get(self, key: str) -> dict[str, Any] | None:
        if self._skipping():
            return None
        try:
            raw = self._r.get(self._k("ver", key))
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return _decode(raw)

    def put(self, key: str, entry: dict[str, Any], ttl: int, token_id: str, user_id: str) -> None:
        if self._skipping():
            return
        try:
            self._put(
                keys=[
                    self._k("ver", key),
                    self._k("held-token", token_id),
                    self._k("held-user", user_id),
                    self._k("token-keys", token_id),
                    self._k("user-keys", user_id),
                ],
                args=[json.dumps(entry), ttl, self._max_ttl + 60],
            )
        except redis.RedisError as exc:
            self._warn("write", exc)

    def _drop(self, kind: str, ident: str, hold_seconds: int) -> None:
        try:
            self._invalidate(
                keys=[self._k(f"held-{kind}", ident), self._k(f"{kind}-keys", ident)],
                args=[max(hold_seconds, 1)],
            )
        except redis.RedisError as exc:
            raise Unavailable(
                "the token cache is unreachable, so the change cannot take effect everywhere "
                "at once; nothing was changed, try again shortly"
            ) from exc

    def invalidate_token(self, token_id: str, hold_seconds: int) -> None:
        self._drop("token", token_id, hold_seconds)

    def invalidate_user(self, user_id: str, hold_seconds: int) -> None:
        self._drop("user", user_id, hold_seconds)

    def release_user(self, user_id: str) -> None:
        try:
            self._r.delete(self._k("held-user", user_id))
        except redis.RedisError as exc:
            raise Unavailable("the token cache is unreachable; try again shortly") from exc

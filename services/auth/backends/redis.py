"""The Redis verification cache, shared by every auth replica."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from vestry.common.errors import Unavailable
from vestry.services.auth.cache import decode_entry

__all__ = ["RedisCache"]

log = logging.getLogger(__name__)


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

    @classmethod
    def from_url(cls, url: str, prefix: str, max_ttl: int) -> RedisCache:
        """A cache on the Redis at `url`, with short timeouts: a slow Redis is a down one."""
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, prefix, max_ttl)

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
        return decode_entry(raw)

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

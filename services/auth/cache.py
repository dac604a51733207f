"""Caches of token-verification results (the context-free part), keyed by sha256(token).

This is the port, `VerificationCache`; `backends/` holds its two implementations, of the same
semantics: Redis (`backends/redis.py`), shared by every auth replica, and an in-process one
(`backends/memory.py`) for `vestry up` without Redis. Invalidation is by token ID (revocation)
and by user ID (disabling), because attenuated tokens have their own hashes but share their
root's ID.

Fail closed: a cache that cannot be read is a miss; a cache that cannot be *invalidated* makes
revocation fail (the caller retries) rather than leave a revoked token cached.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

__all__ = ["ENTRY_VERSION", "VerificationCache", "decode_entry"]

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


def decode_entry(raw: bytes | str | None) -> dict[str, Any] | None:
    """A stored entry, or None for anything unreadable or of another version (a miss)."""
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("v") != ENTRY_VERSION:
        return None
    return entry

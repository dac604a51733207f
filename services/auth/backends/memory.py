"""The in-process verification cache: the single auth process of `vestry up`, without Redis."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from vestry.services.auth.cache import decode_entry

__all__ = ["MemoryCache"]


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
        return decode_entry(raw)

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
        self._invalidate(self._held_tokens, 2, token_id, hold_seconds)

    def invalidate_user(self, user_id: str, hold_seconds: int) -> None:
        self._invalidate(self._held_users, 3, user_id, hold_seconds)

    def _invalidate(
        self, held: dict[str, float], column: int, ident: str, hold_seconds: int
    ) -> None:
        """Hold `ident` (a token's or a user's id, at `column` of an entry) off for
        `hold_seconds`, and drop every entry of it."""
        with self._lock:
            self._prune_holds(time.monotonic())
            held[ident] = time.monotonic() + hold_seconds
            for key in [k for k, v in self._entries.items() if v[column] == ident]:
                del self._entries[key]

    def release_user(self, user_id: str) -> None:
        with self._lock:
            self._held_users.pop(user_id, None)

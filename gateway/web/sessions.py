"""Web sign-in sessions: a signed random ID in a cookie, everything else on the server.

Signing in with an API token creates a session that holds, on the server only, that token sealed
(XSalsa20-Poly1305) under a key derived from the session ID and the gateway's secret. The cookie
holds nothing but the random session ID and its HMAC: stolen, it works as a token nowhere (the
simple API refuses it), and it is refused once the session is gone. A copy of the session store
alone opens nothing either: the key needs the ID, which only the browser has (Redis keys are
its SHA-256).

The session acts with the very token that signed in, not a narrower copy, so tokens made on the
token page are as wide as that token allows and expire when asked, not with the session. So
revoking that token, or disabling its user, ends the session at once (every page verifies it);
signing out deletes the session, and with it the only sealed copy.

Sessions live in this process by default, in Redis (VESTRY_GATEWAY_SESSION_REDIS_URL) when
several gateway replicas serve the UI, or in a SQLite file (VESTRY_GATEWAY_SESSION_FILE) when
several gateway processes of one machine do, as under `vestry up --workers`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Protocol

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

__all__ = [
    "SESSION_COOKIE",
    "MemorySessionStore",
    "RedisSessionStore",
    "Session",
    "SessionStore",
    "Signer",
    "SqliteSessionStore",
    "new_session_id",
    "session_store",
]

SESSION_COOKIE = "vestry_session"


@dataclass(frozen=True)
class Session:
    sealed_token: str  # see Signer.seal; never sent to the browser
    username: str
    csrf: str  # this session's anti-forgery token, put in every form
    expires: float  # unix time

    def alive(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


class Signer:
    """HMAC-SHA256 signatures of short strings, one key per purpose."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"vestry web ui v1", hashlib.sha256).digest()

    def mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, purpose: str, value: str) -> str:
        return f"{value}.{self.mac(purpose, value)}"

    def _box(self, sid: str) -> SecretBox:
        return SecretBox(hmac.new(self._key, f"seal\0{sid}".encode(), hashlib.sha256).digest())

    def seal(self, sid: str, token: str) -> str:
        """`token` encrypted and authenticated under a key only `sid` and this secret give."""
        return base64.urlsafe_b64encode(bytes(self._box(sid).encrypt(token.encode()))).decode()

    def open(self, sid: str, sealed: str) -> str | None:
        try:
            return self._box(sid).decrypt(base64.urlsafe_b64decode(sealed)).decode()
        except (CryptoError, ValueError):
            return None

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The value, when `signed` carries a valid signature for `purpose`; None otherwise."""
        if not signed:
            return None
        value, dot, mac = signed.rpartition(".")
        if not dot or not value or not hmac.compare_digest(mac, self.mac(purpose, value)):
            return None
        return value


class SessionStore(Protocol):
    async def get(self, sid: str) -> Session | None: ...
    async def put(self, sid: str, session: Session) -> None: ...
    async def delete(self, sid: str) -> None: ...
    async def close(self) -> None: ...


class MemorySessionStore:
    """Sessions in this process: lost on restart (everyone signs in again), bounded in size."""

    def __init__(self, max_sessions: int = 100_000) -> None:
        self._max = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    async def get(self, sid: str) -> Session | None:
        session = self._sessions.get(sid)
        if session is not None and not session.alive():
            del self._sessions[sid]
            return None
        return session

    async def put(self, sid: str, session: Session) -> None:
        self._sessions[sid] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)  # the oldest session signs in again

    async def delete(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    async def close(self) -> None:
        self._sessions.clear()


class RedisSessionStore:
    """Sessions in Redis, shared by every gateway replica, each expiring with its session.

    Keys are the SHA-256 of the session ID, so a look at Redis does not give cookies away."""

    def __init__(self, url: str, prefix: str = "vestry:web-session:") -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url)
        self._prefix = prefix

    def _key(self, sid: str) -> str:
        return self._prefix + _stored_key(sid)

    async def get(self, sid: str) -> Session | None:
        raw = await self._redis.get(self._key(sid))
        if raw is None:
            return None
        session = Session(**json.loads(raw))
        return session if session.alive() else None

    async def put(self, sid: str, session: Session) -> None:
        ttl = max(int(session.expires - time.time()), 1)
        await self._redis.set(self._key(sid), json.dumps(asdict(session)), ex=ttl)

    async def delete(self, sid: str) -> None:
        await self._redis.delete(self._key(sid))

    async def close(self) -> None:
        await self._redis.aclose()


def _stored_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SqliteSessionStore:
    """Sessions in a SQLite file, shared by the gateway processes of one machine; they outlive
    a restart. Keys are the SHA-256 of the session ID, as in Redis. Expired rows go when read
    and, in a sweep, whenever a session is stored."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private before a row is in it
        os.close(fd)
        # One connection, used from worker threads one call at a time (the lock).
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS sessions"
                " (key TEXT PRIMARY KEY, session TEXT NOT NULL, expires REAL NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires)")

    def _run(self, sql: str, *params: object) -> list[tuple[str]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    async def get(self, sid: str) -> Session | None:
        rows = await asyncio.to_thread(
            self._run, "SELECT session FROM sessions WHERE key = ?", _stored_key(sid)
        )
        if not rows:
            return None
        session = Session(**json.loads(rows[0][0]))
        if not session.alive():
            await self.delete(sid)
            return None
        return session

    async def put(self, sid: str, session: Session) -> None:
        def put() -> None:
            self._run("DELETE FROM sessions WHERE expires <= ?", time.time())
            self._run(
                "INSERT OR REPLACE INTO sessions (key, session, expires) VALUES (?, ?, ?)",
                _stored_key(sid),
                json.dumps(asdict(session)),
                session.expires,
            )

        await asyncio.to_thread(put)

    async def delete(self, sid: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM sessions WHERE key = ?", _stored_key(sid))

    async def close(self) -> None:
        with self._lock:
            self._db.close()


def session_store(redis_url: str, file: str = "") -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url)
    return SqliteSessionStore(file) if file else MemorySessionStore()

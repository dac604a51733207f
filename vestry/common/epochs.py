"""Change epochs: two counters that move whenever auth's or the index's state may have changed.

A process that caches an answer of a service (the gateway: a verified token, an access decision)
tags it with that service's epoch as read *before* the call that produced it, and trusts it only
while the epoch is still the same. Writers move the epoch after their change is committed and
before their call replies, so a change is visible to every reader by the time the call that made
it returns: whatever a reader reads after that is a new epoch, and every entry filled before it
carries an older one.

Two stores, one promise:

- `FileEpochs`: a small file mapped into memory by every process of one machine (`vestry up`).
  A read is two memory loads, no system call; a bump takes an `fcntl.flock` and stores the new
  value. Each counter is one naturally aligned native 8-byte word, read and written with one
  load/store (`struct` native formats copy with `memcpy`, which compiles to a single move on
  the 64-bit platforms Vestry runs on), so a reader never sees half a value.
- `RedisEpochs`: for clusters. Writers `INCR`, readers `MGET` both counters once per request.

Readers fail closed: a store that cannot be read (Redis down, a key missing after a flush)
reads as `None`, "unknown", and the reader must then bypass every cache for that request. A bump
that fails raises `EpochError`; the writing call must then fail (`UNAVAILABLE`) instead of
replying as if its change were visible everywhere, and the caller may repeat it (a repeat bumps
again, whether or not the change itself is repeated). The counters start at a random value when
created, so a store that is wiped and created again (a Redis flush, a deleted file) never
reproduces a value an older entry was tagged with.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis

__all__ = [
    "AUTH",
    "INDEX",
    "EpochError",
    "Epochs",
    "FileEpochs",
    "RedisEpochs",
    "Snapshot",
    "bump_file_epochs",
    "open_epochs",
]

log = logging.getLogger(__name__)

Counter = Literal["auth", "index"]
AUTH: Counter = "auth"
INDEX: Counter = "index"
_SLOT = {AUTH: 0, INDEX: 1}
_WORDS = struct.Struct("@QQ")  # native: one aligned memcpy per word (see the module docstring)
_FILE_SIZE = 4096
# Below 2**53 so that a counter survives any JSON or float round trip; far from wrapping.
_START_BITS = 52


def _random_start() -> int:
    return secrets.randbits(_START_BITS) + 1


@dataclass(frozen=True)
class Snapshot:
    """Both counters as read at one moment."""

    auth: int
    index: int


class EpochError(Exception):
    """A bump could not be recorded: readers may still trust entries the change made stale."""


class Epochs(Protocol):
    async def read(self) -> Snapshot | None:
        """Both counters now; None when they cannot be known (then trust no cached entry)."""

    def bump(self, counter: Counter) -> None:
        """Move `counter` on; raises EpochError when that cannot be recorded."""

    async def close(self) -> None: ...


class FileEpochs:
    """The counters in a memory-mapped file shared by the processes of one machine."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if os.fstat(self._fd).st_size < _FILE_SIZE:  # the first to open it: fill it in
                    os.ftruncate(self._fd, _FILE_SIZE)
                    os.pwrite(self._fd, _WORDS.pack(_random_start(), _random_start()), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(self._fd, _FILE_SIZE)
        except BaseException:
            os.close(self._fd)
            raise

    def snapshot(self) -> Snapshot:
        auth, index = _WORDS.unpack_from(self._map, 0)
        return Snapshot(auth, index)

    async def read(self) -> Snapshot | None:
        return self.snapshot()

    def bump(self, counter: Counter) -> None:
        offset = 8 * _SLOT[counter]
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                (value,) = struct.unpack_from("@Q", self._map, offset)
                struct.pack_into("@Q", self._map, offset, value + 1)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except (OSError, ValueError) as exc:  # ValueError: the map was closed
            raise EpochError(f"could not bump the {counter} epoch: {exc}") from exc

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)


def bump_file_epochs(path: Path, *counters: Counter) -> None:
    """Move `counters` in the file at `path`, as a service's call would: for a writer that is
    not a service (a CLI command writing the data directory directly, a test)."""
    epochs = FileEpochs(path)
    try:
        for counter in counters:
            epochs.bump(counter)
    finally:
        epochs.close_sync()


class RedisEpochs:
    """The counters in Redis, shared by every replica of a cluster.

    Writers use a blocking client (they bump from a worker thread), readers an asyncio one;
    each is made on first use, so a process only opens the connections it needs.
    """

    _BUMP = (
        # INCR of a missing key would restart at 1, a value an old entry may carry: start anew
        # at a random value instead, as the first writer to find the key absent.
        "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end "
        "return redis.call('INCR', KEYS[1])"
    )

    def __init__(self, url: str, prefix: str = "vestry:", timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._keys = [f"{prefix}epoch:{AUTH}", f"{prefix}epoch:{INDEX}"]
        self._sync: redis.Redis | None = None
        self._async: aioredis.Redis | None = None

    def _writer(self) -> redis.Redis:
        if self._sync is None:
            self._sync = redis.Redis.from_url(
                self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
        return self._sync

    def _reader(self) -> aioredis.Redis:
        if self._async is None:
            self._async = aioredis.Redis.from_url(
                self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
        return self._async

    async def read(self) -> Snapshot | None:
        try:
            values = await self._reader().mget(self._keys)
        except (redis.RedisError, OSError) as exc:
            log.warning("cannot read the change epochs (%s): caches bypassed", exc)
            return None
        if values[0] is None or values[1] is None:
            # Never bumped, or wiped: nothing cached may be trusted now. Start the missing
            # counter at a random value (as a writer would), so later requests can cache again.
            for key, value in zip(self._keys, values, strict=True):
                if value is None:
                    await self._start(key)
            return None
        return Snapshot(int(values[0]), int(values[1]))

    async def _start(self, key: str) -> None:
        try:
            await self._reader().set(key, _random_start(), nx=True)
        except (redis.RedisError, OSError) as exc:
            log.warning("cannot start the change epoch %s (%s)", key, exc)

    def bump(self, counter: Counter) -> None:
        key = self._keys[_SLOT[counter]]
        try:
            self._writer().eval(self._BUMP, 1, key, _random_start())
        except (redis.RedisError, OSError) as exc:
            raise EpochError(f"could not bump the {counter} epoch in Redis: {exc}") from exc

    async def close(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        self.close_sync()

    def close_sync(self) -> None:
        if self._sync is not None:
            self._sync.close()


def open_epochs(url: str, prefix: str = "vestry:") -> FileEpochs | RedisEpochs | None:
    """The store `url` names: `file:///abs/path`, `redis://…`/`rediss://…`, or "" for none.

    Raises ValueError for anything else, so that a typo fails at start, not silently uncached.
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"VESTRY_INVALIDATION_URL must be file:///absolute/path, not {url!r}")
        return FileEpochs(Path(unquote(parts.path)))
    if parts.scheme in ("redis", "rediss", "unix"):
        return RedisEpochs(url, prefix)
    raise ValueError(f"VESTRY_INVALIDATION_URL must be file:///… or redis://…, not {url!r}")

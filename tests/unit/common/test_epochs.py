"""Change epochs: both stores move on a bump, are shared by their users, and read as unknown
(None) when they cannot be trusted."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from vestry.common.epochs import (
    AUTH,
    INDEX,
    EpochError,
    FileEpochs,
    RedisEpochs,
    Snapshot,
    open_epochs,
)


def _bump_in_child(path: str, counter: str, times: int) -> None:
    epochs = FileEpochs(Path(path))
    for _ in range(times):
        epochs.bump(counter)  # type: ignore[arg-type]
    epochs.close_sync()


def _read(epochs: FileEpochs | RedisEpochs) -> Snapshot | None:
    return asyncio.run(epochs.read())


def test_file_epochs_are_shared_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "run" / "epochs"
    reader = FileEpochs(path)
    try:
        before = reader.snapshot()
        ctx = multiprocessing.get_context("spawn")
        children = [
            ctx.Process(target=_bump_in_child, args=(str(path), INDEX, 50)) for _ in range(2)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(60)
            assert child.exitcode == 0
        after = reader.snapshot()
        # Seen through this process's own map, without reopening: bumps under the lock are
        # never lost, and the other counter did not move.
        assert after.index == before.index + 100
        assert after.auth == before.auth
        assert _read(reader) == after
    finally:
        reader.close_sync()


def test_file_epochs_start_at_random_values(tmp_path: Path) -> None:
    first = FileEpochs(tmp_path / "a")
    second = FileEpochs(tmp_path / "b")
    try:
        # A file wiped and made again never repeats the values entries were tagged with.
        assert first.snapshot() != second.snapshot()
        assert first.snapshot().auth > 0
    finally:
        first.close_sync()
        second.close_sync()


def test_file_epochs_bump_after_close_is_an_error(tmp_path: Path) -> None:
    epochs = FileEpochs(tmp_path / "e")
    epochs.close_sync()
    with pytest.raises(EpochError):
        epochs.bump(AUTH)


def test_open_epochs_by_url(tmp_path: Path) -> None:
    assert open_epochs("") is None
    path = tmp_path / "with space" / "epochs"
    made = open_epochs(path.as_uri())
    assert isinstance(made, FileEpochs)
    made.close_sync()
    assert path.exists()
    assert isinstance(open_epochs("redis://127.0.0.1:6379/0"), RedisEpochs)
    for bad in ("file://host/x", "file:relative", "memcached://x", "/abs/path"):
        with pytest.raises(ValueError, match="VESTRY_INVALIDATION_URL"):
            open_epochs(bad)


@pytest.mark.redis
def test_redis_epochs(redis_url: str, redis_prefix: str) -> None:
    writer = RedisEpochs(redis_url, redis_prefix)
    reader = RedisEpochs(redis_url, redis_prefix)

    async def scenario() -> None:
        # Never bumped: unknown, and the read starts both counters for the next one.
        assert await reader.read() is None
        first = await reader.read()
        assert first is not None
        await asyncio.to_thread(writer.bump, AUTH)
        second = await reader.read()
        assert second == Snapshot(first.auth + 1, first.index)
        await asyncio.to_thread(writer.bump, INDEX)
        assert await reader.read() == Snapshot(first.auth + 1, first.index + 1)
        await reader.close()

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(writer.close())


@pytest.mark.redis
def test_redis_epochs_wiped_key_restarts_at_random(redis_url: str, redis_prefix: str) -> None:
    import redis

    epochs = RedisEpochs(redis_url, redis_prefix)
    try:
        epochs.bump(INDEX)  # a bump of a missing key starts it at random, then counts
        client = redis.Redis.from_url(redis_url)
        started = int(client.get(f"{redis_prefix}epoch:index") or 0)
        assert started > 1
        client.delete(f"{redis_prefix}epoch:index")  # a flush
        epochs.bump(INDEX)
        again = int(client.get(f"{redis_prefix}epoch:index") or 0)
        assert again not in (started, started + 1, 1)
        client.close()
    finally:
        asyncio.run(epochs.close())


def test_redis_epochs_unreachable() -> None:
    # Port 1 on loopback: refused at once. Reads are unknown; a bump raises, never passes.
    epochs = RedisEpochs("redis://127.0.0.1:1/0", "x:", timeout=0.5)
    try:
        assert _read(epochs) is None
        with pytest.raises(EpochError):
            epochs.bump(AUTH)
    finally:
        asyncio.run(epochs.close())

"""Download counts, kept off the download path: counted in memory, sent to the index in batches.

A download adds one to a dict entry (no I/O, no lock: the event loop is single-threaded). A
background task sends the counts every few seconds and at shutdown. Should the index be
unreachable, the batch is kept and added to the next one: counts are delayed, never lost while
the gateway runs, and never slow a download.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

import grpc
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import Backends

__all__ = ["DownloadCounter"]

log = logging.getLogger(__name__)
# Beyond this many distinct files pending, a flush is due even before its time.
_MAX_PENDING = 10_000


class DownloadCounter:
    def __init__(self, flush_seconds: float = 5.0) -> None:
        self._pending: Counter[tuple[str, str]] = Counter()
        self._interval = flush_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def add(self, project: str, filename: str) -> None:
        self._pending[(project, filename)] += 1
        if len(self._pending) >= _MAX_PENDING:
            self._wake.set()

    def pending(self) -> int:
        return sum(self._pending.values())

    async def flush(self, backends: Backends) -> int:
        """Send what was counted; returns the number of downloads sent (0 on failure)."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, Counter()
        request = index_pb2.RecordDownloadsRequest(
            counts=[
                index_pb2.DownloadCount(project_name=p, filename=f, count=n)
                for (p, f), n in batch.items()
            ]
        )
        try:
            await backends.index.RecordDownloads(request, timeout=backends.timeout)
        except grpc.aio.AioRpcError as exc:
            log.warning("download counts not sent (kept for the next try): %s", exc.code())
            self._pending.update(batch)
            return 0
        return sum(batch.values())

    def start(self, backends: Backends) -> None:
        async def loop() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
                self._wake.clear()
                await self.flush(backends)

        self._task = asyncio.create_task(loop(), name="download-counts")

    async def stop(self, backends: Backends) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush(backends)

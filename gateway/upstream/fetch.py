"""Talking to upstream indexes: pages (cached with a TTL, stale-if-error, 404s remembered, the
last copy kept in storage for restarts), and files fetched once however many ask (single
flight), streamed to every asker while they are written to storage, verified by sha256."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import httpx
from vestry.index.v1 import index_pb2
from vestry.storage.v1 import storage_pb2

from vestry.common.upstream_settings import UpstreamSettings
from vestry.gateway.backends import Backends
from vestry.gateway.blobs import CHUNK_SIZE, put_bytes, read_blob
from vestry.gateway.errors import UPSTREAM_FAILED, UPSTREAM_TIMEOUT, HTTPError
from vestry.gateway.upstream.page import UpstreamPage, parse_html, parse_json

__all__ = ["Flight", "UpstreamError", "UpstreamFetcher"]

log = logging.getLogger(__name__)

_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 16 * 1024 * 1024
_MAX_PAGES = 20_000
_STAMPS = itertools.count(1)


class UpstreamError(HTTPError):
    """The upstream failed us: UPSTREAM_FAILED (refused, broken, mismatched) or
    UPSTREAM_TIMEOUT (too slow); answered by the gateway's one error handler."""


def _failure(exc: httpx.HTTPError, what: str) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(UPSTREAM_TIMEOUT, f"the upstream did not answer in time for {what}")
    return UpstreamError(UPSTREAM_FAILED, f"the upstream could not be reached for {what}")


@dataclass
class _Entry:
    page: UpstreamPage | None  # None: the upstream said 404
    until: float  # time.monotonic() until which it is served without asking the upstream
    stale: bool = False  # the upstream failed: an older copy, until the next try


class Flight:
    """One file being fetched. Readers see the bytes as they arrive, except the newest chunk,
    which is released only once the whole file's sha256 is verified: a mismatching file never
    completes at any reader."""

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.size = size  # from the upstream page; 0 when unknown
        self.released = 0
        self.done = False
        self.error: UpstreamError | None = None
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def release(self, upto: int) -> None:
        if upto > self.released:
            self.released = upto
            self._notify()

    def finish(self, error: UpstreamError | None = None) -> None:
        if self.done:
            return
        self.done, self.error = True, error
        self._notify()

    async def first(self) -> None:
        """Wait until there is something to say: a first byte, the end, or a failure."""
        while not self.released and not self.done:
            await self._changed.wait()

    async def read(self, fd: int) -> AsyncIterator[bytes]:
        pos = 0
        try:
            while True:
                if pos < self.released:
                    data = os.pread(fd, min(CHUNK_SIZE, self.released - pos), pos)
                    pos += len(data)
                    yield data
                    continue
                if self.error is not None:
                    # Cut the stream: the client must not take a partial file for a whole one.
                    raise self.error
                if self.done:
                    return
                await self._changed.wait()
        finally:
            os.close(fd)


@dataclass
class UpstreamFetcher:
    settings: UpstreamSettings
    _client: httpx.AsyncClient | None = None
    _pages: OrderedDict[tuple[str, str], _Entry] = field(default_factory=OrderedDict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    _flights: dict[str, Flight] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _kept: set[str] = field(default_factory=set)  # page blobs this process wrote
    requests: int = 0  # requests sent upstream, for the benchmark and tests

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            t = self.settings.timeout
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(t, connect=t),
                follow_redirects=True,
                headers={"User-Agent": "vestry-proxy"},
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
        return self._client

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()

    # ---- pages -----------------------------------------------------------------------------

    async def _fetch_page(self, upstream_url: str, name: str) -> UpstreamPage | None:
        url = f"{upstream_url}{name}/"
        self.requests += 1
        try:
            # Bounded as a whole, not only per read: a server trickling bytes cannot hang us.
            async with asyncio.timeout(self.settings.timeout * 3):
                async with self.client.stream("GET", url, headers={"Accept": _ACCEPT}) as r:
                    if r.status_code in (404, 410):
                        return None
                    if r.status_code != 200:
                        raise UpstreamError(
                            UPSTREAM_FAILED, f"the upstream answered {r.status_code} for {name!r}"
                        )
                    body = bytearray()
                    async for chunk in r.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_PAGE_BYTES:
                            raise UpstreamError(
                                UPSTREAM_FAILED, f"the upstream's page of {name!r} is too big"
                            )
                    ctype = r.headers.get("content-type", "")
                    final = str(r.url)
        except TimeoutError as exc:
            raise UpstreamError(
                UPSTREAM_TIMEOUT, f"the upstream did not answer in time for {name!r}"
            ) from exc
        except httpx.HTTPError as exc:
            raise _failure(exc, repr(name)) from exc
        try:
            if "json" in ctype:
                return parse_json(bytes(body), final, name)
            return parse_html(bytes(body), final, name)
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(
                UPSTREAM_FAILED, f"the upstream's page of {name!r} is malformed"
            ) from exc

    async def page(
        self,
        backends: Backends,
        caller: index_pb2.Caller,
        decision: index_pb2.UpstreamDecision,
        name: str,
    ) -> tuple[UpstreamPage | None, bool]:
        """The upstream's page of `name` (None: it has none) and whether it is stale (the
        upstream failed and an older copy is served). Raises UpstreamError with nothing to
        serve."""
        key = (decision.upstream_url, name)
        entry = self._fresh(key)
        if entry is not None:
            return entry.page, entry.stale
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry.page, entry.stale
            old = self._pages.get(key)
            now = time.monotonic()
            # After a failure the stale copy is served without asking again for a while (the
            # TTL, at most 30 s): a hanging upstream must not cost every request its timeout.
            retry = now + min(self.settings.page_ttl, 30.0)
            try:
                page = await self._fetch_page(decision.upstream_url, name)
            except UpstreamError:
                stale = old.page if old is not None else None
                if stale is None:
                    stale = await self._kept_page(backends, decision)
                    if stale is None:
                        raise
                    stale.stamp = next(_STAMPS)
                self._pages[key] = _Entry(stale, retry, stale=True)
                return stale, True
            finally:
                self._locks.pop(key, None)
            if page is not None:
                page.stamp = next(_STAMPS)
            ttl = self.settings.page_ttl if page is not None else self.settings.negative_ttl
            self._pages[key] = _Entry(page, time.monotonic() + ttl)
            self._pages.move_to_end(key)
            while len(self._pages) > _MAX_PAGES:
                self._pages.popitem(last=False)
            if page is not None:
                # Kept in the background: the asker need not wait for an fsync or two.
                task = asyncio.create_task(self._keep_page(backends, caller, decision, name, page))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return page, False

    def _fresh(self, key: tuple[str, str]) -> _Entry | None:
        entry = self._pages.get(key)
        return entry if entry is not None and time.monotonic() < entry.until else None

    async def _keep_page(
        self,
        backends: Backends,
        caller: index_pb2.Caller,
        decision: index_pb2.UpstreamDecision,
        name: str,
        page: UpstreamPage,
    ) -> None:
        """Keep the page in storage (once per distinct content) so that it survives a restart
        of an offline gateway. A failure only costs that resilience."""
        data = page.dumps()
        digest = hashlib.sha256(data).hexdigest()
        # Written once per process even if the index knows it: it may have been pruned since.
        if digest == decision.page_blob_key and digest in self._kept:
            return
        try:
            info = await put_bytes(backends, data, digest)
            await backends.index.RecordUpstreamPage(
                index_pb2.RecordUpstreamPageRequest(
                    caller=caller,
                    project_name=name,
                    upstream_url=decision.upstream_url,
                    blob_key=info.key,
                ),
                timeout=backends.timeout,
            )
            self._kept.add(digest)
        except grpc.aio.AioRpcError as exc:
            log.warning("could not keep the upstream page of %s: %s", name, exc.code())

    @staticmethod
    async def _kept_page(
        backends: Backends, decision: index_pb2.UpstreamDecision
    ) -> UpstreamPage | None:
        if not decision.page_blob_key:
            return None
        try:
            data = b"".join([c async for c in read_blob(backends, decision.page_blob_key)])
            return UpstreamPage.loads(data)
        except (grpc.aio.AioRpcError, ValueError, KeyError) as exc:
            log.warning("the kept upstream page %s is unusable: %s", decision.page_blob_key, exc)
            return None

    # ---- files -----------------------------------------------------------------------------

    async def fetch_small(self, url: str, sha256: str, what: str) -> bytes:
        """A small upstream file (PEP 658 metadata), whole, verified."""
        self.requests += 1
        try:
            async with asyncio.timeout(self.settings.timeout * 3):
                r = await self.client.get(url)
        except TimeoutError as exc:
            raise UpstreamError(
                UPSTREAM_TIMEOUT, f"the upstream did not answer in time for {what}"
            ) from exc
        except httpx.HTTPError as exc:
            raise _failure(exc, what) from exc
        if r.status_code != 200:
            raise UpstreamError(
                UPSTREAM_FAILED, f"the upstream answered {r.status_code} for {what}"
            )
        if len(r.content) > MAX_METADATA_BYTES:
            raise UpstreamError(UPSTREAM_FAILED, f"the upstream's {what} is too big")
        if hashlib.sha256(r.content).hexdigest() != sha256:
            raise UpstreamError(
                UPSTREAM_FAILED,
                f"sha256 mismatch: the upstream's {what} is not what its "
                "page announces; it was not stored",
            )
        return r.content

    def join(
        self,
        filename: str,
        url: str,
        sha256: str,
        size: int,
        store: Callable[[storage_pb2.BlobInfo], Awaitable[None]],
        backends: Backends,
    ) -> tuple[Flight, int]:
        """The flight fetching `filename` (started now if none is), and a file descriptor on
        its bytes for this reader. Synchronous on purpose: no other task runs between finding
        the flight and opening its file, so the file cannot be removed in between."""
        flight = self._flights.get(filename)
        if flight is None:
            fd, path = tempfile.mkstemp(prefix="vestry-upstream-")
            os.close(fd)
            flight = Flight(path, size)
            self._flights[filename] = flight
            task = asyncio.create_task(self._run(flight, filename, url, sha256, store, backends))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return flight, os.open(flight.path, os.O_RDONLY)

    async def _run(
        self,
        flight: Flight,
        filename: str,
        url: str,
        sha256: str,
        store: Callable[[storage_pb2.BlobInfo], Awaitable[None]],
        backends: Backends,
    ) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def to_storage() -> AsyncIterator[storage_pb2.PutBlobRequest]:
            yield storage_pb2.PutBlobRequest(
                header=storage_pb2.PutBlobHeader(expected_sha256=sha256, expected_size=flight.size)
            )
            while (chunk := await queue.get()) is not None:
                yield storage_pb2.PutBlobRequest(chunk=chunk)

        async def put_blob() -> storage_pb2.BlobInfo:
            info: storage_pb2.BlobInfo = await backends.storage.PutBlob(
                to_storage(), timeout=max(backends.timeout, 3600)
            )
            return info

        put: asyncio.Task[storage_pb2.BlobInfo] = asyncio.create_task(put_blob())
        self.requests += 1
        try:
            hasher = hashlib.sha256()
            written = 0
            try:
                async with self.client.stream("GET", url) as r:
                    if r.status_code != 200:
                        raise UpstreamError(
                            UPSTREAM_FAILED, f"the upstream answered {r.status_code} for {filename}"
                        )
                    out = os.open(flight.path, os.O_WRONLY)
                    try:
                        async for chunk in r.aiter_bytes(CHUNK_SIZE):
                            hasher.update(chunk)
                            os.pwrite(out, chunk, written)
                            flight.release(written)  # all but this newest chunk
                            written += len(chunk)
                            if not put.done():  # storage refused (too big?): stream only
                                queue.put_nowait(chunk)
                    finally:
                        os.close(out)
            except httpx.HTTPError as exc:
                raise _failure(exc, filename) from exc
            if hasher.hexdigest() != sha256:
                log.warning("sha256 mismatch for upstream file %s from %s", filename, url)
                raise UpstreamError(
                    UPSTREAM_FAILED,
                    f"sha256 mismatch: the upstream's {filename} is not what its page "
                    "announces; it was not stored",
                )
            flight.release(written)
            flight.finish()
            queue.put_nowait(None)
            try:
                await store(await put)
            except grpc.aio.AioRpcError as exc:
                # The readers have their verified file; only the cache is missed this time.
                log.warning("could not keep upstream file %s: %s", filename, exc.code())
        except UpstreamError as exc:
            flight.finish(exc)
        except Exception:
            log.exception("fetching upstream file %s failed", filename)
            flight.finish(
                UpstreamError(UPSTREAM_FAILED, f"fetching {filename} from the upstream failed")
            )
        finally:
            if not put.done():
                put.cancel()  # a refused file never reaches storage
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, Exception):
                await put
            self._flights.pop(filename, None)
            with contextlib.suppress(OSError):
                os.unlink(flight.path)

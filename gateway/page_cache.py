"""Rendered simple pages, kept while their project's serial is unchanged.

Rendering a 30,000-file page takes most of a second and its gRPC message is tens of MB; the page
only changes when the project's serial moves. Every request still asks the index (which checks
access for this caller) but names the serial it holds, and gets back only the project header
when that is still current. The body is the same for every caller allowed to read the project.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from vestry.gateway.telemetry import PAGE_CACHE

__all__ = ["CachedPage", "PageCache", "body_etag"]


def body_etag(body: bytes, content_type: str) -> str:
    return '"' + hashlib.blake2b(body + content_type.encode(), digest_size=16).hexdigest() + '"'


@dataclass
class CachedPage:
    project_id: str
    serial: int
    # The serial the page shows, where it differs from the one it is held under (a listing is
    # held under the global serial but shows only what its caller can see).
    shown: int = 0
    # (media type, content coding; "" for none) -> (body, etag)
    bodies: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(body) for body, _ in self.bodies.values())


class PageCache:
    """An LRU of rendered pages bounded in bytes. Used from the event loop only (no locking)."""

    def __init__(self, max_bytes: int, name: str = "pages") -> None:
        self._max = max_bytes
        self._hits = PAGE_CACHE.labels(name, "hit")
        self._misses = PAGE_CACHE.labels(name, "miss")
        self._size = 0
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()

    def serial(self, name: str) -> int:
        """The serial of the page held for `name`, 0 for none."""
        page = self._pages.get(name)
        return page.serial if page is not None else 0

    def shown(self, name: str) -> int:
        """The serial the page held for `name` shows (see `store`), 0 for none."""
        page = self._pages.get(name)
        return page.shown if page is not None else 0

    def lookup(
        self,
        name: str,
        project_id: str,
        serial: int,
        media: str,
        encoding: str = "",
        *,
        count_miss: bool = True,
    ) -> tuple[bytes, str] | None:
        """`count_miss=False`: a first look whose miss is looked up (and counted) again."""
        page = self._pages.get(name)
        found = None
        if page is not None and page.project_id == project_id and page.serial == serial:
            self._pages.move_to_end(name)
            found = page.bodies.get((media, encoding))
        if found is not None:
            self._hits.inc()
        elif count_miss:
            self._misses.inc()
        return found

    def store(
        self,
        name: str,
        project_id: str,
        serial: int,
        media: str,
        body: bytes,
        etag: str,
        encoding: str = "",
        shown: int | None = None,
    ) -> None:
        if len(body) > self._max // 4:
            return  # one giant page must not flush everything else
        page = self._pages.get(name)
        if page is None or page.project_id != project_id or page.serial != serial:
            if page is not None:
                self._size -= page.size
            page = CachedPage(project_id, serial)
            self._pages[name] = page
        if shown is not None:
            page.shown = shown
        elif (media, encoding) in page.bodies:
            self._size -= len(page.bodies[media, encoding][0])
        page.bodies[media, encoding] = (body, etag)
        self._size += len(body)
        self._pages.move_to_end(name)
        while self._size > self._max and self._pages:
            _, evicted = self._pages.popitem(last=False)
            self._size -= evicted.size

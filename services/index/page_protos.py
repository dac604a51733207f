"""This replica's built `ProjectPage` protos, kept per (project id, serial).

Building 30,000 `FileRecord`s takes seconds, and a project's page only changes with its serial
(every change that shows on it bumps the serial in the same transaction), so a page built once
serves every later request for that serial. Bounded by the number of files held.
"""

from __future__ import annotations

from vestry.index.v1 import index_pb2

__all__ = ["MAX_FILES", "BuiltPages"]

MAX_FILES = 300_000


class BuiltPages:
    def __init__(self, max_files: int = MAX_FILES) -> None:
        self._max_files = max_files
        self._pages: dict[tuple[str, int], index_pb2.ProjectPage] = {}

    def get(self, project_id: str, serial: int) -> index_pb2.ProjectPage | None:
        """The page built for this serial of the project, or None."""
        return self._pages.get((project_id, serial))

    def holds(self, project_id: str, serial: int) -> bool:
        """Whether the page for this serial is held. Safe from worker threads: a dict lookup
        is atomic."""
        return (project_id, serial) in self._pages

    def put(self, project_id: str, serial: int, page: index_pb2.ProjectPage) -> None:
        """Keep `page` for this serial of the project, dropping the oldest pages while more
        than `max_files` files (a page counts one more than its files) are held."""
        self._pages[(project_id, serial)] = page
        while sum(len(p.files) + 1 for p in self._pages.values()) > self._max_files:
            del self._pages[next(iter(self._pages))]

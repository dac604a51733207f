"""Download counts: batches of increments from the gateways, and the totals per file.

A gateway counts downloads in memory and sends what it counted every few seconds, so the
download path never writes to the database. Adding a batch takes no write lock and moves no
serial: counts are not part of any cached page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vestry.services.index import models as m
from vestry.services.index.names import normalize

__all__ = ["DownloadCounts", "Downloads"]


@dataclass(frozen=True)
class DownloadCounts:
    project_name: str
    total: int
    files: dict[str, int]  # filename -> downloads (files never downloaded are absent)


class Downloads:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, increments: Iterable[tuple[str, str, int]]) -> int:
        """Add (project name, filename, count) increments; returns how many were applied.

        Files that are not (or no longer) in the named project are skipped: a gateway's batch
        may arrive after a deletion."""
        by_project: dict[str, dict[str, int]] = {}
        for project, filename, count in increments:
            if count > 0:
                files = by_project.setdefault(normalize(project), {})
                files[filename] = files.get(filename, 0) + count
        applied = 0
        for name, files in by_project.items():
            with self._sessions.begin() as s:
                rows = s.execute(
                    select(m.File.filename, m.File.project_id)
                    .join(m.Project, m.Project.id == m.File.project_id)
                    .where(m.Project.normalized_name == name, m.File.filename.in_(list(files)))
                ).all()
                for filename, project_id in rows:
                    self._add(s, filename, project_id, files[filename])
                    applied += 1
        return applied

    @staticmethod
    def _add(s: Session, filename: str, project_id: str, count: int) -> None:
        changed = s.execute(
            update(m.DownloadCount)
            .where(m.DownloadCount.filename == filename)
            .values(count=m.DownloadCount.count + count)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            return
        try:
            with s.begin_nested():
                s.add(m.DownloadCount(filename=filename, project_id=project_id, count=count))
        except IntegrityError:
            # Another gateway's batch created the row first: add to it instead.
            s.execute(
                update(m.DownloadCount)
                .where(m.DownloadCount.filename == filename)
                .values(count=m.DownloadCount.count + count)
            )

    def counts(self, project_name: str) -> DownloadCounts:
        """The counts of one project's current files (the caller has been access-checked)."""
        with self._sessions() as s:
            rows = s.execute(
                select(m.DownloadCount.filename, m.DownloadCount.count)
                .join(m.File, m.File.filename == m.DownloadCount.filename)
                .join(m.Project, m.Project.id == m.File.project_id)
                .where(m.Project.normalized_name == normalize(project_name))
            ).all()
            files = {r[0]: int(r[1]) for r in rows}
            return DownloadCounts(normalize(project_name), sum(files.values()), files)

"""Races decided by the database: 50 concurrent commits of one filename."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.factories.index import file_for, user
from vestry.common.errors import AlreadyExists
from vestry.services.index.records import CommitResult, FileData, ReleaseData
from vestry.services.index.service import IndexService

ALICE = user("alice")
N = 50


def race(index: IndexService, files: list[FileData]) -> list[CommitResult | Exception]:
    barrier = threading.Barrier(len(files))

    def commit(f: FileData) -> CommitResult | Exception:
        barrier.wait()
        try:
            return index.uploads.commit_file(ALICE, "racy", ReleaseData(version="1.0"), f)
        except AlreadyExists as exc:
            return exc

    with ThreadPoolExecutor(len(files)) as pool:
        return list(pool.map(commit, files))


def test_different_bytes_exactly_one_wins(index: IndexService) -> None:
    base = file_for("racy", "1.0")
    files = [
        replace(file_for("racy", "1.0", content=f"variant {i}".encode()), filename=base.filename)
        for i in range(N)
    ]
    results = race(index, files)
    winners = [r for r in results if isinstance(r, CommitResult)]
    losers = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(winners) == 1 and not winners[0].already_present
    assert len(losers) == N - 1
    assert all(str(e).startswith("File already exists (") for e in losers)
    page = index.pages.project_page(ALICE, "racy")
    assert [f.sha256 for f in page.files] == [winners[0].file.sha256]
    assert len(page.releases) == 1


def test_identical_bytes_one_stores_the_rest_are_already_present(index: IndexService) -> None:
    f = file_for("racy", "1.0")
    results = race(index, [f] * N)
    assert all(isinstance(r, CommitResult) for r in results), results
    fresh = [r for r in results if isinstance(r, CommitResult) and not r.already_present]
    assert len(fresh) == 1
    assert len(index.pages.project_page(ALICE, "racy").files) == 1


@pytest.mark.parametrize("projects", [10])
def test_concurrent_first_uploads_of_different_projects(index: IndexService, projects: int) -> None:
    barrier = threading.Barrier(projects)

    def commit(i: int) -> CommitResult:
        barrier.wait()
        name = f"proj-{i}"
        return index.uploads.commit_file(
            user(f"u{i}"), name, ReleaseData(version="1.0"), file_for(name, "1.0")
        )

    with ThreadPoolExecutor(projects) as pool:
        serials = sorted(r.serial for r in pool.map(commit, range(projects)))
    # Every commit got its own serial: writers were serialised, none lost an update.
    assert serials == list(range(serials[0], serials[0] + projects))

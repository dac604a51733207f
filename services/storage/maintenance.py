"""fsck and gc: the index's references against the blobs actually stored.

Plain domain code: the references come from the index (its database, or its ListBlobReferences
RPC) and the blobs from a `BlobSource` (a `BlobStore` on this machine, or the storage service's
RPCs), so the same logic serves `vestry fsck/gc --data-dir` and a deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from vestry.common.errors import FailedPrecondition
from vestry.services.storage.blobstore import (
    BlobInfo,
    BlobStore,
    StoredBlob,
    is_key,
    sweep_incoming,
    verify_blob,
)
from vestry.services.storage.errors import BlobNotFound

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "BlobSource",
    "FsckReport",
    "GcReport",
    "Problem",
    "Reference",
    "StoreBlobs",
    "fsck",
    "gc",
]

# Longer than any upload can take between writing its blob and the index recording it.
DEFAULT_GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Reference:
    """A blob the index says exists."""

    key: str
    kind: Literal["file", "metadata"]
    project: str
    filename: str
    sha256: str = ""  # expected; "" = not recorded
    size: int = 0  # expected; 0 = not recorded

    def describe(self) -> str:
        what = f"{self.filename}.metadata" if self.kind == "metadata" else self.filename
        return f"{what} (project {self.project})"


ProblemKind = Literal["missing", "damaged", "bad-reference"]


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    key: str
    references: tuple[Reference, ...]
    detail: str

    def __str__(self) -> str:
        who = ", ".join(r.describe() for r in self.references)
        return f"{self.kind.upper()} {self.key or '(empty key)'}: {self.detail} [{who}]"


class BlobSource(Protocol):
    """What fsck and gc need of the storage side."""

    def verify(self, key: str) -> BlobInfo:
        """Actual size and digests of a stored blob; raises BlobNotFound."""

    def list_blobs(self) -> Iterator[StoredBlob]: ...

    def delete_if_older(self, key: str, cutoff: float) -> bool: ...

    def sweep_spool(self, cutoff: float, dry_run: bool) -> list[tuple[str, int]]:
        """Remove uploads spooled before `cutoff` by a process that died; (path, size) each."""


class StoreBlobs:
    """A `BlobSource` over a `BlobStore` in this process."""

    def __init__(self, store: BlobStore, chunk_size: int = 1 << 20) -> None:
        self._store = store
        self._chunk = chunk_size

    def verify(self, key: str) -> BlobInfo:
        return verify_blob(self._store, key, self._chunk)

    def list_blobs(self) -> Iterator[StoredBlob]:
        return self._store.list_blobs()

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        return self._store.delete_if_older(key, cutoff)

    def sweep_spool(self, cutoff: float, dry_run: bool) -> list[tuple[str, int]]:
        return sweep_incoming(self._store.tmp_dir(), cutoff, dry_run)


@dataclass
class FsckReport:
    checked: int = 0  # distinct blobs read back
    checked_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    unreferenced: int = 0  # stored blobs no index record names (gc collects them)
    unreferenced_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _group(references: Iterable[Reference]) -> dict[str, list[Reference]]:
    by_key: dict[str, list[Reference]] = {}
    for ref in references:
        by_key.setdefault(ref.key, []).append(ref)
    return by_key


def _check(key: str, refs: list[Reference], blobs: BlobSource) -> tuple[Problem | None, int]:
    """The problem with one referenced blob, if any, and the bytes read."""
    bad_refs = [r for r in refs if r.kind == "file" and r.sha256 and r.sha256 != key]
    if not is_key(key):
        return Problem("bad-reference", key, tuple(refs), "not a valid blob key"), 0
    if bad_refs:
        detail = f"the file's recorded sha256 is {bad_refs[0].sha256}, not its blob key"
        return Problem("bad-reference", key, tuple(bad_refs), detail), 0
    try:
        actual = blobs.verify(key)
    except BlobNotFound:
        return Problem("missing", key, tuple(refs), "no blob stored under this key"), 0
    if actual.sha256 != key:
        detail = f"the stored bytes ({actual.size} bytes) have sha256 {actual.sha256}"
        return Problem("damaged", key, tuple(refs), detail), actual.size
    wrong_size = [r for r in refs if r.size and r.size != actual.size]
    if wrong_size:
        detail = f"the blob has {actual.size} bytes, the index records {wrong_size[0].size}"
        return Problem("damaged", key, tuple(wrong_size), detail), actual.size
    wrong_digest = [r for r in refs if r.sha256 and r.sha256 != actual.sha256]
    if wrong_digest:
        detail = f"the index expects sha256 {wrong_digest[0].sha256}, the blob has {actual.sha256}"
        return Problem("damaged", key, tuple(wrong_digest), detail), actual.size
    return None, actual.size


def fsck(
    references: Iterable[Reference],
    blobs: BlobSource,
    on_problem: Callable[[Problem], None] | None = None,
) -> FsckReport:
    """Read back every referenced blob and compare it with what the index recorded.

    Never changes anything. Returns the report; `on_problem` sees each problem as it is found.
    Raises Unavailable when the storage side cannot be reached.
    """
    report = FsckReport()
    by_key = _group(references)
    for key, refs in by_key.items():
        problem, size = _check(key, refs, blobs)
        if size or problem is None:
            report.checked += 1
            report.checked_bytes += size
        if problem is not None:
            report.problems.append(problem)
            if on_problem is not None:
                on_problem(problem)
    for blob in blobs.list_blobs():
        if blob.key not in by_key:
            report.unreferenced += 1
            report.unreferenced_bytes += blob.size
    return report


@dataclass
class GcReport:
    dry_run: bool
    grace_seconds: float
    referenced: int = 0
    stored: int = 0
    collected: list[StoredBlob] = field(default_factory=list)  # or would be, with dry_run
    too_young: list[StoredBlob] = field(default_factory=list)  # unreferenced, within grace
    spool: list[tuple[str, int]] = field(default_factory=list)  # stale spooled uploads

    @property
    def collected_bytes(self) -> int:
        return sum(b.size for b in self.collected)


def gc(
    references: Iterable[Reference],
    blobs: BlobSource,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
    allow_empty_index: bool = False,
    now: float | None = None,
    on_collect: Callable[[StoredBlob], None] | None = None,
) -> GcReport:
    """Delete blobs no index record references and that were last written before the grace
    period, so that a blob an upload has written but not yet recorded is never collected.

    All references are read before anything is deleted: a failed listing deletes nothing.
    Raises FailedPrecondition when the index references nothing but blobs exist (a wrong
    database or address would otherwise empty the store) unless `allow_empty_index`.
    """
    if grace_seconds < 0:
        raise ValueError("the grace period is not negative")
    report = GcReport(dry_run, grace_seconds)
    referenced = {ref.key for ref in references}
    report.referenced = len(referenced)
    cutoff = (time.time() if now is None else now) - grace_seconds
    stored = list(blobs.list_blobs())
    report.stored = len(stored)
    if not referenced and stored and not allow_empty_index:
        raise FailedPrecondition(
            f"the index references no blobs, yet {len(stored)} are stored: refusing to collect "
            "them all (wrong index?); pass --allow-empty-index if that is really intended"
        )
    for blob in stored:
        if blob.key in referenced:
            continue
        if blob.modified >= cutoff:
            report.too_young.append(blob)
            continue
        # The store checks the age again at the moment of deletion: a re-upload of the same
        # bytes since the listing renewed it.
        if dry_run or blobs.delete_if_older(blob.key, cutoff):
            report.collected.append(blob)
            if on_collect is not None:
                on_collect(blob)
        else:
            report.too_young.append(blob)
    report.spool = blobs.sweep_spool(cutoff, dry_run)
    return report

"""fsck and gc on a real local blob store, and the index's blob references on SQLite/PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.factories.index import add_file, index_engine
from vestry.common.errors import FailedPrecondition
from vestry.services.index.blobrefs import blob_references
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.blobstore import IncomingBlob, blob_path
from vestry.services.storage.maintenance import Reference, StoreBlobs, fsck, gc

DAY = 86400


def put(store: LocalBlobStore, data: bytes, age: float = 0) -> str:
    incoming = IncomingBlob(store.tmp_dir(), 1 << 30)
    incoming.write(data)
    key = store.commit(incoming, incoming.finish()).key
    if age:
        when = time.time() - age
        os.utime(os.path.join(store.tmp_dir(), "..", "blobs", blob_path(key)), (when, when))
    return key


def ref(data: bytes, filename: str = "demo-1.0.whl", **kw: object) -> Reference:
    sha = hashlib.sha256(data).hexdigest()
    values: dict[str, object] = {
        "key": sha,
        "kind": "file",
        "project": "demo",
        "filename": filename,
        "sha256": sha,
        "size": len(data),
    }
    values.update(kw)
    return Reference(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(str(tmp_path / "store"))


def test_fsck_clean(store: LocalBlobStore) -> None:
    wheel, meta = b"wheel bytes", b"Metadata-Version: 2.1\n"
    put(store, wheel)
    put(store, meta)
    put(store, b"an orphan")
    refs = [
        ref(wheel),
        ref(meta, kind="metadata", size=0),
        ref(meta, "demo-1.0-py2.whl", kind="metadata", size=0),  # shared METADATA: one blob
    ]
    report = fsck(refs, StoreBlobs(store))
    assert report.ok
    assert report.checked == 2
    assert report.checked_bytes == len(wheel) + len(meta)
    assert (report.unreferenced, report.unreferenced_bytes) == (1, len(b"an orphan"))


def _damage(store: LocalBlobStore, key: str) -> None:
    path = Path(store.tmp_dir()).parent / "blobs" / blob_path(key)
    path.write_bytes(path.read_bytes()[:-1] + b"!")


@pytest.mark.parametrize(
    ("setup", "kind", "words"),
    [
        ("missing", "missing", "no blob stored"),
        ("damaged", "damaged", "have sha256"),
        ("wrong-size", "damaged", "the index records 999"),
        ("key-not-sha", "bad-reference", "not its blob key"),
        ("invalid-key", "bad-reference", "not a valid blob key"),
    ],
)
def test_fsck_reports_and_never_repairs(
    store: LocalBlobStore, setup: str, kind: str, words: str
) -> None:
    data = b"distribution bytes"
    key = hashlib.sha256(data).hexdigest()
    if setup != "missing":
        put(store, data)
    if setup == "damaged":
        _damage(store, key)
    reference = {
        "missing": ref(data),
        "damaged": ref(data),
        "wrong-size": ref(data, size=999),
        "key-not-sha": ref(data, sha256="0" * 64),
        "invalid-key": ref(data, key="../../etc/passwd"),
    }[setup]
    before = sorted((b.key, b.size) for b in store.list_blobs())
    seen: list[str] = []
    report = fsck([reference], StoreBlobs(store), on_problem=lambda p: seen.append(str(p)))
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == kind
    assert words in problem.detail
    assert problem.references == (reference,)
    assert seen == [str(problem)]
    assert "demo-1.0.whl (project demo)" in seen[0]
    assert sorted((b.key, b.size) for b in store.list_blobs()) == before  # nothing repaired


def test_gc_collects_only_old_unreferenced_blobs(store: LocalBlobStore) -> None:
    kept = put(store, b"referenced, old", age=30 * DAY)
    old_orphan = put(store, b"orphan, old", age=2 * DAY)
    young_orphan = put(store, b"orphan, written an hour ago (an upload in flight)", age=3600)
    refs = [ref(b"referenced, old")]

    dry = gc(refs, StoreBlobs(store), grace_seconds=DAY, dry_run=True)
    assert [b.key for b in dry.collected] == [old_orphan]
    assert [b.key for b in dry.too_young] == [young_orphan]
    assert {b.key for b in store.list_blobs()} == {kept, old_orphan, young_orphan}

    collected: list[str] = []
    report = gc(
        refs, StoreBlobs(store), grace_seconds=DAY, on_collect=lambda b: collected.append(b.key)
    )
    assert collected == [old_orphan]
    assert (report.stored, report.referenced) == (3, 1)
    assert report.collected_bytes == len(b"orphan, old")
    assert {b.key for b in store.list_blobs()} == {kept, young_orphan}


def test_gc_refuses_an_empty_index_unless_told(store: LocalBlobStore) -> None:
    key = put(store, b"something", age=30 * DAY)
    with pytest.raises(FailedPrecondition, match="references no blobs"):
        gc([], StoreBlobs(store), grace_seconds=DAY)
    assert store.exists(key)
    gc([], StoreBlobs(store), grace_seconds=DAY, allow_empty_index=True)
    assert not store.exists(key)


def test_gc_deletes_nothing_when_the_reference_listing_fails(store: LocalBlobStore) -> None:
    key = put(store, b"orphan", age=30 * DAY)

    def broken() -> object:
        yield ref(b"something else")
        raise ConnectionError("index went away")

    with pytest.raises(ConnectionError):
        gc(broken(), StoreBlobs(store), grace_seconds=DAY)  # type: ignore[arg-type]
    assert store.exists(key)


def test_gc_sweeps_stale_spooled_uploads(store: LocalBlobStore) -> None:
    put(store, b"referenced")
    stale = Path(store.tmp_dir()) / "incoming-crashed"
    stale.write_bytes(b"half an upload")
    past = time.time() - 2 * DAY
    os.utime(stale, (past, past))
    fresh = Path(store.tmp_dir()) / "incoming-live"
    fresh.write_bytes(b"an upload in flight")
    report = gc([ref(b"referenced")], StoreBlobs(store), grace_seconds=DAY)
    assert report.spool == [(str(stale), len(b"half an upload"))]
    assert not stale.exists() and fresh.exists()


def test_blob_references_pages_through_every_file(database_url: str) -> None:
    engine = index_engine(database_url)
    expected = set()
    for i in range(5):
        wheel = f"wheel {i}".encode()
        metadata = b"Metadata-Version: 2.1\nName: demo\n" if i % 2 else None
        key, md_key = add_file(engine, "demo" if i < 3 else "other", f"f{i}.whl", wheel, metadata)
        project = "demo" if i < 3 else "other"
        expected.add(("file", key, project, f"f{i}.whl", key, len(wheel)))
        if md_key:
            expected.add(("metadata", md_key, project, f"f{i}.whl", md_key, 0))
    pages = list(blob_references(engine, page=2))
    assert [len({r.filename for r in p}) for p in pages] == [2, 2, 1]
    got = {
        (r.kind, r.blob_key, r.project_name, r.filename, r.expected_sha256, r.expected_size)
        for p in pages
        for r in p
    }
    assert got == expected
    engine.dispose()


def test_blob_references_of_an_empty_index(database_url: str) -> None:
    engine = index_engine(database_url)
    assert list(blob_references(engine)) == []
    engine.dispose()

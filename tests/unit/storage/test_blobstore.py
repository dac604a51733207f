"""The storage domain without servers: keys, spooling, the local backend's crash safety."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vestry.common.errors import InvalidArgument, Unavailable
from vestry.services.storage.backends import local as local_backend
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.blobstore import (
    IncomingBlob,
    blob_path,
    check_range,
    sweep_incoming,
    validate_key,
)
from vestry.services.storage.errors import BlobTooLarge, DigestMismatch, DiskFull

STRICT_PATH = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\Z")


@given(st.text())
def test_any_text_is_refused_or_becomes_a_path_inside_the_store(text: str) -> None:
    try:
        path = blob_path(text)
    except InvalidArgument:
        return
    assert STRICT_PATH.match(path)
    assert path.endswith("/" + text)


@given(st.binary(max_size=64))
def test_every_sha256_is_a_valid_key(data: bytes) -> None:
    key = hashlib.sha256(data).hexdigest()
    assert blob_path(validate_key(key)) == f"{key[:2]}/{key[2:4]}/{key}"


def put(store: LocalBlobStore, data: bytes, **expect: Any) -> str:
    incoming = IncomingBlob(store.tmp_dir(), 1 << 30, **expect)
    try:
        incoming.write(data)
        return store.commit(incoming, incoming.finish()).key
    finally:
        incoming.discard()


def test_incoming_blob_digests_and_cleanup(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    incoming = IncomingBlob(str(tmp_path), 1 << 20, hashlib.sha256(data).hexdigest(), len(data))
    for i in range(0, len(data), 65536):
        incoming.write(data[i : i + 65536])
    info = incoming.finish()
    assert info.sha256 == info.key == hashlib.sha256(data).hexdigest()
    assert info.blake2b_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    incoming.discard()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("limit", "expected_size", "error"),
    [(10, 0, BlobTooLarge), (100, 10, DigestMismatch)],
)
def test_incoming_blob_stops_at_the_first_byte_too_many(
    tmp_path: Path, limit: int, expected_size: int, error: type[Exception]
) -> None:
    incoming = IncomingBlob(str(tmp_path), limit, expected_size=expected_size)
    incoming.write(b"x" * 10)
    with pytest.raises(error):
        incoming.write(b"x")
    incoming.discard()
    assert os.listdir(tmp_path) == []


def test_write_after_discard_cannot_recreate_the_file(tmp_path: Path) -> None:
    incoming = IncomingBlob(str(tmp_path), 1 << 20)
    incoming.discard()
    with pytest.raises(Unavailable):
        incoming.write(b"late chunk from a worker thread")
    assert os.listdir(tmp_path) == []


def test_discard_waits_for_a_write_in_progress(tmp_path: Path, monkeypatch: Any) -> None:
    incoming = IncomingBlob(str(tmp_path), 1 << 20)
    entered, release = threading.Event(), threading.Event()
    real_write = incoming.file.write

    def slow_write(chunk: bytes) -> int:
        entered.set()
        release.wait(10)
        return real_write(chunk)

    monkeypatch.setattr(incoming.file, "write", slow_write)
    writer = threading.Thread(target=incoming.write, args=(b"chunk",))
    writer.start()
    assert entered.wait(10)
    discarder = threading.Thread(target=incoming.discard)
    discarder.start()
    discarder.join(0.2)
    assert discarder.is_alive()  # blocked behind the write, not racing it
    release.set()
    writer.join(10)
    discarder.join(10)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_enospc_is_disk_full_and_leaves_nothing(
    tmp_path: Path, monkeypatch: Any, failing: str
) -> None:
    store = LocalBlobStore(str(tmp_path))
    incoming = IncomingBlob(store.tmp_dir(), 1 << 20)

    def no_space(*_: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if failing == "write":
        monkeypatch.setattr(incoming.file, "write", no_space)
    else:
        monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DiskFull, match="disk is full"):
        incoming.write(b"data")
        incoming.finish()
    incoming.discard()
    monkeypatch.undo()
    assert os.listdir(store.tmp_dir()) == []
    assert list(store.list_blobs()) == []


def test_commit_failure_leaves_no_partial_blob(tmp_path: Path, monkeypatch: Any) -> None:
    store = LocalBlobStore(str(tmp_path))
    incoming = IncomingBlob(store.tmp_dir(), 1 << 20)
    incoming.write(b"bytes")
    info = incoming.finish()

    def rename_fails(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_backend.os, "replace", rename_fails)
    with pytest.raises(DiskFull):
        store.commit(incoming, info)
    monkeypatch.undo()
    assert os.listdir(store.tmp_dir()) == []
    assert not store.exists(info.key)


def test_blob_appears_under_its_name_only_when_complete(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    data = b"complete bytes" * 1000
    key = hashlib.sha256(data).hexdigest()
    incoming = IncomingBlob(store.tmp_dir(), 1 << 20, key)
    incoming.write(data[:5000])
    assert not (tmp_path / "blobs" / blob_path(key)).exists()
    incoming.write(data[5000:])
    info = incoming.finish()
    assert not store.exists(key)  # verified, but not yet committed
    store.commit(incoming, info)
    assert (tmp_path / "blobs" / blob_path(key)).read_bytes() == data


def test_reupload_renews_the_modification_time(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    key = put(store, b"orphan, then uploaded again")
    old = time.time() - 7 * 86400
    os.utime(tmp_path / "blobs" / blob_path(key), (old, old))
    before = time.time() - 1
    put(store, b"orphan, then uploaded again")
    (listed,) = store.list_blobs()
    assert listed.modified >= before
    assert not store.delete_if_older(key, before)


def test_gc_race_a_commit_between_check_and_delete_survives(
    tmp_path: Path, monkeypatch: Any
) -> None:
    store = LocalBlobStore(str(tmp_path))
    data = b"re-uploaded while gc runs"
    key = put(store, data)
    path = tmp_path / "blobs" / blob_path(key)
    old = time.time() - 7 * 86400
    os.utime(path, (old, old))
    cutoff = time.time() - 3600
    real_rename = os.rename

    def commit_first(src: str, dst: str) -> None:
        put(store, data)  # an upload commits the same key just after gc's age check
        real_rename(src, dst)

    monkeypatch.setattr(local_backend.os, "rename", commit_first)
    assert not store.delete_if_older(key, cutoff)
    monkeypatch.undo()
    assert path.read_bytes() == data
    assert os.listdir(store.tmp_dir()) == []


def test_sweep_incoming_removes_only_old_spooled_uploads(tmp_path: Path) -> None:
    old, young, other = (tmp_path / n for n in ("incoming-old", "incoming-young", "keep.txt"))
    for p in (old, young, other):
        p.write_bytes(b"x" * 10)
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    cutoff = time.time() - 3600
    assert sweep_incoming(str(tmp_path), cutoff, dry_run=True) == [(str(old), 10)]
    assert old.exists()
    assert sweep_incoming(str(tmp_path), cutoff) == [(str(old), 10)]
    assert sorted(os.listdir(tmp_path)) == ["incoming-young", "keep.txt"]


@pytest.mark.parametrize(
    ("size", "offset", "length", "expected"),
    [(10, 0, 0, 10), (10, 3, 0, 7), (10, 3, 4, 4), (10, 8, 5, 2), (10, 10, 0, 0), (0, 0, 0, 0)],
)
def test_check_range(size: int, offset: int, length: int, expected: int) -> None:
    assert check_range(size, offset, length) == expected


@pytest.mark.parametrize(("offset", "length"), [(11, 0), (-1, 0), (0, -1)])
def test_check_range_refuses(offset: int, length: int) -> None:
    with pytest.raises(InvalidArgument):
        check_range(10, offset, length)

"""Blobs whose bytes a caller sharing the volume wrote into the spool (PutBlob's shared_file):
stored exactly as streamed ones are, digests checked; the file is the service's once named, and
gone whatever the outcome; nothing outside the spool, and no link or look-alike, can be taken."""

from __future__ import annotations

import hashlib
import os
import tempfile

import grpc
import pytest

from tests.factories import blob
from tests.integration.storage.harness import CHUNK, Failed, Harness
from tests.support.storage import MAX_BLOB

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def shared(h: Harness, data: bytes) -> str:
    """A file written into the spool the way a gateway does; its name."""
    directory, prefix = h.client.spool()
    fd, path = tempfile.mkstemp(dir=directory, prefix=prefix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return os.path.basename(path)


def test_the_spool_is_the_service_s_own_directory(harness: Harness) -> None:
    directory, prefix = harness.client.spool()
    assert os.path.isabs(directory) and os.path.samefile(directory, harness.store.tmp_dir())
    assert prefix and os.sep not in prefix


@pytest.mark.parametrize("size", [0, 1, 3 * CHUNK + 17])
def test_a_shared_file_is_stored_as_a_streamed_one_is(harness: Harness, size: int) -> None:
    data = blob(size, seed=size + 1)
    sha256 = hashlib.sha256(data).hexdigest()
    name = shared(harness, data)
    info = harness.client.put_shared(name, sha256, size)
    assert (info.key, info.size, info.sha256) == (sha256, size, sha256)
    assert info.blake2b_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert harness.client.get(sha256)[1] == data
    assert harness.client.verify(sha256).sha256 == sha256
    assert harness.spooled() == []  # taken: moved into place (local) or uploaded and removed


def test_an_identical_blob_already_stored_is_kept_and_the_file_goes(harness: Harness) -> None:
    data = blob(CHUNK + 5, seed=3)
    sha256 = hashlib.sha256(data).hexdigest()
    harness.client.put(data, expected_sha256=sha256)
    assert harness.client.put_shared(shared(harness, data), sha256, len(data)).key == sha256
    assert harness.client.get(sha256)[1] == data
    assert harness.spooled() == []


@pytest.mark.parametrize(
    "expect",
    [
        pytest.param({"expected_sha256": "0" * 64}, id="sha256"),
        pytest.param({"expected_size": 7}, id="size-smaller"),
        pytest.param({"expected_size": CHUNK * 9}, id="size-larger"),
    ],
)
def test_bytes_that_are_not_the_announced_ones_are_refused_and_removed(
    harness: Harness, expect: dict[str, object]
) -> None:
    name = shared(harness, blob(CHUNK * 2, seed=5))
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(name, **expect)  # type: ignore[arg-type]
    assert caught.value.code == INVALID
    assert harness.spooled() == [] and harness.stored_keys() == []


def test_a_file_above_the_limit_is_refused_and_removed(harness: Harness) -> None:
    directory, prefix = harness.client.spool()
    fd, path = tempfile.mkstemp(dir=directory, prefix=prefix)
    os.ftruncate(fd, MAX_BLOB + 1)  # sparse: the size is what counts
    os.close(fd)
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(os.path.basename(path))
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert harness.spooled() == [] and harness.stored_keys() == []


def test_a_call_that_ends_without_its_commit_stores_nothing_and_removes_the_file(
    harness: Harness,
) -> None:
    data = blob(CHUNK, seed=9)
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(shared(harness, data), commit=False)
    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert harness.spooled() == [] and harness.stored_keys() == []


def test_a_file_that_is_not_there_is_not_found(harness: Harness) -> None:
    """What a gateway on another volume gets: it then streams the bytes."""
    _, prefix = harness.client.spool()
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(prefix + "nosuchfile")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert "not shared" in caught.value.message


@pytest.mark.parametrize(
    "name",
    [
        "../outside",
        "incoming-shared-../../outside",
        "incoming-shared-a/b",
        "incoming-abc",  # the service's own spooled uploads are not anyone's to name
        "blobs",
        "/etc/passwd",
        "incoming-shared-",
    ],
)
def test_only_a_bare_name_with_the_shared_prefix_is_taken(harness: Harness, name: str) -> None:
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(name)
    assert caught.value.code == INVALID


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "directory"])
def test_links_and_directories_are_refused_and_left_alone(harness: Harness, kind: str) -> None:
    """Nothing else on the volume can be taken (or removed) through a file named in the spool."""
    directory, prefix = harness.client.spool()
    elsewhere = os.path.join(os.path.dirname(directory), "precious")
    with open(elsewhere, "wb") as f:
        f.write(b"not a blob")
    name = prefix + kind
    path = os.path.join(directory, name)
    if kind == "symlink":
        os.symlink(elsewhere, path)
    elif kind == "hardlink":
        os.link(elsewhere, path)
    else:
        os.mkdir(path)
    with pytest.raises(Failed) as caught:
        harness.client.put_shared(name)
    assert caught.value.code == INVALID
    assert os.path.lexists(path)  # refused, not taken
    with open(elsewhere, "rb") as f:
        assert f.read() == b"not a blob"
    assert harness.stored_keys() == []

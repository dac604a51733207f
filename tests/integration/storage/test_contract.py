"""The blob store's contract: the same tests on local disk and on S3 (SeaweedFS), each used
directly (domain level) and through the real gRPC storage service."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import grpc
import httpx
import pytest

from tests.factories import blob
from tests.integration.storage.harness import CHUNK, Failed, Harness
from tests.support.storage import MAX_BLOB
from vestry.services.storage.blobstore import blob_path

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def assert_clean(h: Harness) -> None:
    """Nothing left behind: no spooled temp file, no object."""
    assert h.spooled() == []
    assert h.raw_objects() == []


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17])
def test_put_get_stat_verify_round_trip(harness: Harness, size: int) -> None:
    data = blob(size, seed=size)
    sha256 = hashlib.sha256(data).hexdigest()
    info = harness.client.put(data, expected_sha256=sha256, expected_size=size)
    assert (info.key, info.size, info.sha256) == (sha256, size, sha256)
    assert info.blake2b_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()

    got_info, got = harness.client.get(sha256)
    assert got == data
    assert (got_info.key, got_info.size) == (sha256, size)
    assert harness.client.stat(sha256).size == size
    assert harness.client.exists(sha256)
    verified = harness.client.verify(sha256)
    assert (verified.sha256, verified.blake2b_256, verified.md5, verified.size) == (
        info.sha256,
        info.blake2b_256,
        info.md5,
        size,
    )
    assert [b.key for b in harness.client.list()] == [sha256]
    assert harness.raw_objects()[0].endswith(blob_path(sha256))
    assert harness.spooled() == []


def test_multipart_sized_blob_round_trips(harness: Harness) -> None:
    data = blob(17 * 1024 * 1024 + 5, seed=7)  # above the S3 part size: a multipart upload
    info = harness.client.put(data, expected_sha256=hashlib.sha256(data).hexdigest())
    assert harness.client.get(info.key)[1] == data
    assert harness.client.verify(info.key).sha256 == info.key
    assert harness.spooled() == []


SIZE = 3 * CHUNK + 100


@pytest.mark.parametrize(
    ("offset", "length", "start", "end"),
    [
        (0, 0, 0, SIZE),  # length 0 = to the end
        (0, 10, 0, 10),
        (10, 0, 10, SIZE),
        (CHUNK - 1, 2, CHUNK - 1, CHUNK + 1),  # across a chunk boundary
        (CHUNK, CHUNK, CHUNK, 2 * CHUNK),
        (SIZE - 1, 0, SIZE - 1, SIZE),
        (SIZE - 5, 1000, SIZE - 5, SIZE),  # clamped at the end
        (SIZE, 0, SIZE, SIZE),  # empty range: still answers with the blob's size
    ],
)
def test_byte_ranges(harness: Harness, offset: int, length: int, start: int, end: int) -> None:
    data = blob(SIZE, seed=1)
    key = harness.client.put(data).key
    info, got = harness.client.get(key, offset, length)
    assert got == data[start:end]
    assert info.size == SIZE


@pytest.mark.parametrize(("offset", "length"), [(SIZE + 1, 0), (-1, 0), (0, -1)])
def test_unsatisfiable_range_is_refused(harness: Harness, offset: int, length: int) -> None:
    key = harness.client.put(blob(SIZE)).key
    with pytest.raises(Failed) as err:
        harness.client.get(key, offset, length)
    assert err.value.code == INVALID


def test_missing_blob(harness: Harness) -> None:
    key = hashlib.sha256(b"never stored").hexdigest()
    assert not harness.client.exists(key)
    assert not harness.client.delete(key)
    assert not harness.client.delete_if_older(key, time.time() + 3600)


@pytest.mark.parametrize("method", ["stat", "get", "verify"])
def test_missing_blob_is_not_found(harness: Harness, method: str) -> None:
    with pytest.raises(Failed) as err:
        getattr(harness.client, method)(hashlib.sha256(b"never stored").hexdigest())
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_delete(harness: Harness) -> None:
    key = harness.client.put(b"to be deleted").key
    assert harness.client.delete(key)
    assert not harness.client.exists(key)
    assert not harness.client.delete(key)
    assert_clean(harness)


def test_identical_put_is_idempotent(harness: Harness) -> None:
    first = harness.client.put(b"same bytes")
    second = harness.client.put(b"same bytes")
    assert first == second
    assert len(harness.client.list()) == 1
    assert harness.spooled() == []


def test_concurrent_identical_puts(harness: Harness) -> None:
    data = blob(5 * CHUNK + 3, seed=3)
    clients = [harness.new_client() for _ in range(6)]
    with ThreadPoolExecutor(len(clients)) as pool:
        infos = list(pool.map(lambda c: c.put(data), clients))
    assert len(set(infos)) == 1
    assert harness.client.get(infos[0].key)[1] == data
    assert [b.key for b in harness.client.list()] == [infos[0].key]
    assert harness.spooled() == []


GOOD = b"the real bytes" * 1000
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


@pytest.mark.parametrize(
    ("expected_sha256", "expected_size", "max_size", "data", "code", "words"),
    [
        ("0" * 64, 0, 0, GOOD, INVALID, "sha256"),
        (GOOD_SHA, len(GOOD) - 1, 0, GOOD, INVALID, "announced"),  # more bytes than announced
        (GOOD_SHA, len(GOOD) + 1, 0, GOOD, INVALID, "announced"),  # fewer
        ("", 0, len(GOOD) - 1, GOOD, grpc.StatusCode.RESOURCE_EXHAUSTED, "size limit"),
        ("", 0, 0, blob(MAX_BLOB + 1), grpc.StatusCode.RESOURCE_EXHAUSTED, "size limit"),
        ("../../etc/passwd", 0, 0, GOOD, INVALID, "sha256 hex digest"),
    ],
    ids=["wrong-sha256", "longer", "shorter", "header-limit", "server-limit", "bad-expected"],
)
def test_rejected_put_leaves_nothing(
    harness: Harness,
    expected_sha256: str,
    expected_size: int,
    max_size: int,
    data: bytes,
    code: grpc.StatusCode,
    words: str,
) -> None:
    with pytest.raises(Failed) as err:
        harness.client.put(data, expected_sha256, expected_size, max_size)
    assert err.value.code == code
    assert words in err.value.message
    assert_clean(harness)


TRAVERSAL_KEYS = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "..",
    "",
    "a" * 63,
    "A" * 64,  # uppercase is not the canonical form
    "g" * 64,
    "0" * 64 + "\n",  # `$` in a regex would accept this one
    "0" * 64 + "/..",
    "../" + "0" * 61,
    "0" * 62 + "/x",
    "\u0660" * 64,  # Arabic-Indic zeros: digits to `\d`, not to us
]


@pytest.mark.parametrize("key", TRAVERSAL_KEYS)
def test_path_traversal_is_impossible(harness: Harness, key: str) -> None:
    harness.client.put(b"a real blob")
    before = harness.raw_objects()
    for call in (
        harness.client.stat,
        harness.client.exists,
        harness.client.get,
        harness.client.delete,
        harness.client.verify,
        harness.client.presign,
        harness.client.locate,
        lambda k: harness.client.delete_if_older(k, time.time() + 3600),
    ):
        with pytest.raises(Failed) as err:
            call(key)
        assert err.value.code == INVALID
    assert harness.raw_objects() == before
    assert harness.spooled() == []


def test_filename_is_metadata_never_a_path(harness: Harness) -> None:
    # The filename only ever reaches a presigned URL's Content-Disposition: storing, naming and
    # locating a blob depend on its digest alone.
    key = harness.client.put(GOOD).key
    url = harness.client.presign(key, 60, "../../../etc/passwd")
    if harness.backend == "local":
        assert url == ""
        return
    assert urlsplit(url).path.endswith("/" + blob_path(key))
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == GOOD
    assert "/" not in response.headers["content-disposition"].split("filename", 1)[1].replace(
        "%2F", ""
    )


def test_locate_names_the_blob_file_on_local_disk_and_nothing_on_s3(harness: Harness) -> None:
    key = harness.client.put(GOOD).key
    path = harness.client.locate(key)
    if harness.backend == "s3":
        assert path == ""  # no local file: readers stream it or follow a presigned URL
        return
    assert os.path.isabs(path)
    with open(path, "rb") as f:
        assert f.read() == GOOD
    harness.client.delete(key)
    with pytest.raises(Failed) as err:
        harness.client.locate(key)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.s3
def test_presigned_url_serves_the_bytes_and_refuses_tampering(harness: Harness) -> None:
    if harness.backend != "s3":
        assert harness.client.presign(harness.client.put(GOOD).key) == ""
        return
    key = harness.client.put(GOOD).key
    other = harness.client.put(b"another blob").key
    url = harness.client.presign(key, 120, "demo-1.0-py3-none-any.whl")
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == GOOD
    assert response.headers["content-disposition"] == (
        'attachment; filename="demo-1.0-py3-none-any.whl"'
    )
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    tampered = [
        urlunsplit(parts._replace(query=urlencode(query))),  # forged signature
        urlunsplit(parts._replace(path=parts.path.replace(key, other))),  # another blob
        urlunsplit(
            parts._replace(query=parts.query.replace("X-Amz-Expires=120", "X-Amz-Expires=604800"))
        ),
    ]
    for bad in tampered:
        refused = httpx.get(bad, timeout=30)
        assert refused.status_code == 403, bad
        assert GOOD not in refused.content


@pytest.mark.s3
def test_presigned_filename_cannot_inject_headers(harness: Harness) -> None:
    key = harness.client.put(GOOD).key
    url = harness.client.presign(key, 60, 'x".whl\r\nSet-Cookie: session=stolen')
    if harness.backend != "s3":
        assert url == ""  # local disk cannot presign: the gateway streams instead
        return
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "\r" not in response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")


def test_verify_detects_damaged_bytes(harness: Harness) -> None:
    key = harness.client.put(GOOD).key
    if harness.minio is not None:
        import io

        bad = GOOD[:-1] + b"!"
        harness.minio.put_object(harness.bucket, blob_path(key), io.BytesIO(bad), len(bad))
    else:
        path = os.path.join(os.path.dirname(harness.store.tmp_dir()), "blobs", blob_path(key))
        with open(path, "r+b") as f:
            f.seek(5)
            f.write(b"!")
    assert harness.client.verify(key).sha256 != key


def test_listing_shows_only_blobs(harness: Harness) -> None:
    key = harness.client.put(GOOD).key
    stray = hashlib.sha256(b"stray").hexdigest()
    foreign = ["README.txt", "notes/today.txt", f"ff/ff/{stray}", f"{stray[:2]}/{stray}"]
    if harness.minio is not None:
        import io

        for name in foreign:
            harness.minio.put_object(harness.bucket, name, io.BytesIO(b"x"), 1)
    else:
        root = os.path.join(os.path.dirname(harness.store.tmp_dir()), "blobs")
        for name in foreign:
            os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"x")
    assert [b.key for b in harness.client.list()] == [key]


def test_delete_if_older_spares_a_blob_written_after_the_cutoff(harness: Harness) -> None:
    key = harness.client.put(GOOD).key
    (listed,) = harness.client.list()
    assert listed.size == len(GOOD)
    assert abs(listed.modified - time.time()) < 300  # a real modification time, not 0
    assert not harness.client.delete_if_older(key, listed.modified - 5)
    assert harness.client.exists(key)
    assert harness.client.delete_if_older(key, listed.modified + 5)
    assert not harness.client.exists(key)
    assert_clean(harness)

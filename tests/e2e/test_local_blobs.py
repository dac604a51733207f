"""Downloads under `vestry up`, where the gateway sends blob files itself (sendfile on plain TCP):
the same bytes, ranges, HEAD and 304 as the gRPC stream gives, in order on a keep-alive
connection, and the stream again when a file is gone."""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import blob
from tests.factories.dists import make_wheel
from tests.support.clients import raw_upload
from tests.support.vestry_up import RunningVestry, free_port, module_vestry, start_vestry

# Bigger than any socket buffer: sendfile must wait for the client to read, many times over.
BIG = blob(6 * 1024 * 1024 + 3, seed=13)


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    """`vestry up` as everywhere else, with its metrics on a port of their own."""
    port = free_port()
    running = start_vestry(
        tmp_path_factory.mktemp("vestry") / "data", args=("--metrics", f"127.0.0.1:{port}")
    )
    yield running
    assert running.stop() == 0, running.log()


def _metrics_url(running: RunningVestry) -> str:
    return running.log().split("Metrics: ", 1)[1].split()[0]


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    """`vestry up` with the gateway reading every blob through the storage service."""
    yield from module_vestry(tmp_path_factory, "streaming", {"VESTRY_GATEWAY_LOCAL_BLOBS": "false"})


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    """`vestry up` over HTTPS: no sendfile (the bytes are encrypted in user space), file reads."""
    running = start_vestry(tmp_path_factory.mktemp("https") / "data", args=("--tls", "self-signed"))
    yield running
    assert running.stop() == 0, running.log()


def _gateway_pid(running: RunningVestry) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if parent == running.proc.pid and b"gateway" in cmdline:
            return int(entry)
    raise AssertionError("no gateway process under vestry up")


def _publish(
    running: RunningVestry, tmp_path: Path, project: str, verify: ssl.SSLContext | bool = True
) -> tuple[str, str, bytes]:
    """(token, file URL, file bytes) of a big wheel uploaded to `running`."""
    token = running.create_user(f"{project}-owner")
    wheel = make_wheel(tmp_path, project, "1.0", extra_files={"big.bin": BIG})
    reply = raw_upload(running.upload_url, token, wheel, project, "1.0", verify)
    assert reply.status_code == 200, reply.text
    return token, f"{running.base}/files/{project}/{wheel.name}", wheel.read_bytes()


def _check_downloads(client: httpx.Client, url: str, body: bytes) -> None:
    full = client.get(url)
    assert full.status_code == 200
    assert full.content == body
    etag = full.headers["etag"]
    assert etag == f'"{hashlib.sha256(body).hexdigest()}"'
    assert full.headers["content-length"] == str(len(body))
    assert full.headers["content-disposition"].startswith("attachment; filename=")
    size = len(body)
    for header, start, end in (
        ("bytes=0-9", 0, 9),
        (f"bytes={size // 2}-", size // 2, size - 1),
        ("bytes=-22", size - 22, size - 1),
        (f"bytes=1000-{size + 5000}", 1000, size - 1),
    ):
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == body[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}", header
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200
    assert stale.content == body
    assert client.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(size)
    assert client.get(url + ".metadata").text.startswith("Metadata-Version:")
    assert client.get(url).content == body  # and again, after all of that on one connection


def test_local_files_serve_the_same_bytes_ranges_head_and_304_on_one_connection(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token, url, body = _publish(vestry, tmp_path, "local-big")
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        _check_downloads(client, url, body)
        # Everything went over one keep-alive connection: each answer came after the last file.
        assert client.get(url, headers={"Range": "bytes=0-3"}).content == body[:4]


def test_the_bytes_come_from_the_file_not_through_storage(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token, url, body = _publish(vestry, tmp_path, "not-streamed")
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        for _ in range(3):
            assert client.get(url).content == body
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(_metrics_url(vestry)).text  # the supervisor gathers them as they come
        if 'grpc_method="LocateBlob"' in text:
            break
        time.sleep(0.2)
    assert 'grpc_method="LocateBlob"' in text
    sent = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("vestry_storage_sent_bytes_total")
    )
    # Storage streamed none of the three (nor anything else this gateway sent from files).
    assert sent < len(body)


def _metric(running: RunningVestry, name: str, present: bool = True) -> float:
    """A counter's value on `running`'s metrics, waited for (bounded) when it is expected."""
    deadline = time.monotonic() + (30 if present else 0)
    while True:
        lines = httpx.get(_metrics_url(running)).text.splitlines()
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith((name + " ", name + "{"))
        ]
        if values or time.monotonic() >= deadline:
            return sum(values)
        time.sleep(0.2)


def test_an_upload_s_file_is_taken_by_storage_from_the_spool_not_streamed(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    """The gateway writes the upload into storage's spool and names it; storage checks and
    stores it, and nothing is left in the spool, neither there nor in the gateway's."""
    before = _metric(vestry, "vestry_storage_shared_files_total", present=False)
    token, url, body = _publish(vestry, tmp_path, "shared-upload")
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        assert client.get(url).content == body
    assert _metric(vestry, "vestry_storage_shared_files_total") >= before + 1
    spool = vestry.data_dir / "storage" / "tmp"
    assert list(spool.iterdir()) == []


def test_without_a_shared_volume_the_upload_is_streamed(
    streaming: RunningVestry, tmp_path: Path
) -> None:
    token, url, body = _publish(streaming, tmp_path, "streamed-upload")
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        assert client.get(url).content == body
    assert list((streaming.data_dir / "storage" / "tmp").iterdir()) == []


def test_the_grpc_stream_serves_the_same(streaming: RunningVestry, tmp_path: Path) -> None:
    token, url, body = _publish(streaming, tmp_path, "streamed-big")
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        _check_downloads(client, url, body)


def test_a_vanished_file_is_read_through_storage_and_served_again_once_back(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token, url, body = _publish(vestry, tmp_path, "vanishing")
    digest = hashlib.sha256(body).hexdigest()
    stored = next((vestry.data_dir).rglob(digest))
    aside = tmp_path / "aside"
    with httpx.Client(auth=("__token__", token), timeout=60) as client:
        assert client.get(url).content == body  # its location is now remembered
        stored.rename(aside)
        try:
            gone = client.get(url)
        finally:
            aside.rename(stored)
        # The stream's answer for a missing blob, not a broken connection or a 500.
        assert gone.status_code == 404, gone.text
        assert client.get(url).content == body
    assert "Traceback" not in vestry.log()


def test_https_reads_the_file_and_serves_the_same(https: RunningVestry, tmp_path: Path) -> None:
    ca = ssl.create_default_context(cafile=https.data_dir / "tls" / "ca.pem")
    token, url, body = _publish(https, tmp_path, "tls-big", ca)
    with httpx.Client(auth=("__token__", token), timeout=60, verify=ca) as client:
        _check_downloads(client, url, body)


def test_clients_gone_mid_file_leave_no_descriptor_behind(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token, url, body = _publish(vestry, tmp_path, "abandoned")
    auth = ("__token__", token)
    fds = f"/proc/{_gateway_pid(vestry)}/fd"
    with httpx.Client(auth=auth, timeout=60) as client:
        assert client.get(url).content == body  # warm: every lazily opened descriptor is open
    before = len(os.listdir(fds))
    for _ in range(8):
        with httpx.Client(auth=auth, timeout=60) as client, client.stream("GET", url) as reply:
            assert reply.status_code == 200
            next(reply.iter_raw())  # a first chunk, then the connection is dropped
    with httpx.Client(auth=auth, timeout=60) as client:
        assert client.get(url).content == body
    # The gateway finds each dropped connection when its next sendfile fails: wait for that,
    # bounded, rather than for a fixed time.
    deadline = time.monotonic() + 30
    while len(os.listdir(fds)) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(os.listdir(fds)) <= before
    assert "Traceback" not in vestry.log()

"""The upload size limit, against a `vestry up` configured with a 1 MiB limit."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import raw_upload, twine_upload
from tests.support.vestry_up import RunningVestry, start_vestry

pytestmark = pytest.mark.e2e

LIMIT = 1024 * 1024
FORM_ALLOWANCE = 16 * 1024 * 1024  # what the gateway allows beside the file for metadata fields


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    running = start_vestry(
        tmp_path_factory.mktemp("vestry-small") / "data",
        env={"VESTRY_GATEWAY_MAX_UPLOAD_SIZE": str(LIMIT)},
    )
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture(scope="module")
def token(small: RunningVestry) -> str:
    return small.create_user("limited")


def test_twine_is_told_file_too_large(small: RunningVestry, token: str, tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path, "too-big", "1.0", extra_files={"too_big/x.bin": os.urandom(2 * LIMIT)}
    )
    result = twine_upload(small.upload_url, token, wheel, verbose=True)
    assert result.returncode != 0
    assert "File too large. Limit is 1 MiB" in result.stdout + result.stderr
    # Nothing was recorded.
    page = httpx.get(small.base + "/simple/too-big/", auth=("__token__", token))
    assert page.status_code == 404


def test_declared_oversize_is_refused_before_the_body(small: RunningVestry, token: str) -> None:
    """Content-Length alone decides: the answer comes while the client has sent no body."""
    credentials = base64.b64encode(f"__token__:{token}".encode()).decode()
    head = (
        "POST /legacy/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{small.port}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {10 * 1024**3}\r\n"
        "\r\n"
    )
    with socket.create_connection(("127.0.0.1", small.port)) as sock:
        sock.settimeout(60)  # a guard against a hang, not a measurement
        sock.sendall(head.encode())
        answer = b""
        while b"File too large" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 413 " in status_line
    assert b"File too large. Limit is 1 MiB" in answer


def test_undeclared_oversize_is_cut_off(small: RunningVestry, token: str) -> None:
    """Chunked, no Content-Length: the gateway counts what arrives and stops at the limit."""
    boundary = "vestryboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        'filename="huge-1.0-py3-none-any.whl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield head
        chunk = bytes(1024 * 1024)
        for _ in range((LIMIT + FORM_ALLOWANCE) // len(chunk) + 4):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    r = httpx.post(
        small.upload_url,
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        auth=("__token__", token),
        timeout=120,
    )
    assert r.status_code == 413
    assert r.text.startswith("File too large. Limit is 1 MiB")


@pytest.mark.parametrize("auth", [None, ("__token__", "vestry-not-a-token"), ("alice", "pw")])
def test_upload_without_valid_token_is_403(
    small: RunningVestry, tmp_path: Path, auth: tuple[str, str] | None
) -> None:
    wheel = make_wheel(tmp_path, "anon", "1.0")
    r = httpx.post(
        small.upload_url,
        data={":action": "file_upload", "name": "anon", "version": "1.0"},
        files={"content": (wheel.name, wheel.read_bytes())},
        auth=auth,
    )
    assert r.status_code == 403
    assert r.text.startswith("Invalid or non-existent authentication information")


def _stored(running: RunningVestry, data: bytes) -> list[Path]:
    """Every file under the data directory named for `data`'s sha256, or spooled for storage.

    A cancelled transfer's spooled file is removed by the storage service when the cancellation
    reaches it, which may be just after the gateway has answered: waited for, within a bound.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    deadline = time.monotonic() + 30
    while True:
        left = [
            p
            for p in running.data_dir.rglob("*")
            if p.name == sha256 or p.name.startswith("incoming-")
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def test_refused_uploads_store_no_bytes(small: RunningVestry, token: str, tmp_path: Path) -> None:
    """The file travels to storage while the index and the archive checks decide, and so does
    the wheel's METADATA once the archive checks have read it; a refusal by either cancels the
    transfers, and nothing of them is kept."""
    owned = make_wheel(tmp_path, "kept-out", "1.0")
    assert twine_upload(small.upload_url, token, owned).returncode == 0
    other = small.create_user("outsider")
    intruder = make_wheel(tmp_path, "kept-out", "2.0")
    refused = raw_upload(small.upload_url, other, intruder, "kept-out", "2.0")
    # A private project the caller cannot see is answered as a taken name, never as "forbidden".
    assert refused.status_code == 400 and "not available" in refused.text, refused.text
    assert _stored(small, intruder.read_bytes()) == []
    with zipfile.ZipFile(intruder) as wheel:
        (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        assert _stored(small, wheel.read(name)) == []

    broken = tmp_path / "not_a_zip-1.0-py3-none-any.whl"
    broken.write_bytes(b"these bytes are no zip archive " * 1000)
    refused = raw_upload(small.upload_url, token, broken, "not-a-zip", "1.0")
    assert refused.status_code == 400 and "not a readable zip" in refused.text
    assert _stored(small, broken.read_bytes()) == []

"""`vestry import`'s pieces: reading simple indexes (HTML and JSON), the upload form built from a
file's own metadata, and the hash check that keeps a corrupted download out."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.factories import make_sdist, make_wheel
from vestry.cli.api import Api
from vestry.cli.importer import SourceFile, Summary, _one, index_files, upload_fields

HTML_ROOT = '<html><body><a href="alpha/">alpha</a><a href="/simple/beta/">Beta</a></body></html>'
HTML_ALPHA = (
    '<a href="../../packages/alpha-1.0-py3-none-any.whl#sha256=abc">alpha-1.0-py3-none-any.whl</a>'
    '<a href="https://files.example.org/alpha-0.9.tar.gz" data-yanked="">alpha-0.9.tar.gz</a>'
    '<a href="alpha-1.0.tar.gz.asc">alpha-1.0.tar.gz.asc</a>'
)
JSON_BETA = {
    "meta": {"api-version": "1.1"},
    "name": "beta",
    "files": [
        {
            "filename": "beta-2.0-py3-none-any.whl",
            "url": "../../files/beta-2.0-py3-none-any.whl",
            "hashes": {"sha256": "def"},
            "upload-time": "2020-01-02T03:04:05.000000Z",
            "yanked": "bad",
        }
    ],
}


def _handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/simple/":
        return httpx.Response(200, text=HTML_ROOT, headers={"content-type": "text/html"})
    if path == "/simple/alpha/":
        return httpx.Response(200, text=HTML_ALPHA, headers={"content-type": "text/html"})
    if path == "/simple/beta/":
        return httpx.Response(
            200, json=JSON_BETA, headers={"content-type": "application/vnd.pypi.simple.v1+json"}
        )
    return httpx.Response(404)


def test_reads_html_and_json_pages() -> None:
    with httpx.Client(transport=httpx.MockTransport(_handler)) as client:
        files = list(index_files(client, "http://src.test/simple"))
    by_name = {f.filename: f for f in files}
    assert set(by_name) == {
        "alpha-1.0-py3-none-any.whl",
        "alpha-0.9.tar.gz",
        "beta-2.0-py3-none-any.whl",
    }
    wheel = by_name["alpha-1.0-py3-none-any.whl"]
    assert wheel.location == "http://src.test/packages/alpha-1.0-py3-none-any.whl"
    assert wheel.sha256 == "abc" and wheel.upload_time is None
    assert by_name["alpha-0.9.tar.gz"].yanked
    beta = by_name["beta-2.0-py3-none-any.whl"]
    assert beta.location == "http://src.test/files/beta-2.0-py3-none-any.whl"
    assert beta.upload_time == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    with httpx.Client(transport=httpx.MockTransport(_handler)) as client:
        only = list(index_files(client, "http://src.test/simple/", ["BETA"]))
    assert [f.filename for f in only] == ["beta-2.0-py3-none-any.whl"]


def test_upload_form_from_the_files_own_metadata(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "My.Lib", "1.0", requires_python=">=3.9", requires_dist=("a>1",))
    fields = upload_fields(wheel.name, wheel.read_bytes())
    assert fields["name"] == "My.Lib" and fields["version"] == "1.0"
    assert fields["filetype"] == "bdist_wheel" and fields["pyversion"] == "py3"
    assert fields["requires_python"] == ">=3.9" and fields["requires_dist"] == ["a>1"]
    assert fields["sha256_digest"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    sdist = make_sdist(tmp_path, "my-lib", "1.0")
    fields = upload_fields(sdist.name, sdist.read_bytes())
    assert fields["filetype"] == "sdist" and fields["pyversion"] == "source"
    bare = make_sdist(tmp_path, "bare", "1.0", pkg_info=False)
    with pytest.raises(ValueError, match="PKG-INFO"):
        upload_fields(bare.name, bare.read_bytes())


def test_a_download_that_does_not_match_its_hash_is_not_uploaded() -> None:
    def source(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"tampered bytes")

    f = SourceFile("alpha", "alpha-1.0.tar.gz", "http://src.test/a.tar.gz", sha256="0" * 64)
    # The target is never reached: nothing listens there.
    dst = Api("http://127.0.0.1:9/api/v1", "vestry-token", timeout=1)
    with httpx.Client(transport=httpx.MockTransport(source)) as src:
        with pytest.raises(ValueError, match="SHA-256 mismatch"):
            _one(dst, src, f, {}, Summary(), dry_run=False)
        # Already at the target with the advertised hash: skipped, nothing fetched or sent.
        summary = Summary()
        assert "already there" in _one(dst, src, f, {f.filename: "0" * 64}, summary, False)
    assert summary.skipped == 1

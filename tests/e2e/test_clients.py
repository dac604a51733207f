"""Real clients against a real `vestry up`: twine, uv (install and publish), pip, poetry, and
pypi-simple as an independent parser of both page formats.

Yanking and making a project public go through the management API, as users do.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

from tests.factories import make_sdist, make_wheel
from tests.support.clients import (
    BIN,
    clean_env,
    manage,
    pip_install,
    raw_upload,
    run,
    twine_upload,
    uv_install,
)
from tests.support.vestry_up import RunningVestry

pytestmark = pytest.mark.e2e

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


def _yank(vestry: RunningVestry, token: str, project: str, version: str, reason: str) -> None:
    manage(
        vestry.base,
        token,
        "POST",
        f"/projects/{project}/yank",
        {"version": version, "reason": reason},
    )


def _make_public(vestry: RunningVestry, token: str, project: str) -> None:
    manage(vestry.base, token, "PUT", f"/projects/{project}/visibility", {"visibility": "public"})


def _corrupt_blob(vestry: RunningVestry, path: Path) -> None:
    """Overwrite a stored distribution with zeros: whoever still downloads it must fail."""
    key = hashlib.sha256(path.read_bytes()).hexdigest()
    (blob,) = [p for p in vestry.data_dir.rglob(key) if p.is_file()]
    blob.chmod(0o600)
    blob.write_bytes(bytes(blob.stat().st_size))


def _uv(*args: str, **env: str) -> tuple[int, str]:
    result = run([str(BIN / "uv"), *args], timeout=180, **env)
    return result.returncode, result.stdout + result.stderr


def _uv_install(index_url: str, target: Path, *requirements: str) -> tuple[int, str]:
    """`uv pip install` into `target` from `index_url` alone, with no cache."""
    result = uv_install(index_url, target, *requirements)
    return result.returncode, result.stdout + result.stderr


def _installed_version(target: Path, dist: str) -> str:
    (info,) = target.glob(f"{dist}-*.dist-info")
    return info.name.removesuffix(".dist-info").split("-", 1)[1]


# ---- twine -----------------------------------------------------------------------------


def test_twine_duplicate_handling(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("tina")
    first = make_wheel(tmp_path, "twine-dup", "1.0")
    assert twine_upload(vestry.upload_url, token, first).returncode == 0
    # The same file again: PyPI answers 200 and stores nothing; so must we.
    again = twine_upload(vestry.upload_url, token, first)
    assert again.returncode == 0, again.stdout + again.stderr

    other_dir = tmp_path / "other"
    other_dir.mkdir()
    different = make_wheel(other_dir, "twine-dup", "1.0", extra_files={"twine_dup/x.py": b"#"})
    assert different.name == first.name
    clash = twine_upload(vestry.upload_url, token, different, verbose=True)
    assert clash.returncode != 0
    assert "File already exists" in clash.stdout + clash.stderr

    blake2 = hashlib.blake2b(first.read_bytes(), digest_size=32).hexdigest()
    r = raw_upload(vestry.upload_url, token, different, "twine-dup", "1.0")
    assert r.status_code == 400
    assert r.text == f"File already exists ('{first.name}', with blake2_256 hash '{blake2}').\n"


def test_twine_shows_the_refusal_from_the_status_line(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    """Every 4xx of the upload path carries its sentence as the reason phrase: twine prints the
    status line (the body only with --verbose)."""
    token = vestry.create_user("reason")
    first = make_wheel(tmp_path, "reason-dup", "1.0")
    assert twine_upload(vestry.upload_url, token, first).returncode == 0
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    different = make_wheel(other_dir, "reason-dup", "1.0", extra_files={"reason_dup/x.py": b"#"})
    clash = twine_upload(vestry.upload_url, token, different)  # no --verbose
    assert clash.returncode != 0
    output = " ".join((clash.stdout + clash.stderr).split())
    assert "400" in output and "File already exists" in output, output

    r = raw_upload(vestry.upload_url, token, different, "reason-dup", "1.0")
    assert r.status_code == 400 and r.reason_phrase == r.text.strip()
    assert "x-vestry-reason" not in r.headers
    refused = raw_upload(vestry.upload_url, "vestry-not-a-token", first, "reason-dup", "1.0")
    assert refused.status_code == 403
    assert refused.reason_phrase.startswith("Invalid or non-existent authentication information")
    # Elsewhere the status line keeps its standard phrase.
    assert httpx.get(vestry.base + "/simple/reason-dup/").reason_phrase == "Unauthorized"


# ---- uv ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/legacy", "/"])
def test_twine_uploads_to_the_other_upload_urls_people_configure(
    vestry: RunningVestry, tmp_path: Path, path: str
) -> None:
    token = vestry.create_user(f"url{len(path)}")
    wheel = make_wheel(tmp_path, f"url-{len(path)}", "1.0")
    result = twine_upload(vestry.base + path, token, wheel)
    assert result.returncode == 0, result.stdout + result.stderr


def test_uv_publish_with_check_url_then_uv_install(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("uma")
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [make_wheel(dist, "uv-pub", "1.0"), make_sdist(dist, "uv-pub", "1.0")]
    publish = [
        "publish",
        "--publish-url",
        vestry.upload_url,
        "--username",
        "__token__",
        "--password",
        token,
        "--check-url",
        vestry.base + "/simple/",
        *map(str, files),
    ]
    code, out = _uv(*publish)
    assert code == 0, out
    # Publishing again: uv asks the index first and skips what is already there.
    code, out = _uv(*publish)
    assert code == 0, out
    assert "already exists" in out.lower() or "skipping" in out.lower(), out

    target = tmp_path / "target"
    code, out = _uv_install(vestry.index_url(token), target, "uv-pub")
    assert code == 0, out
    assert (target / "uv_pub" / "__init__.py").read_text() == '__version__ = "1.0"\n'


# ---- yanked files: skipped unless pinned ----------------------------------------------


@pytest.fixture(scope="module")
def yanked_demo(vestry: RunningVestry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """yank-demo 1.0 and 2.0, with 2.0 yanked ("broken build"); the uploader's token."""
    tmp = tmp_path_factory.mktemp("yank-demo")
    token = vestry.create_user("yannick")
    wheels = [make_wheel(tmp, "yank-demo", v) for v in ("1.0", "2.0")]
    assert twine_upload(vestry.upload_url, token, *wheels).returncode == 0
    _yank(vestry, token, "yank-demo", "2.0", "broken build")
    return token


def test_yanked_release_is_marked_on_the_page(vestry: RunningVestry, yanked_demo: str) -> None:
    page = httpx.get(
        vestry.base + "/simple/yank-demo/",
        headers={"Accept": ACCEPT_JSON_ONLY},
        auth=("__token__", yanked_demo),
    ).json()
    yanked = {f["filename"]: f["yanked"] for f in page["files"]}
    assert yanked == {
        "yank_demo-1.0-py3-none-any.whl": False,
        "yank_demo-2.0-py3-none-any.whl": "broken build",
    }


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize(
    ("requirement", "expected"), [("yank-demo", "1.0"), ("yank-demo==2.0", "2.0")]
)
def test_yanked_release_skipped_unless_pinned(
    vestry: RunningVestry,
    yanked_demo: str,
    tmp_path: Path,
    installer: str,
    requirement: str,
    expected: str,
) -> None:
    target = tmp_path / "target"
    if installer == "pip":
        result = pip_install(vestry.index_url(yanked_demo), target, requirement)
        code, out = result.returncode, result.stdout + result.stderr
    else:
        code, out = _uv_install(vestry.index_url(yanked_demo), target, requirement)
    assert code == 0, out
    assert _installed_version(target, "yank_demo") == expected
    if expected == "2.0" and installer == "pip":
        assert "broken build" in out  # pip tells the user why it was yanked


# ---- PEP 658: resolution from .metadata -------------------------------------------------


def test_pip_and_uv_resolve_from_metadata_files(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("meta")
    top = make_wheel(tmp_path, "meta-top", "1.0", requires_dist=("meta-dep>=1",))
    dep = make_wheel(tmp_path, "meta-dep", "1.5")
    assert twine_upload(vestry.upload_url, token, top, dep).returncode == 0

    # The .metadata file is the wheel's METADATA, byte for byte, at the advertised hash.
    with zipfile.ZipFile(top) as zf:
        expected = zf.read("meta_top-1.0.dist-info/METADATA")
    r = httpx.get(f"{vestry.base}/files/meta-top/{top.name}.metadata", auth=("__token__", token))
    assert r.status_code == 200 and r.content == expected
    page = httpx.get(
        vestry.base + "/simple/meta-top/",
        headers={"Accept": ACCEPT_JSON_ONLY},
        auth=("__token__", token),
    ).json()
    assert page["files"][0]["core-metadata"] == {"sha256": hashlib.sha256(expected).hexdigest()}

    # With the wheels themselves destroyed, only the .metadata files can answer the resolvers.
    _corrupt_blob(vestry, top)
    _corrupt_blob(vestry, dep)
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-cache-dir",
            "--ignore-installed",
            "--report",
            str(tmp_path / "report.json"),
            "-v",
            "--index-url",
            vestry.index_url(token),
            "meta-top",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"from {vestry.base}/files/meta-top/{top.name}.metadata" in result.stdout.replace(
        f"__token__:{token}@", ""
    ).replace("__token__:****@", "")
    report = json.loads((tmp_path / "report.json").read_text())
    assert sorted(i["metadata"]["name"] for i in report["install"]) == ["meta-dep", "meta-top"]

    requirements = tmp_path / "requirements.in"
    requirements.write_text("meta-top\n")
    code, out = _uv(
        "pip",
        "compile",
        "--no-cache",
        "--python",
        sys.executable,
        "--index-url",
        vestry.index_url(token),
        str(requirements),
    )
    assert code == 0, out
    assert "meta-dep==1.5" in out and "meta-top==1.0" in out


# ---- pypi-simple: both formats of the same live page agree ------------------------------


def test_pypi_simple_parses_both_formats_alike(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("parser")
    files = [
        make_wheel(tmp_path, "parse-me", "1.0", requires_python=">=3.8,<4"),
        make_sdist(tmp_path, "parse-me", "1.0"),
        make_wheel(tmp_path, "parse-me", "1.1"),
    ]
    assert twine_upload(vestry.upload_url, token, *files).returncode == 0
    _yank(vestry, token, "parse-me", "1.1", 'bad <"reason">')
    client = PyPISimple(vestry.base + "/simple/", auth=("__token__", token))
    with client:
        from_json = client.get_project_page("parse-me", accept=ACCEPT_JSON_ONLY)
        from_html = client.get_project_page("parse-me", accept=ACCEPT_HTML_ONLY)
        index = client.get_index_page(accept=ACCEPT_JSON_ONLY)
    assert "parse-me" in index.projects
    assert from_json.repository_version == from_html.repository_version == "1.4"
    assert from_json.status == from_html.status
    assert [p.filename for p in from_json.packages] == [p.filename for p in from_html.packages]
    for j, h in zip(from_json.packages, from_html.packages, strict=True):
        assert (j.url, j.digests, j.requires_python, j.is_yanked, j.yanked_reason) == (
            h.url,
            h.digests,
            h.requires_python,
            h.is_yanked,
            h.yanked_reason,
        )
        assert j.metadata_digests == (h.metadata_digests if h.has_metadata else None)
        assert j.size == (tmp_path / j.filename).stat().st_size
        assert j.upload_time is not None
    wheel = next(p for p in from_json.packages if p.filename == files[0].name)
    assert wheel.requires_python == ">=3.8,<4"
    assert next(p for p in from_html.packages if p.version == "1.1").yanked_reason == (
        'bad <"reason">'
    )


# ---- HTTP semantics: access, caching, ranges, negotiation -------------------------------


@pytest.fixture(scope="module")
def published(vestry: RunningVestry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("published")
    owner = vestry.create_user("owner")
    wheel = make_wheel(tmp, "Http.Demo", "1.0", requires_dist=("attrs",))
    public = make_wheel(tmp, "open-demo", "2.0")
    assert twine_upload(vestry.upload_url, owner, wheel, public).returncode == 0
    _make_public(vestry, owner, "open-demo")
    return {
        "owner": owner,
        "stranger": vestry.create_user("stranger"),
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "wheel_bytes": wheel.read_bytes().hex(),
        "public_wheel": public.name,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/simple/http-demo/",
        "/simple/no-such-project/",
        "/files/http-demo/http_demo-1.0-py3-none-any.whl",
        "/files/http-demo/http_demo-1.0-py3-none-any.whl.metadata",
        "/files/no-such-project/x-1.0-py3-none-any.whl",
        "/pypi/http-demo/json",
        "/pypi/no-such-project/json",
        "/pypi/http-demo/1.0/json",
    ],
)
def test_private_and_missing_answer_alike(
    vestry: RunningVestry, published: dict[str, str], path: str
) -> None:
    anonymous = httpx.get(vestry.base + path)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="vestry"'
    stranger = httpx.get(vestry.base + path, auth=("__token__", published["stranger"]))
    assert stranger.status_code == 404
    owner = httpx.get(vestry.base + path, auth=("__token__", published["owner"]))
    assert owner.status_code == (404 if "no-such" in path else 200)
    if owner.status_code == 200:
        assert owner.headers["cache-control"].startswith("private")


def test_public_project_is_readable_anonymously(
    vestry: RunningVestry, published: dict[str, str]
) -> None:
    page = httpx.get(vestry.base + "/simple/open-demo/", headers={"Accept": PIP_ACCEPT})
    assert page.status_code == 200
    assert page.headers["cache-control"].startswith("public")
    wheel = httpx.get(f"{vestry.base}/files/open-demo/{published['public_wheel']}")
    assert wheel.status_code == 200 and wheel.headers["cache-control"].startswith("public")
    listing = httpx.get(vestry.base + "/simple/", headers={"Accept": ACCEPT_JSON_ONLY}).json()
    names = {p["name"] for p in listing["projects"]}
    assert "open-demo" in names and "Http.Demo" not in names
    mine = httpx.get(
        vestry.base + "/simple/",
        headers={"Accept": ACCEPT_JSON_ONLY},
        auth=("__token__", published["owner"]),
    )
    assert {"open-demo", "Http.Demo"} <= {p["name"] for p in mine.json()["projects"]}
    assert mine.headers["cache-control"].startswith("private")
    theirs = httpx.get(
        vestry.base + "/simple/",
        headers={"Accept": ACCEPT_JSON_ONLY},
        auth=("__token__", published["stranger"]),
    ).json()
    assert "Http.Demo" not in {p["name"] for p in theirs["projects"]}


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/simple/Http.Demo/", "/simple/http-demo/"),
        ("/simple/HTTP_demo/", "/simple/http-demo/"),
        ("/simple/http-demo", "/simple/http-demo/"),
        ("/simple", "/simple/"),
    ],
)
def test_redirects_to_normalised_urls(vestry: RunningVestry, path: str, location: str) -> None:
    r = httpx.get(vestry.base + path)
    assert (r.status_code, r.headers["location"]) == (301, location)


def test_negotiation_and_etags(vestry: RunningVestry, published: dict[str, str]) -> None:
    auth = ("__token__", published["owner"])
    url = vestry.base + "/simple/http-demo/"
    cases = {
        PIP_ACCEPT: "application/vnd.pypi.simple.v1+json",
        "application/vnd.pypi.simple.v1+html": "application/vnd.pypi.simple.v1+html",
        "text/html": "text/html",
    }
    etags = set()
    for accept, content_type in cases.items():
        r = httpx.get(url, headers={"Accept": accept}, auth=auth)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(content_type)
        assert "Accept" in r.headers["vary"]
        etags.add(r.headers["etag"])
        again = httpx.get(
            url, headers={"Accept": accept, "If-None-Match": r.headers["etag"]}, auth=auth
        )
        assert again.status_code == 304 and again.content == b""
    assert len(etags) == 3  # one representation, one tag
    r = httpx.get(url, headers={"Accept": "application/json"}, auth=auth)
    assert r.status_code == 406


def test_pages_are_gzipped_for_clients_that_ask_and_pip_and_uv_read_them(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token = vestry.create_user("gzip")
    auth = ("__token__", token)
    wheels = [make_wheel(tmp_path, "gz-lib", f"1.{minor}") for minor in range(8)]
    # Enough projects of this user's for the root listing to be worth compressing too.
    wheels += [make_wheel(tmp_path, f"gz-lib-{n:02d}", "1.0") for n in range(24)]
    assert twine_upload(vestry.upload_url, token, *wheels).returncode == 0
    for url in (vestry.base + "/simple/gz-lib/", vestry.base + "/simple/"):
        for accept in (PIP_ACCEPT, "text/html"):
            plain = httpx.get(
                url, headers={"Accept": accept, "Accept-Encoding": "identity"}, auth=auth
            )
            packed = httpx.get(
                url, headers={"Accept": accept, "Accept-Encoding": "gzip, deflate"}, auth=auth
            )
            assert len(plain.content) >= 1024, "the page must be big enough to be compressed"
            assert "content-encoding" not in plain.headers
            assert packed.headers["content-encoding"] == "gzip"
            assert packed.content == plain.content  # decoded by httpx
            assert int(packed.headers["content-length"]) < len(plain.content)
            for r in (plain, packed):
                assert "Accept-Encoding" in r.headers["vary"]
            assert packed.headers["etag"] != plain.headers["etag"]  # one tag per representation
            for r, coding in ((plain, "identity"), (packed, "gzip")):
                again = httpx.get(
                    url,
                    headers={
                        "Accept": accept,
                        "Accept-Encoding": coding,
                        "If-None-Match": r.headers["etag"],
                    },
                    auth=auth,
                )
                assert again.status_code == 304
        refused = httpx.get(url, headers={"Accept-Encoding": "gzip;q=0, *"}, auth=auth)
        assert "content-encoding" not in refused.headers

    # pip and uv ask for gzip, and resolve from the compressed pages.
    result = pip_install(vestry.index_url(token), tmp_path / "pip", "gz-lib==1.3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed_version(tmp_path / "pip", "gz_lib") == "1.3"
    code, out = _uv_install(vestry.index_url(token), tmp_path / "uv", "gz-lib<1.5")
    assert code == 0, out
    assert _installed_version(tmp_path / "uv", "gz_lib") == "1.4"


def test_file_ranges_and_conditional_get(vestry: RunningVestry, published: dict[str, str]) -> None:
    auth = ("__token__", published["owner"])
    url = f"{vestry.base}/files/http-demo/{published['wheel']}"
    body = bytes.fromhex(published["wheel_bytes"])
    full = httpx.get(url, auth=auth)
    assert full.content == body
    assert full.headers["etag"] == f'"{published["wheel_sha256"]}"'
    assert full.headers["accept-ranges"] == "bytes"
    assert (
        httpx.get(url, auth=auth, headers={"If-None-Match": full.headers["etag"]}).status_code
        == 304
    )
    for header, expected in (
        ("bytes=0-9", body[:10]),
        ("bytes=10-", body[10:]),
        ("bytes=-22", body[-22:]),  # the zip end-of-central-directory: what lazy wheels read
    ):
        part = httpx.get(url, auth=auth, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == expected, header
        start = (
            len(body) - len(expected)
            if header.startswith("bytes=-")
            else int(header[6:].split("-")[0])
        )
        assert (
            part.headers["content-range"]
            == f"bytes {start}-{start + len(expected) - 1}/{len(body)}"
        )
    unsatisfiable = httpx.get(url, auth=auth, headers={"Range": f"bytes={len(body)}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(body)}"


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/simple/",
        "/simple/http-demo/",
        "/simple/Http.Demo/",
        "/files/http-demo/http_demo-1.0-py3-none-any.whl",
        "/files/http-demo/http_demo-1.0-py3-none-any.whl.metadata",
        "/pypi/http-demo/json",
        "/pypi/http-demo/1.0/json",
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "stranger", "owner"])
@pytest.mark.parametrize("extra", [{}, {"Range": "bytes=0-9"}], ids=["whole", "range"])
def test_head_answers_like_get_without_a_body(
    vestry: RunningVestry, published: dict[str, str], path: str, who: str, extra: dict[str, str]
) -> None:
    auth = None if who == "anonymous" else ("__token__", published[who])
    compared = (
        "content-type",
        "content-length",
        "content-range",
        "content-disposition",
        "accept-ranges",
        "etag",
        "cache-control",
        "vary",
        "location",
        "www-authenticate",
    )
    get = httpx.get(vestry.base + path, auth=auth, headers=extra)
    head = httpx.head(vestry.base + path, auth=auth, headers=extra)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in compared:
        assert head.headers.get(name) == get.headers.get(name), name


def test_json_api(vestry: RunningVestry, published: dict[str, str]) -> None:
    auth = ("__token__", published["owner"])
    doc = httpx.get(vestry.base + "/pypi/http-demo/json", auth=auth).json()
    assert doc["info"]["name"] == "Http.Demo"
    assert doc["info"]["version"] == "1.0"
    assert doc["info"]["requires_dist"] == ["attrs"]
    (file,) = doc["urls"]
    assert file["filename"] == published["wheel"]
    assert file["digests"]["sha256"] == published["wheel_sha256"]
    assert file["url"] == f"{vestry.base}/files/http-demo/{published['wheel']}"
    assert file["upload_time_iso_8601"].endswith("Z")
    assert httpx.get(file["url"], auth=auth).content == bytes.fromhex(published["wheel_bytes"])
    assert list(doc["releases"]) == ["1.0"]
    one = httpx.get(vestry.base + "/pypi/http-demo/1.0/json", auth=auth).json()
    assert one["urls"] == doc["urls"] and "releases" not in one
    missing = httpx.get(vestry.base + "/pypi/http-demo/9.9/json", auth=auth)
    assert missing.status_code == 404


def test_json_api_documents_follow_every_change_and_the_origin_asked(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token = vestry.create_user("jsonfollow")
    auth = ("__token__", token)
    first, second = (make_wheel(tmp_path, "json-follow", v) for v in ("1.0", "2.0"))
    assert twine_upload(vestry.upload_url, token, first).returncode == 0

    def get(
        path: str, host: str = "", who: tuple[str, str] = auth, proto: str = ""
    ) -> httpx.Response:
        headers = {"Host": host} if host else {}
        if proto:
            headers["X-Forwarded-Proto"] = proto
        return httpx.get(vestry.base + path, auth=who, headers=headers)

    assert get("/pypi/json-follow/json").json()["info"]["version"] == "1.0"  # now cached
    assert twine_upload(vestry.upload_url, token, second).returncode == 0
    doc = get("/pypi/json-follow/json").json()
    assert doc["info"]["version"] == "2.0" and list(doc["releases"]) == ["1.0", "2.0"]
    release = get("/pypi/json-follow/1.0/json").json()
    assert [f["filename"] for f in release["urls"]] == [first.name]  # its own files only
    assert release["urls"][0]["yanked"] is False

    _yank(vestry, token, "json-follow", "1.0", "broken")
    release = get("/pypi/json-follow/1.0/json").json()
    assert release["urls"][0]["yanked"] is True
    assert release["urls"][0]["yanked_reason"] == "broken"

    # Absolute URLs name the origin the client used (a proxy's, say), cached or not.
    via_name = get("/pypi/json-follow/json", "pypi.example.org:8443").json()
    assert via_name["urls"][0]["url"].startswith("http://pypi.example.org:8443/files/")
    assert get("/pypi/json-follow/json").json()["urls"][0]["url"].startswith(vestry.base)
    # Behind a TLS-terminating proxy the gateway believes (loopback, by default):
    proxied = get("/pypi/json-follow/json", "pypi.example.org", proto="https")
    assert proxied.json()["urls"][0]["url"].startswith("https://pypi.example.org/files/")
    # A cached document is no licence: access is checked on every request.
    stranger = ("__token__", vestry.create_user("jsonstranger"))
    assert get("/pypi/json-follow/json", who=stranger).status_code == 404
    assert get("/pypi/json-follow/2.0/json", who=stranger).status_code == 404
    assert get("/pypi/json-follow/9.9/json").status_code == 404


# ---- poetry --------------------------------------------------------------------------


def _poetry(cwd: Path, home: Path, *args: str, **env: str) -> tuple[int, str]:
    poetry = BIN / "poetry"
    if not poetry.exists():
        pytest.skip("poetry is not installed in the test environment")
    result = subprocess.run(
        [str(poetry), "--no-interaction", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=clean_env(
            POETRY_CONFIG_DIR=str(home / "config"),
            POETRY_CACHE_DIR=str(home / "cache"),
            POETRY_DATA_DIR=str(home / "data"),
            POETRY_VIRTUALENVS_IN_PROJECT="true",
            POETRY_KEYRING_ENABLED="false",
            **env,
        ),
    )
    return result.returncode, result.stdout + result.stderr


def test_poetry_publish_and_install(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("poet")
    home = tmp_path / "poetry-home"
    lib = tmp_path / "poetry-lib"
    (lib / "poetry_lib").mkdir(parents=True)
    (lib / "poetry_lib" / "__init__.py").write_text("ANSWER = 42\n")
    (lib / "pyproject.toml").write_text(
        '[project]\nname = "poetry-lib"\nversion = "0.3.0"\ndescription = "via poetry"\n'
        'requires-python = ">=3.9"\n\n'
        '[build-system]\nrequires = ["poetry-core>=2"]\nbuild-backend = "poetry.core.masonry.api"\n'
    )
    upload = {
        "POETRY_REPOSITORIES_VESTRY_URL": vestry.upload_url,
        "POETRY_HTTP_BASIC_VESTRY_USERNAME": "__token__",
        "POETRY_HTTP_BASIC_VESTRY_PASSWORD": token,
    }
    code, out = _poetry(lib, home, "publish", "--build", "-r", "vestry", **upload)
    assert code == 0, out

    app = tmp_path / "poetry-app"
    app.mkdir()
    (app / "pyproject.toml").write_text(
        '[project]\nname = "poetry-app"\nversion = "1.0.0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["poetry-lib (>=0.3)"]\n\n'
        "[tool.poetry]\npackage-mode = false\n\n"
        '[[tool.poetry.source]]\nname = "vestry"\n'
        f'url = "{vestry.base}/simple/"\npriority = "primary"\n'
    )
    source = {
        "POETRY_HTTP_BASIC_VESTRY_USERNAME": "__token__",
        "POETRY_HTTP_BASIC_VESTRY_PASSWORD": token,
    }
    code, out = _poetry(app, home, "install", **source)
    assert code == 0, out
    (site,) = (app / ".venv").glob("lib/python*/site-packages")
    assert (site / "poetry_lib" / "__init__.py").read_text() == "ANSWER = 42\n"
    lock = (app / "poetry.lock").read_text()
    assert 'name = "poetry-lib"' in lock and 'version = "0.3.0"' in lock

"""The upstream proxy against real upstreams on loopback (docs/proxy.md): a static PEP 503
tree, a negotiating PEP 691 server with chosen upload-times, and another `vestry up`; real pip
and uv through Vestry alone. Nothing here reaches the internet."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import manage, pip_install, twine_upload, uv_install
from tests.support.upstream_server import UpFile, Upstream
from tests.support.vestry_up import RunningVestry, module_vestry

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"
NOW = datetime.now(UTC)


def _wheel(tmp: Path, name: str, version: str, **kw: object) -> tuple[Path, UpFile]:
    path = make_wheel(tmp, name, version, **kw)  # type: ignore[arg-type]
    with __import__("zipfile").ZipFile(path) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta)
    return path, UpFile(path.name, path.read_bytes(), metadata=metadata)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def upstream(tmp: Path) -> Iterator[Upstream]:
    up = Upstream()
    wheels = tmp / "upstream-wheels"
    wheels.mkdir()
    _, pubdep = _wheel(wheels, "pubdep", "1.2.0")
    pubdep.upload_time = NOW - timedelta(days=40)
    pubdep.requires_python = ">=3.8"
    _, old = _wheel(wheels, "pubdep", "1.0.0")
    old.upload_time = NOW - timedelta(days=400)
    old.yanked = "broken build"
    _, attack = _wheel(wheels, "acme-internal", "99.0")
    _, m1 = _wheel(wheels, "mixed", "1.0")
    _, m2 = _wheel(wheels, "mixed", "2.0")
    _, evil = _wheel(wheels, "evil", "1.0")
    evil.served = evil.data[:-10] + b"0123456789"  # same size, other bytes
    big = UpFile("bigevil-1.0-py3-none-any.whl", bytes(range(256)) * 12_288)  # 3 MiB
    big.served = big.data[:-1] + b"\x00"
    many = UpFile("many-1.0-py3-none-any.whl", hashlib.sha256(b"x").digest() * 131_072)
    _, acme_tools = _wheel(wheels, "acme-tools", "1.0")
    _, later_old = _wheel(wheels, "later", "1.0")
    _, later_new = _wheel(wheels, "later", "1.1")
    up.projects = {
        "pubdep": [old, pubdep],
        "acme-internal": [attack],
        "mixed": [m1, m2],
        "evil": [evil],
        "bigevil": [big],
        "many": [many],
        "acme-tools": [acme_tools],
        "later": [later_old, later_new],
    }
    up.start()
    yield up
    up.stop()


class StaticTree:
    """A static PEP 503 tree on disk (simple/<name>/index.html beside the files), served by
    http.server's file handler, with a request log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log: list[str] = []
        tree = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                tree.log.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"


@pytest.fixture(scope="module")
def static_tree(tmp: Path) -> Iterator[StaticTree]:
    root = tmp / "static"
    (root / "simple" / "static-pkg").mkdir(parents=True)
    (root / "packages").mkdir()
    wheel, up = _wheel(root / "packages", "static-pkg", "3.1")
    assert up.metadata is not None
    (root / "packages" / f"{wheel.name}.metadata").write_bytes(up.metadata)
    meta = hashlib.sha256(up.metadata).hexdigest()
    (root / "simple" / "static-pkg" / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n"
        f'<a href="../../packages/{wheel.name}#sha256={up.sha256}" '
        f'data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256={meta}">'
        f"{wheel.name}</a>\n</body></html>\n"
    )
    tree = StaticTree(root)
    yield tree
    tree.server.shutdown()
    tree.server.server_close()


@pytest.fixture(scope="module")
def vestry(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream, static_tree: StaticTree
) -> Iterator[RunningVestry]:
    # Two upstreams: static-* only from the static tree, everything else from the other.
    routes = f"static-*={static_tree.url},{upstream.url}"
    yield from module_vestry(tmp_path_factory, "proxy-vestry", {"VESTRY_UPSTREAM_URL": routes})


@pytest.fixture(scope="module")
def admin(vestry: RunningVestry) -> str:
    return vestry.create_user("root", admin=True)


def _get(vestry: RunningVestry, token: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(vestry.base + path, auth=("__token__", token), headers=headers, timeout=60)


# ---- pages -------------------------------------------------------------------------------


def test_json_page_keeps_every_field_and_points_at_vestry(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    r = _get(vestry, admin, "/simple/pubdep/", Accept=JSON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(JSON)
    doc = r.json()
    theirs = json.loads(upstream.page_json("pubdep"))
    assert [f["filename"] for f in doc["files"]] == [f["filename"] for f in theirs["files"]]
    for ours, up in zip(doc["files"], theirs["files"], strict=True):
        assert ours["url"] == f"/files/pubdep/{up['filename']}"
        for key in ("hashes", "requires-python", "yanked", "upload-time", "size", "core-metadata"):
            assert ours[key] == up[key], key
        assert ours["dist-info-metadata"] == up["core-metadata"]  # PEP 714 alias
    assert doc["versions"] == theirs["versions"]
    assert doc["project-status"] == {"status": "active"}


def test_html_page_keeps_the_attributes(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    r = _get(vestry, admin, "/simple/pubdep/", Accept="text/html")
    assert r.status_code == 200
    html = r.text
    f = upstream.projects["pubdep"][1]
    assert f'href="/files/pubdep/{f.filename}#sha256={f.sha256}"' in html
    assert 'data-requires-python="&gt;=3.8"' in html
    assert 'data-yanked="broken build"' in html
    assert 'data-core-metadata="sha256=' in html


def test_root_listing_stays_local(vestry: RunningVestry, admin: str) -> None:
    _get(vestry, admin, "/simple/pubdep/")
    r = _get(vestry, admin, "/simple/", Accept=JSON)
    assert "pubdep" not in [p["name"] for p in r.json()["projects"]]


def test_anonymous_needs_a_token_by_default(vestry: RunningVestry) -> None:
    # VESTRY_INDEX_DEFAULT_VISIBILITY is private here, so proxied packages need a token too.
    r = httpx.get(vestry.base + "/simple/pubdep/", timeout=30)
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


def test_upstream_404_is_remembered(vestry: RunningVestry, admin: str, upstream: Upstream) -> None:
    for _ in range(3):
        assert _get(vestry, admin, "/simple/no-such-thing/").status_code == 404
    assert upstream.requests_for("/simple/no-such-thing/") == 1


# ---- files -------------------------------------------------------------------------------


def test_pip_anduv_install_a_proxied_package(
    vestry: RunningVestry, admin: str, tmp: Path, upstream: Upstream
) -> None:
    pip = pip_install(vestry.index_url(admin), tmp / "pip-pubdep", "pubdep")
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (tmp / "pip-pubdep" / "pubdep-1.2.0.dist-info").is_dir()
    uv = uv_install(vestry.index_url(admin), tmp / "uv-pubdep", "pubdep")
    assert uv.returncode == 0, uv.stdout + uv.stderr
    assert (tmp / "uv-pubdep" / "pubdep-1.2.0.dist-info").is_dir()
    # Fetched once, kept, and served from storage afterwards; the first fetch is an event.
    assert upstream.count("/files/pubdep-1.2.0-py3-none-any.whl") == 1
    events = manage(vestry.base, admin, "GET", "/events").json()
    fetches = [e for e in events if e["kind"] == "upstream.fetch"]
    assert any(e["detail"]["filename"] == "pubdep-1.2.0-py3-none-any.whl" for e in fetches)


def test_metadata_file_is_verified_and_kept(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    f = upstream.projects["pubdep"][0]
    r = _get(vestry, admin, f"/files/pubdep/{f.filename}.metadata")
    assert r.status_code == 200
    assert r.content == f.metadata


@pytest.mark.parametrize(
    ("project", "filename"),
    [
        ("evil", None),  # one chunk: refused before any byte
        ("bigevil", "bigevil-1.0-py3-none-any.whl"),  # bytes already sent: the stream is cut
    ],
)
def test_sha256_mismatch_is_never_stored_and_never_completes(
    vestry: RunningVestry, admin: str, upstream: Upstream, project: str, filename: str | None
) -> None:
    f = upstream.projects[project][0]
    for _attempt in range(2):
        try:
            r = _get(vestry, admin, f"/files/{project}/{f.filename}")
        except httpx.HTTPError:
            continue  # cut mid-stream: the client sees a broken transfer
        if filename is None:
            assert r.status_code == 502, r.text
            assert "sha256 mismatch" in r.text
        else:
            assert r.status_code != 200 or r.content != f.served
            assert hashlib.sha256(r.content).hexdigest() != f.sha256
    # Nothing was kept: every attempt went upstream again.
    assert upstream.count(f"/files/{f.filename}") == 2


def test_twenty_concurrent_first_downloads_fetch_once(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    f = upstream.projects["many"][0]
    upstream.chunk_delay = 0.01  # 4 MiB over ~0.6 s: the clients overlap
    results: list[bytes] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            r = _get(vestry, admin, f"/files/many/{f.filename}")
            r.raise_for_status()
            results.append(r.content)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        upstream.chunk_delay = 0.0
    assert not errors
    assert len(results) == 20
    assert all(hashlib.sha256(body).hexdigest() == f.sha256 for body in results)
    assert upstream.count(f"/files/{f.filename}") == 1


# ---- the rules that make confusion impossible ---------------------------------------------


def test_attack_replay_local_name_never_comes_from_upstream(
    vestry: RunningVestry, admin: str, tmp: Path, upstream: Upstream
) -> None:
    local = tmp / "local-acme"
    local.mkdir()
    wheel = make_wheel(local, "acme-internal", "1.0")
    assert twine_upload(vestry.upload_url, admin, wheel).returncode == 0
    for installer, target in ((pip_install, "pip-acme"), (uv_install, "uv-acme")):
        out = installer(vestry.index_url(admin), tmp / target, "acme-internal")
        assert out.returncode == 0, out.stdout + out.stderr
        assert (tmp / target / "acme_internal-1.0.dist-info").is_dir()
    attack = upstream.projects["acme-internal"][0].filename
    assert _get(vestry, admin, f"/files/acme-internal/{attack}").status_code == 404
    # Someone who may not see the private project (pip skips what it cannot read, and would
    # take the public one): still nothing from upstream.
    outsider = vestry.create_user("outsider")
    out = pip_install(vestry.index_url(outsider), tmp / "pip-outsider", "acme-internal")
    assert out.returncode != 0
    out = uv_install(vestry.index_url(outsider), tmp / "uv-outsider", "acme-internal")
    assert out.returncode != 0
    assert not (tmp / "uv-outsider" / "acme_internal-99.0.dist-info").exists()
    # Deleted locally: a tombstone, never proxied either.
    manage(vestry.base, admin, "DELETE", "/projects/acme-internal")
    assert _get(vestry, admin, "/simple/acme-internal/").status_code == 404
    assert _get(vestry, admin, f"/files/acme-internal/{attack}").status_code == 404
    out = pip_install(vestry.index_url(admin), tmp / "pip-acme-2", "acme-internal")
    assert out.returncode != 0
    out = uv_install(vestry.index_url(admin), tmp / "uv-acme-2", "acme-internal")
    assert out.returncode != 0
    assert upstream.requests_for(attack) == 0
    assert upstream.requests_for("/simple/acme-internal/") == 0


def test_reserved_prefix_is_never_proxied(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    manage(vestry.base, admin, "POST", "/orgs", {"name": "acme"})
    manage(vestry.base, admin, "POST", "/reserved", {"pattern": "acme-*", "organization": "acme"})
    assert _get(vestry, admin, "/simple/acme-tools/").status_code == 404
    f = upstream.projects["acme-tools"][0]
    assert _get(vestry, admin, f"/files/acme-tools/{f.filename}").status_code == 404
    assert upstream.requests_for("acme-tools") == 0


def test_merge_allow_list(vestry: RunningVestry, admin: str, tmp: Path, upstream: Upstream) -> None:
    local = tmp / "local-mixed"
    local.mkdir()
    assert twine_upload(vestry.upload_url, admin, make_wheel(local, "mixed", "1.0")).returncode == 0

    def listed() -> list[str]:
        return [
            f["filename"]
            for f in _get(vestry, admin, "/simple/mixed/", Accept=JSON).json()["files"]
        ]

    assert listed() == ["mixed-1.0-py3-none-any.whl"]
    assert upstream.requests_for("/simple/mixed/") == 0
    manage(vestry.base, admin, "PUT", "/upstream/rules/mixed/merge", {})
    # Local 1.0 (the local file, not upstream's) and upstream's 2.0.
    doc = _get(vestry, admin, "/simple/mixed/", Accept=JSON).json()
    local_sha = hashlib.sha256((local / "mixed-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    assert [(f["filename"], f["hashes"]["sha256"]) for f in doc["files"]] == [
        ("mixed-1.0-py3-none-any.whl", local_sha),
        ("mixed-2.0-py3-none-any.whl", upstream.projects["mixed"][1].sha256),
    ]
    r = _get(vestry, admin, "/files/mixed/mixed-2.0-py3-none-any.whl")
    assert (
        r.status_code == 200
        and hashlib.sha256(r.content).hexdigest() == doc["files"][1]["hashes"]["sha256"]
    )
    manage(vestry.base, admin, "DELETE", "/upstream/rules/mixed/merge")
    assert listed() == ["mixed-1.0-py3-none-any.whl"]


def test_proxied_then_uploaded_becomes_local(
    vestry: RunningVestry, admin: str, tmp: Path, upstream: Upstream
) -> None:
    cached = upstream.projects["later"][1]
    assert _get(vestry, admin, f"/files/later/{cached.filename}").status_code == 200
    local = tmp / "local-later"
    local.mkdir()
    assert twine_upload(vestry.upload_url, admin, make_wheel(local, "later", "5.0")).returncode == 0
    doc = _get(vestry, admin, "/simple/later/", Accept=JSON).json()
    assert [f["filename"] for f in doc["files"]] == ["later-5.0-py3-none-any.whl"]
    # The cached upstream file stays downloadable by URL (lock files), not listed.
    r = _get(vestry, admin, f"/files/later/{cached.filename}")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == cached.sha256
    # One never fetched before is not fetched any more.
    old = upstream.projects["later"][0]
    assert _get(vestry, admin, f"/files/later/{old.filename}").status_code == 404
    assert upstream.requests_for(f"/files/{old.filename}") == 0


def test_a_static_pep_503_tree_routed_by_name(
    vestry: RunningVestry,
    admin: str,
    tmp: Path,
    upstream: Upstream,
    static_tree: StaticTree,
) -> None:
    doc = _get(vestry, admin, "/simple/static-pkg/", Accept=JSON).json()
    (f,) = doc["files"]
    assert f["url"] == "/files/static-pkg/static_pkg-3.1-py3-none-any.whl"
    assert f["requires-python"] == ">=3.8"
    assert set(f["core-metadata"]) == {"sha256"}
    for install, target in ((pip_install, "pip-static"), (uv_install, "uv-static")):
        out = install(vestry.index_url(admin), tmp / target, "static-pkg")
        assert out.returncode == 0, out.stdout + out.stderr
        assert (tmp / target / "static_pkg-3.1.dist-info").is_dir()
    assert "/packages/static_pkg-3.1-py3-none-any.whl" in static_tree.log
    assert upstream.requests_for("static") == 0  # routed: never asked of the other upstream

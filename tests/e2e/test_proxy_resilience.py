"""The proxy when upstreams misbehave or hold fresh releases: the cooldown with exemptions and
the JSON API's eligible dates, a down or slow upstream (stale pages with a Warning, bounded
502/504), a restart while the upstream is down, and another `vestry up` as the upstream."""

from __future__ import annotations

import hashlib
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import BIN, pip_install, twine_upload, uv_install
from tests.support.upstream_server import UpFile, Upstream
from tests.support.vestry_up import RunningVestry, module_vestry, start_vestry

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"
NOW = datetime.now(UTC)


def _up_wheel(directory: Path, name: str, version: str, age: timedelta | None) -> UpFile:
    path = make_wheel(directory, name, version)
    with zipfile.ZipFile(path) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta)
    when = None if age is None else NOW - age
    return UpFile(path.name, path.read_bytes(), upload_time=when, metadata=metadata)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy-resilience")


@pytest.fixture(scope="module")
def upstream(tmp: Path) -> Iterator[Upstream]:
    wheels = tmp / "wheels"
    wheels.mkdir()
    up = Upstream(
        projects={
            "fresh": [
                _up_wheel(wheels, "fresh", "1.0", timedelta(days=30)),
                _up_wheel(wheels, "fresh", "2.0", timedelta(days=1)),
                _up_wheel(wheels, "fresh", "3.0", None),
            ],
            "steady": [_up_wheel(wheels, "steady", "1.0", timedelta(days=30))],
            "cached": [_up_wheel(wheels, "cached", "1.0", timedelta(days=30))],
        }
    ).start()
    yield up
    up.stop()


def _env(upstream: Upstream) -> dict[str, str]:
    return {
        "VESTRY_UPSTREAM_URL": upstream.url,
        "VESTRY_UPSTREAM_COOLDOWN": "7d",
        "VESTRY_UPSTREAM_PAGE_TTL": "0",  # every request revalidates: errors show at once
        "VESTRY_UPSTREAM_TIMEOUT": "1",
    }


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[RunningVestry]:
    yield from module_vestry(tmp_path_factory, "resilience-vestry", _env(upstream))


@pytest.fixture(scope="module")
def admin(vestry: RunningVestry) -> str:
    return vestry.create_user("root", admin=True)


def _get(vestry: RunningVestry, token: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(vestry.base + path, auth=("__token__", token), headers=headers, timeout=60)


def _files(vestry: RunningVestry, token: str, name: str) -> list[str]:
    r = _get(vestry, token, f"/simple/{name}/", Accept=JSON)
    assert r.status_code == 200, r.text
    return [f["filename"] for f in r.json()["files"]]


def _vestry_cli(vestry: RunningVestry, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "vestry"), *args, "--url", vestry.base, "--token", token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cooldown_holds_back_and_an_exemption_releases(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    young = upstream.projects["fresh"][1]
    # 2.0 is a day old: held back. 3.0 has no upload-time: served (the default).
    assert _files(vestry, admin, "fresh") == [
        "fresh-1.0-py3-none-any.whl",
        "fresh-3.0-py3-none-any.whl",
    ]
    doc = _get(vestry, admin, "/simple/fresh/", Accept=JSON).json()
    assert "2.0" not in doc["versions"]
    (held,) = doc["_vestry"]["held-back"]
    assert held["version"] == "2.0"
    api = _get(vestry, admin, "/pypi/fresh/json").json()
    assert api["releases"]["1.0"][0]["upstream"] is True
    assert "2.0" not in api["releases"]
    (entry,) = api["vestry"]["held_back"]
    assert young.upload_time is not None
    eligible = young.upload_time + timedelta(days=7)
    assert entry["version"] == "2.0"
    assert entry["eligible"].startswith(eligible.strftime("%Y-%m-%dT%H:%M"))
    r = _get(vestry, admin, f"/files/fresh/{young.filename}")
    assert r.status_code == 403 and "held back" in r.text
    assert upstream.count(f"/files/{young.filename}") == 0

    until = (NOW + timedelta(days=3)).date().isoformat()
    out = _vestry_cli(vestry, admin, "upstream", "exempt", "fresh", "--until", until)
    assert out.returncode == 0, out.stderr
    assert "fresh-2.0-py3-none-any.whl" in _files(vestry, admin, "fresh")
    r = _get(vestry, admin, f"/files/fresh/{young.filename}")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == young.sha256
    events = httpx.get(
        f"{vestry.base}/api/v1/events", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ).json()
    assert any(e["kind"] == "upstream.exempt" and e["detail"]["name"] == "fresh" for e in events)
    out = _vestry_cli(vestry, admin, "upstream", "unexempt", "fresh")
    assert out.returncode == 0, out.stderr
    assert "fresh-2.0-py3-none-any.whl" not in _files(vestry, admin, "fresh")


@pytest.mark.parametrize(
    ("trouble", "status"),
    [
        ({"status": 503}, 502),  # the upstream fails
        ({"delay": 3.0}, 504),  # the upstream is slower than VESTRY_UPSTREAM_TIMEOUT
    ],
)
def test_upstream_trouble_serves_the_cached_page_with_a_warning(
    vestry: RunningVestry, admin: str, upstream: Upstream, trouble: dict[str, float], status: int
) -> None:
    assert _files(vestry, admin, "steady") == ["steady-1.0-py3-none-any.whl"]
    for key, value in trouble.items():
        setattr(upstream, key, value)
    try:
        r = _get(vestry, admin, "/simple/steady/", Accept=JSON)
        assert r.status_code == 200
        assert "Warning" in r.headers and r.headers["Warning"].startswith("110")
        never = _get(vestry, admin, "/simple/never-seen-before/")
        assert never.status_code == status, never.text
    finally:
        upstream.status, upstream.delay = 200, 0.0
    assert "Warning" not in _get(vestry, admin, "/simple/steady/").headers


def test_a_cached_project_installs_after_a_restart_with_the_upstream_down(tmp: Path) -> None:
    wheels = tmp / "restart-wheels"
    wheels.mkdir()
    own = Upstream(projects={"cached": [_up_wheel(wheels, "cached", "1.0", timedelta(days=30))]})
    own.start()
    data = tmp / "restart-data"
    first = start_vestry(data, env=_env(own))
    token = first.create_user("ops", admin=True)
    try:
        out = pip_install(first.index_url(token), tmp / "before", "cached")
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        assert first.stop() == 0
        url_env = _env(own)
        own.stop()  # connections to it are refused from now on
    second = start_vestry(data, env=url_env)
    try:
        r = _get(second, token, "/simple/cached/", Accept=JSON)
        assert r.status_code == 200 and r.headers["Warning"].startswith("110")
        out = pip_install(second.index_url(token), tmp / "after", "cached")
        assert out.returncode == 0, out.stdout + out.stderr
        assert (tmp / "after" / "cached-1.0.dist-info").is_dir()
        assert _get(second, token, "/simple/never-seen/").status_code == 502
    finally:
        second.stop()


def test_another_vestry_as_the_upstream(tmp: Path) -> None:
    origin = start_vestry(tmp / "origin-data", env={"VESTRY_INDEX_DEFAULT_VISIBILITY": "public"})
    try:
        owner = origin.create_user("owner")
        wheels = tmp / "origin-wheels"
        wheels.mkdir()
        assert (
            twine_upload(
                origin.upload_url, owner, make_wheel(wheels, "shared-lib", "4.2")
            ).returncode
            == 0
        )
        proxy = start_vestry(
            tmp / "proxy-data", env={"VESTRY_UPSTREAM_URL": f"{origin.base}/simple/"}
        )
        try:
            token = proxy.create_user("dev")
            out = pip_install(proxy.index_url(token), tmp / "via-vestry", "shared-lib")
            assert out.returncode == 0, out.stdout + out.stderr
            assert (tmp / "via-vestry" / "shared_lib-4.2.dist-info").is_dir()
            doc = _get(proxy, token, "/simple/shared-lib/", Accept=JSON).json()
            (f,) = doc["files"]
            assert f["url"] == "/files/shared-lib/shared_lib-4.2-py3-none-any.whl"
            assert f["upload-time"] and f["core-metadata"]
        finally:
            proxy.stop()
    finally:
        origin.stop()


def test_uv_exclude_newer_sees_the_upstream_upload_times(
    vestry: RunningVestry, admin: str, tmp: Path
) -> None:
    out = uv_install(
        vestry.index_url(admin),
        tmp / "uv-steady",
        "--exclude-newer",
        NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "steady",
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_gc_keeps_the_cache_and_prunes_it_on_request(
    vestry: RunningVestry, admin: str, upstream: Upstream
) -> None:
    f = upstream.projects["steady"][0]
    path = f"/files/steady/{f.filename}"
    assert _get(vestry, admin, path).status_code == 200
    fetched = upstream.count(f"/files/{f.filename}")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "vestry"), *args, "--data-dir", str(vestry.data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    kept = cli("gc", "--grace", "1s")
    assert kept.returncode == 0 and f.sha256 not in kept.stdout, kept.stdout + kept.stderr
    pruned = ""
    for _ in range(20):  # the blob must be older than the grace period first
        # Only cached blobs here, no uploads: gc refuses to empty a store without this flag.
        out = cli("gc", "--grace", "1s", "--prune-upstream", "--allow-empty-index")
        assert out.returncode == 0, out.stderr
        pruned += out.stdout
        if f.sha256 in pruned:
            break
        time.sleep(0.5)
    assert f"deleted {f.sha256}" in pruned
    check = cli("fsck")
    assert check.returncode == 0, check.stdout + check.stderr  # a pruned cache is no problem
    again = _get(vestry, admin, path)
    assert again.status_code == 200 and hashlib.sha256(again.content).hexdigest() == f.sha256
    assert upstream.count(f"/files/{f.filename}") == fetched + 1

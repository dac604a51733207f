"""`vestry import` against a running Vestry, from a pypiserver directory, a running pypiserver
and a running devpi (with credentials), all real and started here."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.factories import make_sdist, make_wheel
from tests.support.clients import twine_upload
from tests.support.peers import devpi, pypiserver
from tests.support.vestry_up import BIN, RunningVestry, start_vestry

pytestmark = pytest.mark.e2e
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@dataclass
class Target:
    vestry: RunningVestry
    admin: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    vestry = start_vestry(tmp_path_factory.mktemp("import-target") / "data")
    try:
        yield Target(vestry, vestry.create_user("root", admin=True))
    finally:
        vestry.stop()


def vestry_import(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VESTRY_URL": target.vestry.base, "VESTRY_TOKEN": target.admin}
    return subprocess.run(
        [str(BIN / "vestry"), "import", *args], capture_output=True, text=True, env=env, timeout=300
    )


def files_of(target: Target, project: str) -> dict[str, dict[str, object]]:
    r = httpx.get(
        f"{target.vestry.base}/simple/{project}/", headers=JSON, auth=("__token__", target.admin)
    )
    if r.status_code == 404:
        return {}
    return {f["filename"]: f for f in r.json()["files"]}


def test_from_a_pypiserver_directory_dry_run_then_resumable(target: Target, tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    (packages / "alpha").mkdir(parents=True)
    (packages / ".cache").mkdir()
    wheel = make_wheel(packages / "alpha", "alpha", "1.0")
    make_sdist(packages / "alpha", "alpha", "1.0")
    make_wheel(packages, "beta", "2.0")
    make_wheel(packages / ".cache", "hidden", "1.0")  # skipped, as pypiserver skips it
    (packages / "notes.txt").write_text("not a distribution")
    then = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    os.utime(wheel, (then, then))

    dry = vestry_import(target, str(packages), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "found 3 file(s)" in dry.stdout and "dry run: 3 to import" in dry.stdout
    assert files_of(target, "alpha") == {}

    done = vestry_import(target, str(packages))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 3 file(s)" in done.stdout and "kept 3 upload time(s)" in done.stdout
    assert "[3/3]" in done.stderr  # progress, a line per file off a terminal
    alpha = files_of(target, "alpha")
    assert set(alpha) == {"alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"}
    assert str(alpha["alpha-1.0-py3-none-any.whl"]["upload-time"]).startswith("2021-03-04T05:06:07")
    assert "hidden" not in done.stdout + done.stderr

    again = vestry_import(target, str(packages))
    assert again.returncode == 0
    assert "imported 0 file(s)" in again.stdout and "3 already there" in again.stdout


def test_from_a_running_pypiserver_hashes_checked(target: Target, tmp_path: Path) -> None:
    packages = tmp_path / "served"
    packages.mkdir()
    made = make_wheel(packages, "gamma", "0.3")
    with pypiserver(packages) as url:
        done = vestry_import(target, url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 1 file(s)" in done.stdout
    gamma = files_of(target, "gamma")
    sha = hashlib.sha256(made.read_bytes()).hexdigest()
    assert gamma["gamma-0.3-py3-none-any.whl"]["hashes"] == {"sha256": sha}


def test_from_devpi_with_credentials(target: Target, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [make_wheel(dist, "delta", "4.0"), make_sdist(dist, "delta", "4.0")]
    with devpi(tmp_path, "alice", "pw") as base:
        result = subprocess.run(
            [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", f"{base}/alice/dev/", "-u", "alice", "-p", "pw",
             *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        source = f"{base}/alice/dev/+simple/"
        done = vestry_import(
            target, source, "--source-user", "alice", "--source-password", "pw", "--quiet"
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 2 file(s)" in done.stdout and done.stderr == ""
    assert set(files_of(target, "delta")) == {"delta-4.0-py3-none-any.whl", "delta-4.0.tar.gz"}


def test_from_another_vestry_keeps_upload_times(target: Target, tmp_path: Path) -> None:
    source = start_vestry(tmp_path / "source")
    try:
        token = source.create_user("src", admin=True)
        wheel = make_wheel(tmp_path, "epsilon", "1.0")
        assert twine_upload(source.upload_url, token, wheel).returncode == 0
        path = "/api/v1/projects/epsilon/files/epsilon-1.0-py3-none-any.whl/upload-time"
        assert httpx.put(
            source.base + path,
            json={"upload_time": "2019-05-06T07:08:09Z"},
            auth=("__token__", token),
        ).is_success
        anonymous = vestry_import(target, f"{source.base}/simple/")  # sees public projects only
        assert anonymous.returncode == 0 and "found 0 file(s)" in anonymous.stdout
        done = vestry_import(target, f"{source.base}/simple/", "--source-token", token)
    finally:
        source.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept 1 upload time(s)" in done.stdout
    imported = files_of(target, "epsilon")["epsilon-1.0-py3-none-any.whl"]
    assert str(imported["upload-time"]).startswith("2019-05-06T07:08:09")

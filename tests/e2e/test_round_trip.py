"""The Foundation slice: twine uploads through the gateway, pip installs back, with a token."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.factories import make_sdist, make_wheel
from tests.support.clients import pip_install, twine_upload
from tests.support.vestry_up import RunningVestry

pytestmark = pytest.mark.e2e


def test_twine_upload_then_pip_install(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("alice")
    dist = tmp_path / "dist"
    dist.mkdir()
    files = [
        make_wheel(dist, "round-trip", "1.0"),
        make_sdist(dist, "round-trip", "1.0"),
        # Real-world legacy names: un-normalised wheel names and an old-style sdist.
        make_wheel(dist, "MarkupSafe", "3.0.2", dist_name="MarkupSafe"),
        make_wheel(dist, "PyYAML", "6.0.2", dist_name="PyYAML", module="yaml"),
    ]
    started = time.perf_counter()
    result = twine_upload(vestry.upload_url, token, *files)
    assert result.returncode == 0, result.stdout + result.stderr

    target = tmp_path / "target"
    result = pip_install(vestry.index_url(token), target, "round-trip==1.0", "markupsafe", "pyyaml")
    assert result.returncode == 0, result.stdout + result.stderr
    elapsed = time.perf_counter() - started
    print(f"e2e round trip (4 uploads + pip install of 3): {elapsed:.2f}s")
    assert (target / "round_trip" / "__init__.py").read_text() == '__version__ = "1.0"\n'
    assert (target / "markupsafe").is_dir()
    assert (target / "yaml").is_dir()

    # The old-style sdist name of an existing project is accepted (PEP 625 binds new projects).
    legacy = make_sdist(dist, "PyYAML", "6.0.3", filename_stem="PyYAML-6.0.3")
    result = twine_upload(vestry.upload_url, token, legacy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_anonymous_read_of_private_project_is_asked_to_authenticate(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    token = vestry.create_user("bob")
    wheel = make_wheel(tmp_path, "bobs-private", "0.1")
    assert twine_upload(vestry.upload_url, token, wheel).returncode == 0
    for path in (
        "/simple/bobs-private/",
        "/simple/no-such-project/",
        "/files/bobs-private/bobs_private-0.1-py3-none-any.whl",
    ):
        r = httpx.get(vestry.base + path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == 'Basic realm="vestry"'
    # Another user may not see it at all: 404, exactly like a project that does not exist.
    other = vestry.create_user("carol")
    r = httpx.get(vestry.base + "/simple/bobs-private/", auth=("__token__", other))
    assert r.status_code == 404
    # A garbage token is refused, not treated as anonymous.
    r = httpx.get(vestry.base + "/simple/bobs-private/", auth=("__token__", "vestry-garbage"))
    assert r.status_code == 401


def test_pip_without_token_cannot_install_private(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("dave")
    wheel = make_wheel(tmp_path, "daves-secret", "1.0")
    assert twine_upload(vestry.upload_url, token, wheel).returncode == 0
    result = pip_install(vestry.base + "/simple/", tmp_path / "t", "daves-secret")
    assert result.returncode != 0
    assert not (tmp_path / "t" / "daves_secret").exists()

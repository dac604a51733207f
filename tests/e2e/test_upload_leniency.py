"""Uploads private builds need, through real clients: PyPI's rule for local versions when the
operator asks for it, and a free-threaded wheel that `uv publish` sends without a pyversion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import BIN, run, twine_upload
from tests.support.vestry_up import RunningVestry, start_vestry

pytestmark = pytest.mark.e2e

PYPI_TEXT = (
    "'1.2.3+cu121' is an invalid value for Version. Error: Can't use PEP 440 local versions. "
    "See https://packaging.python.org/specifications/core-metadata for more information."
)


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    running = start_vestry(
        tmp_path_factory.mktemp("strict") / "data",
        env={"VESTRY_INDEX_ALLOW_LOCAL_VERSIONS": "false"},
    )
    yield running
    assert running.stop() == 0, running.log()


def test_without_local_versions_twine_shows_pypis_text(
    strict: RunningVestry, tmp_path: Path
) -> None:
    token = strict.create_user("lou")
    wheel = make_wheel(tmp_path, "torchish", "1.2.3+cu121")
    result = twine_upload(strict.upload_url, token, wheel, verbose=True)
    assert result.returncode != 0
    assert PYPI_TEXT in " ".join((result.stdout + result.stderr).split())


def test_uv_publishes_a_free_threaded_wheel_without_pyversion(
    strict: RunningVestry, tmp_path: Path
) -> None:
    token = strict.create_user("fred")
    built = make_wheel(tmp_path, "freethreaded", "1.0")
    wheel = built.rename(tmp_path / "freethreaded-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl")
    result = run(
        [
            str(BIN / "uv"),
            "publish",
            "--publish-url",
            strict.upload_url,
            "--username",
            "__token__",
            "--password",
            token,
            str(wheel),
        ],
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    info = httpx.get(
        f"{strict.base}/pypi/freethreaded/json", auth=("__token__", token), timeout=30
    ).json()
    assert [f["python_version"] for f in info["urls"]] == ["cp313"]

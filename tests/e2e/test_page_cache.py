"""Rendered pages are reused only while they are current, and access is checked every time."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import twine_upload
from tests.support.vestry_up import RunningVestry

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


def test_page_follows_uploads_and_access(vestry: RunningVestry, tmp_path: Path) -> None:
    token = vestry.create_user("cache-owner")
    other = vestry.create_user("cache-stranger")
    url = vestry.base + "/simple/cached-page/"
    assert (
        twine_upload(
            vestry.upload_url, token, make_wheel(tmp_path, "cached-page", "1.0")
        ).returncode
        == 0
    )
    with httpx.Client(auth=("__token__", token)) as client:
        html = client.get(url)
        as_json = client.get(url, headers={"Accept": JSON})  # the other format of a held page
        assert [f["filename"] for f in as_json.json()["files"]] == [
            "cached_page-1.0-py3-none-any.whl"
        ]
        assert "cached_page-1.0-py3-none-any.whl" in html.text
        assert (
            twine_upload(
                vestry.upload_url, token, make_wheel(tmp_path, "cached-page", "2.0")
            ).returncode
            == 0
        )
        again = client.get(url, headers={"Accept": JSON})
        assert again.json()["versions"] == ["1.0", "2.0"]
        assert again.headers["etag"] != as_json.headers["etag"]
        assert "cached_page-2.0-py3-none-any.whl" in client.get(url).text
    # A cached page is never a way around access checks.
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=("__token__", other)).status_code == 404


def _listed(vestry: RunningVestry, token: str) -> set[str]:
    r = httpx.get(vestry.base + "/simple/", auth=("__token__", token), headers={"Accept": JSON})
    assert r.status_code == 200
    return {p["name"] for p in r.json()["projects"]}


def test_root_listing_follows_role_changes_at_once(vestry: RunningVestry, tmp_path: Path) -> None:
    owner = vestry.create_user("listing-owner")
    reader = vestry.create_user("listing-reader")
    wheel = make_wheel(tmp_path, "listed-private", "1.0")
    assert twine_upload(vestry.upload_url, owner, wheel).returncode == 0
    assert "listed-private" in _listed(vestry, owner)
    assert "listed-private" not in _listed(vestry, reader)  # now held in the reader's cache
    members = vestry.base + "/api/v1/projects/listed-private/members/listing-reader"
    r = httpx.put(members, json={"role": "reader"}, auth=("__token__", owner))
    assert r.status_code == 200, r.text
    assert "listed-private" in _listed(vestry, reader)
    assert httpx.delete(members, auth=("__token__", owner)).status_code == 204
    assert "listed-private" not in _listed(vestry, reader)  # removed: gone at once

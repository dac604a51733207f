"""Warehouse-shaped JSON API documents from one ProjectPage."""

from __future__ import annotations

import json

import pytest
from vestry.index.v1 import index_pb2

from tests.factories.pages import SHA, demo_page, release
from vestry.gateway.json_api import (
    VersionNotFound,
    latest_release,
    project_document,
    release_document,
)

BASE = "https://vestry.example"


def test_project_document() -> None:
    doc = json.loads(project_document(BASE, demo_page()))
    assert set(doc) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    assert doc["last_serial"] == 42
    # 2.0rc1 is a pre-release and 1.0 is yanked: the latest is 1.10 (not 1.2: versions, not text).
    info = doc["info"]
    assert info["version"] == "1.10"
    assert info["name"] == "Demo.Pkg"
    assert info["summary"] == "Demo 1.10"
    assert info["requires_python"] == ">=3.9"
    assert info["requires_dist"] is None
    assert info["yanked"] is False and info["yanked_reason"] is None
    assert info["release_url"] == f"{BASE}/pypi/demo-pkg/1.10/json"
    assert info["project_url"] == info["package_url"] == f"{BASE}/project/demo-pkg/"
    assert list(doc["releases"]) == ["1.0", "1.2", "1.10", "2.0rc1"]
    assert [f["filename"] for f in doc["urls"]] == [
        "demo_pkg-1.10-py3-none-any.whl",
        "demo_pkg-1.10.tar.gz",
    ]
    wheel = doc["urls"][0]
    assert wheel == {
        "comment_text": "",
        "digests": {"blake2b_256": SHA[1][::-1], "md5": SHA[1][:32], "sha256": SHA[1]},
        "downloads": -1,
        "filename": "demo_pkg-1.10-py3-none-any.whl",
        "has_sig": False,
        "md5_digest": SHA[1][:32],
        "packagetype": "bdist_wheel",
        "python_version": "py3",
        "requires_python": ">=3.9,<4",
        "size": 1001,
        "upload_time": "2025-03-04T05:06:07",
        "upload_time_iso_8601": "2025-03-04T05:06:07.123456Z",
        "url": f"{BASE}/files/demo-pkg/demo_pkg-1.10-py3-none-any.whl",
        "yanked": False,
        "yanked_reason": None,
    }
    assert doc["urls"][1]["upload_time_iso_8601"] is None
    yanked = doc["releases"]["1.0"][0]
    assert yanked["yanked"] is True and yanked["yanked_reason"] == "broken <build> & bad"


@pytest.mark.parametrize(
    ("asked", "found"), [("1.10", "1.10"), ("1.2", "1.2"), ("1.2.0", "1.2"), ("2.0.0rc1", "2.0rc1")]
)
def test_release_document(asked: str, found: str) -> None:
    doc = json.loads(release_document(BASE, demo_page(), asked))
    assert "releases" not in doc  # as on PyPI: the version document has no release list
    assert doc["info"]["version"] == found
    assert {f["filename"].split("-")[1].removesuffix(".tar.gz") for f in doc["urls"]} == {found}


def test_release_document_of_yanked_release() -> None:
    info = json.loads(release_document(BASE, demo_page(), "1.0"))["info"]
    assert info["yanked"] is True and info["yanked_reason"] == "broken <build> & bad"


@pytest.mark.parametrize("version", ["3.0", "not-a-version", ""])
def test_unknown_version(version: str) -> None:
    with pytest.raises(VersionNotFound):
        release_document(BASE, demo_page(), version)


@pytest.mark.parametrize(
    ("releases", "latest"),
    [
        ([], None),
        ([release("1.0"), release("2.0")], "2.0"),
        ([release("1.0"), release("2.0b1")], "1.0"),
        ([release("1.0", yanked=True), release("0.9")], "0.9"),
        # Nothing final and unyanked: the highest of all, as PyPI does.
        ([release("1.0a1"), release("1.0a2")], "1.0a2"),
        ([release("1.0", yanked=True)], "1.0"),
    ],
)
def test_latest_release(releases: list[index_pb2.Release], latest: str | None) -> None:
    page = index_pb2.ProjectPage(project=index_pb2.Project(name="x"), releases=releases)
    chosen = latest_release(page)
    assert (chosen.version if chosen else None) == latest


def test_empty_project() -> None:
    page = index_pb2.ProjectPage(project=index_pb2.Project(name="Empty", normalized_name="empty"))
    doc = json.loads(project_document(BASE, page))
    assert doc["urls"] == [] and doc["releases"] == {}
    assert doc["info"]["name"] == "Empty" and doc["info"]["release_url"] is None


@pytest.mark.parametrize(
    ("home_page", "project_urls", "shown_home", "shown_urls"),
    [
        ("javascript:alert(1)", {"Docs": "JavaScript:alert(1)"}, "", None),
        (
            "https://ok.example",
            {"Docs": "https://docs.example", "Evil": "data:text/html,x", "Src": " javascript:x"},
            "https://ok.example",
            {"Docs": "https://docs.example"},
        ),
        ("", {}, "", None),
    ],
)
@pytest.mark.parametrize("document", ["project", "release"])
def test_stored_non_http_urls_are_never_served_as_links(
    home_page: str,
    project_urls: dict[str, str],
    shown_home: str,
    shown_urls: dict[str, str] | None,
    document: str,
) -> None:
    # Metadata stored before uploads checked URLs may hold anything.
    page = index_pb2.ProjectPage(
        project=index_pb2.Project(id="p", name="x", normalized_name="x", last_serial=1),
        releases=[release("1.0", home_page=home_page, project_urls=project_urls)],
    )
    raw = (
        project_document(BASE, page)
        if document == "project"
        else release_document(BASE, page, "1.0")
    )
    info = json.loads(raw)["info"]
    assert info["home_page"] == shown_home
    assert info["project_urls"] == shown_urls


@pytest.mark.parametrize("version", ["9" * 5000, "1." + "0" * 4400, "1" * 101, "\x00"])
def test_absurd_versions_in_urls_are_not_found(version: str) -> None:
    with pytest.raises(VersionNotFound):
        release_document(BASE, demo_page(), version)

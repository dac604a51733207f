"""PEP 503/691 rendering from one ProjectPage; pypi-simple parses both and they must agree."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from pypi_simple import ProjectPage as ParsedPage
from pypi_simple import ProjectStatus
from vestry.index.v1 import index_pb2

from tests.factories.pages import SHA, demo_page
from vestry.gateway.simple_render import (
    API_VERSION,
    project_html,
    project_json,
    root_html,
    root_json,
)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self.meta: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "meta":
            d = dict(attrs)
            self.meta[str(d.get("name"))] = d.get("content")


def _html(page: index_pb2.ProjectPage) -> _Anchors:
    parser = _Anchors()
    parser.feed(project_html(page).decode())
    return parser


def _by_filename(page: index_pb2.ProjectPage) -> dict[str, dict[str, object]]:
    doc = json.loads(project_json(page))
    return {f["filename"]: f for f in doc["files"]}


def test_json_document_fields() -> None:
    doc = json.loads(project_json(demo_page()))
    assert doc["meta"] == {"api-version": API_VERSION, "_last-serial": 42}
    assert doc["name"] == "demo-pkg"
    # PEP 700: every version, sorted as versions (1.2 < 1.10), not as strings.
    assert doc["versions"] == ["1.0", "1.2", "1.10", "2.0rc1"]
    assert doc["project-status"] == {"status": "active"}
    first = next(f for f in doc["files"] if f["filename"] == "demo_pkg-1.0-py3-none-any.whl")
    assert first == {
        "filename": "demo_pkg-1.0-py3-none-any.whl",
        "url": "/files/demo-pkg/demo_pkg-1.0-py3-none-any.whl",
        "hashes": {"sha256": SHA[4]},
        "requires-python": None,
        "size": 1004,
        "yanked": "broken <build> & bad",
        "upload-time": "2025-03-04T05:06:07.123456Z",
        "core-metadata": {"sha256": SHA[5]},
        "dist-info-metadata": {"sha256": SHA[5]},
    }


@pytest.mark.parametrize(
    ("filename", "yanked"),
    [
        ("demo_pkg-1.10-py3-none-any.whl", False),
        ("demo_pkg-1.2-py3-none-any.whl", True),  # yanked, no reason: true, not ""
        ("demo_pkg-2.0rc1-py3-none-any.whl", 'CVE "quoted"'),
        ("demo_pkg-1.0-py3-none-any.whl", "broken <build> & bad"),  # the release's yank
    ],
)
def test_yanked_in_both_formats(filename: str, yanked: bool | str) -> None:
    assert _by_filename(demo_page())[filename]["yanked"] == yanked
    anchor = next(a for a in _html(demo_page()).anchors if a["href"] and filename in a["href"])
    if yanked is False:
        assert "data-yanked" not in anchor
    else:
        assert anchor["data-yanked"] == ("" if yanked is True else yanked)


def test_html_escapes_requires_python_and_reasons() -> None:
    raw = project_html(demo_page()).decode()
    assert 'data-requires-python="&gt;=3.9,&lt;4"' in raw
    assert 'data-yanked="CVE &quot;quoted&quot;"' in raw
    assert 'data-yanked="broken &lt;build&gt; &amp; bad"' in raw
    assert "<4" not in raw


def test_core_metadata_attributes() -> None:
    anchors = {a["href"]: a for a in _html(demo_page()).anchors}
    wheel = anchors[f"/files/demo-pkg/demo_pkg-1.10-py3-none-any.whl#sha256={SHA[1]}"]
    assert wheel["data-core-metadata"] == f"sha256={SHA[2]}"
    assert wheel["data-dist-info-metadata"] == f"sha256={SHA[2]}"
    sdist = anchors[f"/files/demo-pkg/demo_pkg-1.10.tar.gz#sha256={SHA[2]}"]
    assert "data-core-metadata" not in sdist and "data-dist-info-metadata" not in sdist
    files = _by_filename(demo_page())
    assert files["demo_pkg-1.10.tar.gz"]["core-metadata"] is False
    # No upload time recorded: the key is absent rather than a made-up date.
    assert "upload-time" not in files["demo_pkg-1.10.tar.gz"]


def test_html_meta_and_status() -> None:
    parsed = _html(demo_page("archived", "moved to <new-pkg>"))
    assert parsed.meta["pypi:repository-version"] == API_VERSION
    assert parsed.meta["pypi:project-status"] == "archived"
    assert parsed.meta["pypi:project-status-reason"] == "moved to <new-pkg>"
    doc = json.loads(project_json(demo_page("archived", "moved to <new-pkg>")))
    assert doc["project-status"] == {"status": "archived", "reason": "moved to <new-pkg>"}


def test_quarantined_project_offers_no_files() -> None:
    page = demo_page("quarantined", "malware")
    assert json.loads(project_json(page))["files"] == []
    assert _html(page).anchors == []
    # The versions stay listed: the project's history is not secret, its files are withheld.
    assert json.loads(project_json(page))["versions"] == ["1.0", "1.2", "1.10", "2.0rc1"]


@pytest.mark.parametrize("status", ["", "archived", "deprecated"])
def test_pypi_simple_reads_both_formats_the_same(status: str) -> None:
    page = demo_page(status, "because" if status else "")
    base = "http://vestry.test/simple/demo-pkg/"
    from_html = ParsedPage.from_html("demo-pkg", project_html(page), base_url=base)
    from_json = ParsedPage.from_json_data(json.loads(project_json(page)), base_url=base)
    assert from_html.repository_version == from_json.repository_version == API_VERSION
    assert from_html.status == from_json.status == ProjectStatus(status or "active")
    assert len(from_html.packages) == len(from_json.packages) == 5
    for h, j in zip(from_html.packages, from_json.packages, strict=True):
        for attr in (
            "filename",
            "url",
            "digests",
            "requires_python",
            "is_yanked",
            "yanked_reason",
            "has_metadata",
            "metadata_digests",
            "version",
        ):
            h_value, j_value = getattr(h, attr), getattr(j, attr)
            if attr == "yanked_reason" and h_value == "" and j_value is None:
                continue  # HTML cannot tell "no reason" from "empty reason"; both mean yanked
            if attr == "has_metadata" and not h_value and j_value is False:
                continue  # an absent HTML attribute and JSON's false (as PyPI sends) agree
            assert h_value == j_value, (attr, h.filename)
    wheel = from_json.packages[0]
    assert wheel.url == "http://vestry.test/files/demo-pkg/demo_pkg-1.10-py3-none-any.whl"
    assert wheel.upload_time is not None and wheel.upload_time.tzinfo is not None
    assert wheel.size == 1001


def test_root_listing_both_formats() -> None:
    projects = [
        index_pb2.ProjectSummary(name="Demo.Pkg", normalized_name="demo-pkg", last_serial=3),
        index_pb2.ProjectSummary(name="zeta", normalized_name="zeta", last_serial=5),
    ]
    doc = json.loads(root_json(projects, 9))
    assert doc == {
        "meta": {"api-version": API_VERSION, "_last-serial": 9},
        "projects": [{"name": "Demo.Pkg", "_last-serial": 3}, {"name": "zeta", "_last-serial": 5}],
    }
    parser = _Anchors()
    parser.feed(root_html(projects).decode())
    assert [a["href"] for a in parser.anchors] == ["/simple/demo-pkg/", "/simple/zeta/"]
    assert parser.meta["pypi:repository-version"] == API_VERSION

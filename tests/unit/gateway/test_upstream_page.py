"""Upstream pages: parsed from PEP 503 HTML or PEP 691 JSON into one form, every field kept,
URLs rewritten to Vestry's, and the cooldown's choice of files, as tables of cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.tables import maps
from vestry.gateway.upstream.page import (
    UpstreamPage,
    parse_html,
    parse_json,
    render_html,
    render_json,
    select_files,
    shown,
)

BASE = "https://up.example/simple/demo/"
SHA = "a" * 64
META = "b" * 64
HTML = f"""<!DOCTYPE html><html><head>
<meta name="pypi:repository-version" content="1.1">
<meta name="pypi:project-status" content="deprecated">
<meta name="pypi:project-status-reason" content="use other">
</head><body>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256={SHA}" data-requires-python="&gt;=3.9"
   data-dist-info-metadata="sha256={META}">demo-1.0-py3-none-any.whl</a>
<a href="https://cdn.example/demo-0.9.tar.gz#sha256={SHA}" data-yanked="">demo-0.9.tar.gz</a>
<a href="/files/demo-0.8.tar.gz#sha256={SHA}" data-yanked="bad &amp; old"
   data-core-metadata="true">demo-0.8.tar.gz</a>
</body></html>""".encode()


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "demo-1.0-py3-none-any.whl",
            {
                "url": "https://up.example/files/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA},
                "requires-python": ">=3.9",
                "yanked": False,
                "core-metadata": {"sha256": META},
            },
        ),
        (
            "demo-0.9.tar.gz",
            {"url": "https://cdn.example/demo-0.9.tar.gz", "yanked": True, "core-metadata": False},
        ),
        (
            "demo-0.8.tar.gz",
            {
                "url": "https://up.example/files/demo-0.8.tar.gz",
                "yanked": "bad & old",
                "core-metadata": True,
            },
        ),
    ],
)
def test_html_attributes_become_pep_691_fields(filename: str, expected: dict[str, object]) -> None:
    page = parse_html(HTML, BASE, "demo")
    f = page.find(filename)
    assert f is not None
    for key, value in expected.items():
        assert f[key] == value, key
    assert page.status == {"status": "deprecated", "reason": "use other"}


def test_json_keeps_unknown_keys_and_resolves_urls() -> None:
    doc = {
        "meta": {"api-version": "1.4", "_last-serial": 3},
        "name": "demo",
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "/f/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA},
                "size": 10,
                "upload-time": "2026-01-01T00:00:00.000000Z",
                "provenance": "https://up.example/p",
                "core-metadata": {"sha256": META},
            }
        ],
        "versions": ["1.0", "2.0"],
        "project-status": {"status": "active"},
    }
    page = parse_json(json.dumps(doc).encode(), BASE, "demo")
    assert page.files[0]["url"] == "https://up.example/f/demo-1.0-py3-none-any.whl"
    out = json.loads(render_json("demo", page, page.files, []))
    (f,) = out["files"]
    assert f["url"] == "/files/demo/demo-1.0-py3-none-any.whl"
    assert f["provenance"] == "https://up.example/p"
    assert f["dist-info-metadata"] == f["core-metadata"] == {"sha256": META}
    assert out["meta"]["_last-serial"] == 3
    assert out["versions"] == ["1.0", "2.0"]
    assert UpstreamPage.loads(page.dumps()) == page


def test_html_render_round_trips_through_the_parser() -> None:
    page = parse_html(HTML, BASE, "demo")
    again = parse_html(render_html("demo", page, page.files), "https://vestry.example/", "demo")
    for before, after in zip(page.files, again.files, strict=True):
        assert after["url"] == f"https://vestry.example/files/demo/{before['filename']}"
        for key in ("hashes", "requires-python", "yanked", "core-metadata"):
            assert after.get(key) == before.get(key), key


NOW = datetime(2026, 12, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


def _f(version: str, age: timedelta | None) -> dict[str, object]:
    f: dict[str, object] = {"filename": f"demo-{version}.tar.gz", "url": "u", "hashes": {}}
    if age is not None:
        f["upload-time"] = (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f


@pytest.mark.parametrize(
    ("cutoff", "undated", "local", "offered", "held"),
    [
        (None, True, (), ["1.0", "2.0", "3.0"], []),  # no cooldown
        (NOW - WEEK, True, (), ["1.0", "3.0"], ["2.0"]),
        (NOW - WEEK, False, (), ["1.0"], ["2.0", "3.0"]),  # undated held by setting
        (None, True, ("1.0",), ["2.0", "3.0"], []),  # merge: local versions win
    ],
)
def test_select_files(
    cutoff: datetime | None,
    undated: bool,
    local: tuple[str, ...],
    offered: list[str],
    held: list[str],
) -> None:
    page = UpstreamPage(
        "demo", [_f("1.0", 30 * WEEK), _f("2.0", timedelta(days=1)), _f("3.0", None)]
    )
    files, holds = select_files(page, "demo", cutoff, WEEK, undated, frozenset(local))
    assert [str(f["filename"]).split("-")[1][:-7] for f in files] == offered
    assert [h.version for h in holds] == held
    for h in holds:
        if h.version == "2.0":
            assert h.eligible == NOW - timedelta(days=1) + WEEK


@pytest.mark.parametrize(
    ("cutoff", "cached", "offered"),
    [
        (None, (), ["demo-1.0.tar.gz", "demo-2.0.tar.gz"]),  # no cooldown: yanked stay listed
        (NOW - WEEK, (), ["demo-1.0.tar.gz"]),  # yanked before Vestry took it: never
        (NOW - WEEK, ("demo-2.0.tar.gz",), ["demo-1.0.tar.gz", "demo-2.0.tar.gz"]),
    ],
)
def test_a_yank_during_the_cooldown_hides_the_file_for_good(
    cutoff: datetime | None, cached: tuple[str, ...], offered: list[str]
) -> None:
    yanked = _f("2.0", 2 * WEEK)
    yanked["yanked"] = "malware"
    page = UpstreamPage("demo", [_f("1.0", 30 * WEEK), yanked])
    files, _ = select_files(page, "demo", cutoff, WEEK, True, frozenset(), frozenset(cached))
    assert [f["filename"] for f in files] == offered


@pytest.mark.parametrize(
    "filename", ["../../etc/passwd", 'x".whl', "a\\b.whl", "new\nline.whl", ""]
)
def test_filenames_unfit_for_urls_and_headers_are_left_out(filename: str) -> None:
    doc = {"files": [{"filename": filename, "url": "x", "hashes": {}}]}
    assert parse_json(json.dumps(doc).encode(), BASE, "demo").files == []


test_upstream_credentials_are_never_shown = maps(
    shown,
    [
        ("https://pypi.org/simple/", "https://pypi.org/simple/"),
        ("https://ci:s3cret@corp.example/simple/", "https://corp.example/simple/"),
        ("https://a@b:c@corp.example:8443/x", "https://corp.example:8443/x"),
    ],
)


def test_files_named_for_another_project_are_left_out() -> None:
    page = UpstreamPage(
        "demo",
        [_f("1.0", None), {"filename": "requests-2.0.tar.gz", "url": "u", "hashes": {}}],
    )
    files, _ = select_files(page, "demo", None, WEEK, True)
    assert [f["filename"] for f in files] == ["demo-1.0.tar.gz"]

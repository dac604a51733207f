"""Negotiation: PEP 691 on the Accept headers real clients send (q-values, wildcards, 406), and
gzip on Accept-Encoding."""

from __future__ import annotations

import pytest

from vestry.gateway.negotiation import HTML, HTML_V1, JSON, accepts_gzip, choose

# Copied from the clients' sources (pip `_internal/index/collector.py`, uv `uv-client`).
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML),
        ("", HTML),
        (PIP_ACCEPT, JSON),
        (UV_ACCEPT, JSON),
        ("text/html", HTML),  # pip < 22.2, browsers' first choice
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", HTML),  # a browser
        (JSON, JSON),
        (HTML_V1, HTML_V1),
        ("application/vnd.pypi.simple.latest+json", JSON),
        ("application/vnd.pypi.simple.latest+html", HTML_V1),
        ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", JSON),
        # Wildcards: ties go to the server's preference (JSON, then the versioned HTML).
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/*", HTML),
        # q-values decide, not the order in the header.
        (f"{JSON};q=0.5, text/html;q=0.9", HTML),
        (f"text/html;q=0.2, {HTML_V1};q=0.3, {JSON};q=0.1", HTML_V1),
        # q=0 means "not acceptable", and the most specific range wins over a wildcard.
        (f"{JSON};q=0, text/html", HTML),
        (f"*/*, {JSON};q=0", HTML_V1),
        (f"*/*;q=0.1, {JSON};q=0, {HTML_V1};q=0", HTML),
        (f"{JSON};q=garbage, text/html;q=0.1", HTML),
        (f"{JSON};q=7", JSON),  # out of range: clamped to 1
        (f"{JSON} ; charset=utf-8 ; q=1", JSON),
        # Nothing we can serve: 406.
        (f"{JSON};q=0", None),
        ("*/*;q=0", None),
        ("application/json", None),
        ("image/png", None),
        ("application/vnd.pypi.simple.v2+json", None),
        (" , ", None),
    ],
)
def test_choose(accept: str | None, expected: str | None) -> None:
    assert choose(accept) == expected


@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        ("gzip, deflate", True),  # pip (requests/urllib3), poetry, httpx
        ("gzip, deflate, br, zstd", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("identity", False),
        ("br", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),  # named and refused: the wildcard does not bring it back
        ("*;q=0", False),
        ("", False),
        (None, False),
    ],
)
def test_gzip_is_used_only_when_acceptable(accept_encoding: str | None, gzip: bool) -> None:
    assert accepts_gzip(accept_encoding) is gzip

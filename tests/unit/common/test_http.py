"""The one Content-Disposition: the gateway's downloads and storage's presigned URLs."""

from __future__ import annotations

import pytest

from tests.support.tables import maps
from vestry.common.http import content_disposition

test_content_disposition_cannot_break_out = maps(
    content_disposition,
    [
        ("demo-1.0-py3-none-any.whl", 'attachment; filename="demo-1.0-py3-none-any.whl"'),
        ("demo-1.0.tar.gz", 'attachment; filename="demo-1.0.tar.gz"'),
        ('a".whl\r\nX: y', "attachment; filename*=UTF-8''a%22.whl%0D%0AX%3A%20y"),
        ("../../etc/passwd", "attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"),
        ("dé mo.whl", "attachment; filename*=UTF-8''d%C3%A9%20mo.whl"),
    ],
)


HOSTILE_NAMES = [
    'demo-1.0-py3-none-linux";.whl',
    'demo-1.0-py3-none-any.whl"; filename="evil.exe',
    "demo\r\nSet-Cookie: a=b.whl",
    "demo\nLocation: http://evil/.whl",
    "demo\x00\x7f.whl",
    "démo-1.0.tar.gz",
    "名前-1.0.tar.gz",
    "emoji-\U0001f600-1.0.tar.gz",
    "lone-\ud800-surrogate.whl",
    "\u2028line\u2029sep.whl",
    "a" * 5000 + ".whl",
    "",
]


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_content_disposition_of_any_stored_name_is_one_ascii_parameter(filename: str) -> None:
    from starlette.responses import Response

    header = content_disposition(filename)
    assert header.isascii() and header.isprintable()
    assert "\r" not in header and "\n" not in header
    # One parameter at most, and never a quote or ';' of the name's own.
    assert header.count(";") <= 1 and header.count('"') in (0, 2)
    assert header == "attachment" or header.startswith(
        ("attachment; filename", "attachment; filename*")
    )
    # What Starlette sends (headers are Latin-1): a download of any stored name is never a 500.
    Response(b"", headers={"Content-Disposition": header})


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://example.org/x", True),
        ("http://example.org", True),
        ("HTTPS://EXAMPLE.ORG/", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox", False),
        ("//evil.example/x", False),
        ("https:///nohost", False),
        ("https://example.org/\nx", False),
        ("https://[::1", False),
        ("", False),
    ],
)
def test_only_http_urls_are_links(url: str, link: bool) -> None:
    from vestry.common.http import is_link_url

    assert is_link_url(url) is link

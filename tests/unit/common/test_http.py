"""The one Content-Disposition: the gateway's downloads and storage's presigned URLs."""

from __future__ import annotations

import pytest

from vestry.common.http import content_disposition


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("demo-1.0-py3-none-any.whl", 'attachment; filename="demo-1.0-py3-none-any.whl"'),
        ("demo-1.0.tar.gz", 'attachment; filename="demo-1.0.tar.gz"'),
        ('a".whl\r\nX: y', "attachment; filename*=UTF-8''a%22.whl%0D%0AX%3A%20y"),
        ("../../etc/passwd", "attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"),
        ("dé mo.whl", "attachment; filename*=UTF-8''d%C3%A9%20mo.whl"),
    ],
)
def test_content_disposition_cannot_break_out(filename: str, header: str) -> None:
    assert content_disposition(filename) == header

from __future__ import annotations

import pytest

from vestry.gateway.conditional import etag_matches

TAG = '"abc123"'


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"abc123"', True),
        ('W/"abc123"', True),  # If-None-Match uses the weak comparison
        ('"zzz", "abc123"', True),
        ('"zzz",W/"abc123"', True),
        ("*", True),
        ('"abc12"', False),
        ("abc123", False),  # unquoted: not the same entity tag
        ('"ABC123"', False),
    ],
)
def test_etag_matches(header: str | None, matches: bool) -> None:
    assert etag_matches(header, TAG) is matches

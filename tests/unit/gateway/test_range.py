"""Range headers (RFC 9110 §14): one byte range served, anything else ignored or refused, and
no header, however absurd, is a 500."""

from __future__ import annotations

import pytest

from vestry.gateway.errors import HTTPError
from vestry.gateway.routes.files import _parse_range

BIG = "9" * 5000  # int() refuses more than 4300 digits
UNSATISFIABLE = "416"


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 10)),
        ("bytes=90-", 100, (90, 10)),
        ("bytes=-10", 100, (90, 10)),
        ("bytes=0-1000", 100, (0, 100)),
        ("bytes=100-", 100, UNSATISFIABLE),
        ("bytes=5-4", 100, UNSATISFIABLE),
        ("bytes=-0", 100, UNSATISFIABLE),
        ("bytes=-5", 0, UNSATISFIABLE),
        ("bytes=-", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
        ("bytes=\u0663-", 100, None),  # a non-ASCII digit is garbage, not a position
        # Absurd positions: past any end, never an int() of thousands of digits.
        (f"bytes={BIG}-", 100, UNSATISFIABLE),
        (f"bytes=0-{BIG}", 100, (0, 100)),
        (f"bytes=-{BIG}", 100, (0, 100)),
        (f"bytes={BIG}-{BIG}", 100, UNSATISFIABLE),
        (f"bytes=0000000000000000000000000{'0' * 5000}5-", 100, (5, 95)),
        ("bytes=" + "1" * 19 + "-", 100, UNSATISFIABLE),
        ("bytes=0-" + "9" * 200, 10**12, (0, 10**12)),
        ("bytes=" + "0-" * 10000, 100, None),
    ],
)
def test_parse_range(header: str, size: int, expected: object) -> None:
    if expected == UNSATISFIABLE:
        with pytest.raises(HTTPError) as err:
            _parse_range(header, size)
        assert err.value.status == 416
        assert err.value.headers == {"Content-Range": f"bytes */{size}"}
    else:
        assert _parse_range(header, size) == expected

from __future__ import annotations

import pytest

from vestry.common.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("30s", 30),
        ("5m", 300),
        ("12h", 43200),
        ("30d", 2592000),
        ("1w", 604800),
        ("1h30m", 5400),
        (" 2D ", 172800),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5m", "5x", "h", "1h 30m", "1.5h", "5mm"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)

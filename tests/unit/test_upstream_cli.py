"""The proxy's command-line surface: `vestry up --upstream URL` and `vestry upstream …`."""

from __future__ import annotations

import pytest

from vestry.cli.errors import CliError
from vestry.cli.main import _parser
from vestry.cli.upstream import _until


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["up", "--upstream", "https://pypi.org/simple/"],
            {"upstream": "https://pypi.org/simple/"},
        ),
        (["up"], {"upstream": None}),
        (
            ["upstream", "exempt", "six", "--until", "2030-01-01"],
            {"project": "six", "until": "2030-01-01"},
        ),
        (["upstream", "exempt", "six"], {"project": "six", "until": None}),
        (["upstream", "unexempt", "six"], {"project": "six"}),
        (["upstream", "merge", "mixed"], {"project": "mixed"}),
        (["upstream", "unmerge", "mixed"], {"project": "mixed"}),
        (["upstream", "rules"], {}),
        (["gc", "--prune-upstream"], {"prune_upstream": True}),
    ],
)
def test_commands_parse(argv: list[str], expected: dict[str, object]) -> None:
    args = _parser().parse_args(argv)
    for key, value in expected.items():
        assert getattr(args, key) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-01", "2030-01-01T00:00:00+00:00"),
        ("2030-01-01T12:30:00+02:00", "2030-01-01T12:30:00+02:00"),
        (None, None),
    ],
)
def test_until_dates(text: str | None, expected: str | None) -> None:
    assert _until(text) == expected


def test_a_bad_until_says_what_to_write() -> None:
    with pytest.raises(CliError, match="2026-12-31"):
        _until("next tuesday")

from __future__ import annotations

import pytest

from vestry.common.errors import InvalidArgument
from vestry.common.versions import MAX_VERSION_LENGTH, parse_version


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.0", "1.0"),
        ("1.0.0rc1", "1.0.0rc1"),
        ("2!1.0.post1.dev2", "2!1.0.post1.dev2"),
        ("1.0-beta", "1.0b0"),
        ("v1.0", "1.0"),
    ],
)
def test_pep_440_versions_are_accepted(text: str, canonical: str) -> None:
    assert str(parse_version(text)) == canonical


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "1-100 characters"),
        ("1" * (MAX_VERSION_LENGTH + 1), "1-100 characters"),
        ("9" * 100_000, "1-100 characters"),
        (" 1.0", "whitespace"),
        ("1.0\n", "whitespace"),
        ("not-a-version", "not a valid version"),
        ("1.0-beta_x", "not a valid version"),
        ("1.0+local", "Can.t use PEP 440 local versions"),
    ],
)
def test_anything_else_is_refused_with_its_reason(text: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        parse_version(text)


def test_local_versions_are_accepted_when_allowed() -> None:
    assert parse_version("2.5.1+cu121", allow_local=True).local == "cu121"

"""Tables of cases for pure functions: each row is what goes in and what must come out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest


def maps(function: Callable[[Any], Any], table: Sequence[tuple[Any, Any]]) -> Any:
    """A test, parametrized by `table`, that `function(given) == expected` for every row.

    Bind it to a `test_…` name in a test module so pytest collects it; each row is its own case.
    """

    @pytest.mark.parametrize(("given", "expected"), table)
    def test(given: Any, expected: Any) -> None:
        assert function(given) == expected

    return test

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.vestry_up import RunningVestry, module_vestry


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    yield from module_vestry(tmp_path_factory, "vestry-index")

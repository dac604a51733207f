from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.vestry_up import RunningVestry, start_vestry


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    running = start_vestry(tmp_path_factory.mktemp("vestry-index") / "data")
    yield running
    code = running.stop()
    assert code == 0, f"vestry up exited {code} on SIGTERM:\n{running.log()}"

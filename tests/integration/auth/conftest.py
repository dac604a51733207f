from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth import clock_fixture, engine_fixture
from tests.support.redis import ThrowawayRedis
from tests.support.vestry_up import free_port

__all__ = ["clock_fixture", "engine_fixture"]  # the shared `clock` and `engine` fixtures


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(free_port())
    server.start()
    yield server
    server.stop()

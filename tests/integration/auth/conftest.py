from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.support.auth import Clock, auth_engine
from tests.support.redis import ThrowawayRedis
from tests.support.vestry_up import free_port


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with auth_engine(database_url) as eng:
        yield eng


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(free_port())
    server.start()
    yield server
    server.stop()

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.support.auth import Clock, auth_engine, make_service
from vestry.services.auth.service import AuthService


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with auth_engine(database_url) as eng:
        yield eng


@pytest.fixture
def service(engine: Engine, clock: Clock) -> AuthService:
    return make_service(engine, clock=clock)

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from vestry.common.db import make_engine
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.cache import VerificationCache
from vestry.services.auth.server import migrate_database
from vestry.services.auth.service import AuthService

NOW = 1_800_000_000.0


@dataclass
class Clock:
    """A clock the test moves by hand, so expiry is tested without waiting."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    migrate_database(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def make_service(
    engine: Engine, cache: VerificationCache | None = None, clock: Clock | None = None
) -> AuthService:
    return AuthService(engine, cache or MemoryCache(), cache_ttl=300, clock=clock or Clock())


@pytest.fixture
def service(engine: Engine, clock: Clock) -> AuthService:
    return make_service(engine, clock=clock)

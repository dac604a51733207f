"""The auth service for tests: a hand-moved clock, a migrated database and the service itself,
and the `clock` and `engine` fixtures the auth tests' conftests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

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


@contextmanager
def auth_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated auth database, disposed of afterwards."""
    migrate_database(database_url)
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="engine")
def engine_fixture(database_url: str) -> Iterator[Engine]:
    with auth_engine(database_url) as eng:
        yield eng


def snapshot(engine: Engine) -> list[tuple[object, ...]]:
    """Every row of the auth tables, in id order: equal snapshots mean nothing changed."""
    with engine.connect() as c:
        rows: list[tuple[object, ...]] = []
        for table in ("users", "tokens", "auth_events"):
            rows += [tuple(r) for r in c.execute(text(f"SELECT * FROM {table} ORDER BY id"))]  # noqa: S608
        return rows


def make_service(
    engine: Engine, cache: VerificationCache | None = None, clock: Clock | None = None
) -> AuthService:
    return AuthService(engine, cache or MemoryCache(), cache_ttl=300, clock=clock or Clock())

"""The auth service for tests: a hand-moved clock, a migrated database and the service itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


@contextmanager
def auth_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated auth database, disposed of afterwards."""
    migrate_database(database_url)
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


def make_service(
    engine: Engine, cache: VerificationCache | None = None, clock: Clock | None = None
) -> AuthService:
    return AuthService(engine, cache or MemoryCache(), cache_ttl=300, clock=clock or Clock())

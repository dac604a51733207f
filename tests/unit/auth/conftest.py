from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.support.auth import Clock, clock_fixture, engine_fixture, make_service
from vestry.services.auth.service import AuthService

__all__ = ["clock_fixture", "engine_fixture"]  # the shared `clock` and `engine` fixtures


@pytest.fixture
def service(engine: Engine, clock: Clock) -> AuthService:
    return make_service(engine, clock=clock)

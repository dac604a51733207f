"""`vestry admin create-user` on a deployment's (PostgreSQL) auth database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vestry.common.db import make_engine
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.server import migrate_database
from vestry.services.auth.service import AuthService

BIN = Path(sys.executable).parent


def _create(name: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "vestry"), "admin", "create-user", name, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_first_admin_on_a_migrated_deployment_database(postgres_url: str, tmp_path: Path) -> None:
    migrate_database(postgres_url)
    result = _create("root", {"VESTRY_AUTH_DATABASE_URL": postgres_url}, "--admin")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    engine = make_engine(postgres_url)
    try:
        verified = AuthService(engine, MemoryCache()).verify(token)
    finally:
        engine.dispose()
    assert verified.username == "root" and verified.admin
    assert not (tmp_path / "vestry-data").exists()


def test_an_unmigrated_deployment_database_is_refused_not_migrated(postgres_url: str) -> None:
    result = _create("root", {"VESTRY_AUTH_DATABASE_URL": postgres_url})
    assert result.returncode == 1
    assert "vestry migrate" in result.stderr
    assert "Traceback" not in result.stderr

"""`vestry migrate`: idempotent, safe from several replicas at once; services refuse a database
that is not exactly at their schema version."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from vestry.common.db import check_migrated, make_engine, migrate
from vestry.common.errors import FailedPrecondition
from vestry.services.auth import server as auth_server
from vestry.services.index import server as index_server

BIN = Path(sys.executable).parent
SERVERS = {"auth": auth_server, "index": index_server}


def _env(**values: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VESTRY_")}
    return {**base, **values}


def _vestry(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "vestry"), *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _migrate(service: str, url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine, SERVERS[service].MIGRATIONS, SERVERS[service].VERSION_TABLE)
    finally:
        engine.dispose()


def _revisions(service: str) -> list[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVERS[service].MIGRATIONS))
    return [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()]  # head first


def test_many_migrators_at_once_all_succeed(database_url: str) -> None:
    """Six racing migrations of one fresh database (both services' schemas, three each)."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def migrate(service: str) -> None:
        barrier.wait()
        try:
            _migrate(service, database_url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(svc,)) for svc in ("auth", "index") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    engine = make_engine(database_url)
    for server in SERVERS.values():
        check_migrated(engine, server.MIGRATIONS, server.VERSION_TABLE)
    engine.dispose()


def test_cli_migrate_twice_and_two_at_once(database_url: str) -> None:
    env = {"VESTRY_AUTH_DATABASE_URL": database_url, "VESTRY_INDEX_DATABASE_URL": database_url}
    racing = [
        subprocess.Popen(
            [str(BIN / "vestry"), "migrate"],
            env=_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in racing:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "up to date" in out
    again = _vestry("migrate", **env)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("unmigrated", "is not migrated; run `vestry migrate` first"),
        ("older", "older than"),
        ("newer", "newer than this Vestry knows"),
    ],
)
@pytest.mark.parametrize("service", ["auth", "index"])
def test_service_refuses_a_database_of_another_version(
    postgres_url: str, internal_secret: str, service: str, problem: str, message: str
) -> None:
    server = SERVERS[service]
    if problem != "unmigrated":
        _migrate(service, postgres_url)
        revision = "ffffffffffff" if problem == "newer" else _revisions(service)[-1]
        if problem == "older" and revision == _revisions(service)[0]:
            pytest.skip(f"{service} has a single revision: nothing older to refuse")
        engine = make_engine(postgres_url)
        update = text(f"UPDATE {server.VERSION_TABLE} SET version_num = :r")  # noqa: S608
        with engine.begin() as conn:
            conn.execute(update, {"r": revision})
        engine.dispose()
    engine = make_engine(postgres_url)
    with pytest.raises(FailedPrecondition, match=message):
        check_migrated(engine, server.MIGRATIONS, server.VERSION_TABLE)
    engine.dispose()

    # The process says so in one line and exits non-zero, without serving.
    result = _vestry(
        "serve",
        service,
        VESTRY_INTERNAL_SECRET=internal_secret,
        **{
            f"VESTRY_{service.upper()}_DATABASE_URL": postgres_url,
            f"VESTRY_{service.upper()}_LISTEN": "127.0.0.1:0",
        },
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"vestry serve {service}: the database at ")
    assert message in last
    assert "Traceback" not in result.stderr


def test_migrate_says_what_is_missing_or_unreachable() -> None:
    missing = _vestry("migrate")
    assert missing.returncode == 2
    assert "VESTRY_AUTH_DATABASE_URL" in missing.stderr
    # Nothing listens on port 1: refused at once.
    url = "postgresql+psycopg://vestry:s3cret@127.0.0.1:1/vestry"
    down = _vestry("migrate", VESTRY_AUTH_DATABASE_URL=url, VESTRY_INDEX_DATABASE_URL=url)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines()[-1].startswith("vestry migrate: the auth database at ")
    assert "s3cret" not in down.stderr
    assert "Traceback" not in down.stderr

"""SQLAlchemy engines and Alembic migrations, shared by the auth and index services."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from vestry.common.errors import FailedPrecondition

__all__ = [
    "MIGRATION_LOCK_KEY",
    "check_migrated",
    "make_engine",
    "migrate",
    "migrate_url",
    "migrated_engine",
    "run_migrations",
]


SQLITE_BUSY_SECONDS = 30  # how long a SQLite connection waits for another's write lock


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers never block writers,
    and durable commits."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it is acknowledged (an upload's record, like its
            # blob, survives a power cut); measured at no cost to uploads here.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _config(engine: Engine, migrations: Path, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["engine"] = engine
    cfg.attributes["version_table"] = version_table
    return cfg


# One key for every Vestry migration: two `vestry migrate` runs (two replicas' init steps, a Job
# racing a rollout) queue behind each other instead of both issuing the same DDL.
MIGRATION_LOCK_KEY = 0x5645535452590001


def _take_migration_lock(conn: Connection) -> None:
    """Hold the database-wide migration lock until `conn`'s transaction ends."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Transaction-scoped: released by the COMMIT/ROLLBACK, even if this process dies.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif dialect == "sqlite":
        # The write lock up front: a second migrator waits (busy timeout) and then reads the
        # version the first one committed, rather than both starting from "no tables".
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine, migrations: Path, version_table: str) -> None:
    """Bring the schema to the newest revision.

    Idempotent, and safe to run from several processes at once: runs are serialised by a
    database lock, and whoever comes second finds the schema at head and changes nothing. The
    whole upgrade is one transaction on PostgreSQL, so a failed run leaves the old schema.
    """
    cfg = _config(engine, migrations, version_table)
    with _locked_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def _locked_connection(engine: Engine) -> Connection:
    """A connection holding the migration lock.

    SQLite answers some races for its write lock with "database is locked" at once instead of
    waiting out its busy timeout (seen when several migrators open a fresh database together, as
    each switches it to WAL): nothing has been written by then, so the attempt is made again,
    for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        conn: Connection | None = None
        try:
            conn = engine.connect()
            _take_migration_lock(conn)
            return conn
        except OperationalError as exc:
            if conn is not None:
                conn.close()
            locked = engine.dialect.name == "sqlite" and "database is locked" in str(exc)
            if not locked or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def check_migrated(engine: Engine, migrations: Path, version_table: str) -> None:
    """Return when the database is exactly at the code's newest revision.

    Raises FailedPrecondition, with what to do, when it is unmigrated, older, or newer than this
    code (a rollback of Vestry after a newer one migrated): a service never runs on a schema it
    was not written for.
    """
    script = ScriptDirectory.from_config(_config(engine, migrations, version_table))
    head = script.get_current_head()
    where = f"the database at {engine.url.render_as_string(hide_password=True)} ({version_table})"
    with engine.connect() as conn:
        current = MigrationContext.configure(
            conn, opts={"version_table": version_table}
        ).get_current_revision()
    if current == head:
        return
    if current is None:
        raise FailedPrecondition(f"{where} is not migrated; run `vestry migrate` first")
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise FailedPrecondition(
            f"{where} is at revision {current}, newer than this Vestry knows (newest {head}): "
            "run the Vestry version that migrated it, or a newer one"
        )
    raise FailedPrecondition(
        f"{where} is at revision {current}, older than {head}; run `vestry migrate`"
    )


def run_migrations(context: Any, target_metadata: Any) -> None:
    """The body of every service's Alembic `env.py`: online migrations on the given connection."""
    config = context.config
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def migrate_url(url: str, migrations: Path, version_table: str) -> None:
    """`migrate` the database at `url`, through an engine disposed of afterwards."""
    engine = make_engine(url)
    try:
        migrate(engine, migrations, version_table)
    finally:
        engine.dispose()


def migrated_engine(url: str, migrations: Path, version_table: str) -> Engine:
    """An engine on `url`; raises FailedPrecondition as `check_migrated` does."""
    engine = make_engine(url)
    check_migrated(engine, migrations, version_table)
    return engine

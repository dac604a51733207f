"""SQLAlchemy engines and Alembic migrations, shared by the auth and index services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from vestry.common.errors import FailedPrecondition

__all__ = ["check_migrated", "make_engine", "migrate", "run_migrations"]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so readers never block writers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
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


def migrate(engine: Engine, migrations: Path, version_table: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = _config(engine, migrations, version_table)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def check_migrated(engine: Engine, migrations: Path, version_table: str) -> None:
    """Raise FailedPrecondition unless the database is exactly at the code's newest revision."""
    script = ScriptDirectory.from_config(_config(engine, migrations, version_table))
    head = script.get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(
            conn, opts={"version_table": version_table}
        ).get_current_revision()
    if current == head:
        return
    if current is None:
        raise FailedPrecondition(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not migrated; "
            "run `vestry migrate` first"
        )
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise FailedPrecondition(
            f"the database is at revision {current}, newer than this Vestry knows; upgrade Vestry"
        )
    raise FailedPrecondition(
        f"the database is at revision {current}, older than {head}; run `vestry migrate`"
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

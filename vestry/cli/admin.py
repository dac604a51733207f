"""Administration commands that work directly on the databases (no server needed)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from vestry.cli.errors import CliError
from vestry.common.datadir import DataDir, default_data_dir
from vestry.common.db import check_migrated, make_engine
from vestry.common.errors import DomainError
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.caveats import Scope
from vestry.services.auth.server import MIGRATIONS as AUTH_MIGRATIONS
from vestry.services.auth.server import VERSION_TABLE as AUTH_VERSION_TABLE
from vestry.services.auth.server import migrate_database as migrate_auth
from vestry.services.auth.service import AuthService
from vestry.services.index.server import migrate_database as migrate_index


def migrate(data_dir: Path | None) -> int:
    if data_dir is not None:
        dd = DataDir(data_dir)
        dd.prepare()
        auth_url, index_url = dd.database_url("auth"), dd.database_url("index")
    else:
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class Urls(BaseSettings):
            model_config = SettingsConfigDict(extra="ignore")
            vestry_auth_database_url: str
            vestry_index_database_url: str

        try:
            urls = Urls()  # type: ignore[call-arg]
        except ValidationError as exc:
            raise CliError(
                "set VESTRY_AUTH_DATABASE_URL and VESTRY_INDEX_DATABASE_URL "
                "(or pass --data-dir for an embedded installation)",
                command="migrate",
                status=2,
            ) from exc
        auth_url, index_url = urls.vestry_auth_database_url, urls.vestry_index_database_url
    # Serialised by a database lock (vestry.common.db.migrate): every replica's init step or a
    # Job may run this at once; the first migrates, the others find the schema current.
    for name, url, run in (("auth", auth_url, migrate_auth), ("index", index_url, migrate_index)):
        try:
            run(url)
        except SQLAlchemyError as exc:
            where = make_url(url).render_as_string(hide_password=True)
            raise CliError(
                f"the {name} database at {where} could not be migrated: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                command="migrate",
            ) from exc
    print("databases are up to date")
    return 0


def create_user(data_dir: Path | None, name: str, admin: bool) -> int:
    """Create a user and print a token for it, on an embedded data dir or, for a deployment,
    on the auth database named by VESTRY_AUTH_DATABASE_URL (which must be migrated already:
    a deployment's schema is `vestry migrate`'s business, not this command's)."""
    deployment_url = os.environ.get("VESTRY_AUTH_DATABASE_URL")
    if data_dir is None and deployment_url:
        url = deployment_url
    else:
        dd = DataDir(data_dir or default_data_dir())
        dd.prepare()
        url = dd.database_url("auth")
        migrate_auth(url)
    engine = make_engine(url)
    try:
        check_migrated(engine, AUTH_MIGRATIONS, AUTH_VERSION_TABLE)
    except DomainError as exc:
        engine.dispose()
        raise CliError(exc.message) from exc
    service = AuthService(engine, MemoryCache())
    try:
        user = service.create_user(name, admin=admin)
        token, info = service.mint(
            requested=Scope(), name="created by admin create-user", for_user=user.name
        )
    except DomainError as exc:
        raise CliError(exc.message) from exc
    finally:
        engine.dispose()
    print(f"created user {user.name}{' (admin)' if admin else ''}; token id {info.id}")
    print("API token (shown once; use it as the password with username __token__):")
    print(token)
    return 0

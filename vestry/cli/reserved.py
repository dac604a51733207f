"""`vestry admin reserve`: reserve a project name or prefix for an organisation.

Works directly on an embedded data directory's index database (no server needed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vestry.cli._command import SubParsers
from vestry.cli.errors import CliError

__all__ = ["add_commands"]


def _reserve(args: argparse.Namespace) -> int:
    from vestry.common.datadir import DataDir, default_data_dir
    from vestry.common.db import make_engine
    from vestry.common.epochs import INDEX, bump_file_epochs
    from vestry.common.errors import DomainError
    from vestry.services.index.access import Caller
    from vestry.services.index.server import migrate_database
    from vestry.services.index.service import IndexService

    try:
        dd = DataDir(args.data_dir or default_data_dir())
        dd.prepare()
        migrate_database(dd.database_url("index"))
        index = IndexService(make_engine(dd.database_url("index")))
        operator = Caller(authenticated=True, user_id="", username="admin-cli", admin=True)
        reserved = index.reserved.reserve(operator, args.pattern, args.org)
        # Written past the index service: tell the running gateways, as its calls do.
        bump_file_epochs(dd.epochs, INDEX)
    except DomainError as exc:
        raise CliError(exc.message) from exc
    print(f"reserved {reserved.pattern} for organisation {reserved.organization}")
    return 0


def add_commands(admin_sub: SubParsers) -> None:
    """Register `vestry admin reserve`."""
    p = admin_sub.add_parser(
        "reserve", help="reserve a project name or prefix (acme-*) for an organisation"
    )
    p.add_argument("pattern")
    p.add_argument("--org", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.set_defaults(handler=_reserve)

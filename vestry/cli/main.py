"""The `vestry` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vestry.cli.errors import CliError
from vestry.common.datadir import default_data_dir

# Gateway processes under `vestry up`: one per core, up to two (docs/performance.md measures it).
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)


def _logging(level: str) -> None:
    """Log to stderr, a line as it comes."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(sys.stderr)],
    )


def _serve(service: str) -> int:
    # Each process builds exactly one settings object, here, from VESTRY_* variables.
    from vestry.cli.supervised import follow_supervisor
    from vestry.common.metrics import serve_metrics

    follow_supervisor()

    if service == "gateway":
        from vestry.gateway.server import serve as serve_gateway
        from vestry.gateway.settings import GatewaySettings

        gw = GatewaySettings()  # type: ignore[call-arg]
        _logging(gw.log_level)
        serve_metrics(gw.metrics_listen)
        serve_gateway(gw)
        return 0
    if service == "auth":
        from vestry.services.auth.server import serve as serve_auth
        from vestry.services.auth.settings import AuthSettings

        auth = AuthSettings()  # type: ignore[call-arg]
        _logging(auth.log_level)
        serve_metrics(auth.metrics_listen)
        asyncio.run(serve_auth(auth))
    elif service == "index":
        from vestry.services.index.server import serve as serve_index
        from vestry.services.index.settings import IndexSettings

        index = IndexSettings()  # type: ignore[call-arg]
        _logging(index.log_level)
        serve_metrics(index.metrics_listen)
        asyncio.run(serve_index(index))
    else:
        from vestry.services.storage.server import serve as serve_storage
        from vestry.services.storage.settings import StorageSettings

        storage = StorageSettings()  # type: ignore[call-arg]
        _logging(storage.log_level)
        serve_metrics(storage.metrics_listen)
        asyncio.run(serve_storage(storage))
    return 0


def _data_dir_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help=help_text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vestry", description="A private Python package index.")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole index on this machine (embedded defaults)")
    _data_dir_option(up, "where data lives (default ./vestry-data or $VESTRY_DATA_DIR)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--tls-cert", type=Path, default=None, help="serve HTTPS with this PEM chain")
    up.add_argument("--tls-key", type=Path, default=None, help="... and this PEM private key")
    up.add_argument(
        "--tls",
        choices=["self-signed"],
        default=None,
        help="serve HTTPS with a local CA made in the data directory (for evaluation)",
    )
    up.add_argument(
        "--upstream",
        default=None,
        metavar="URL",
        help="proxy this index (e.g. https://pypi.org/simple/); sets VESTRY_UPSTREAM_URL",
    )
    up.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        default="",
        help="serve Prometheus /metrics of all the processes there (default: none)",
    )
    up.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"gateway processes sharing the port (default {DEFAULT_WORKERS})",
    )

    serve = sub.add_parser("serve", help="run one process, configured from VESTRY_* variables")
    serve.add_argument("service", choices=["auth", "index", "storage", "gateway"])

    migrate = sub.add_parser("migrate", help="bring the auth and index databases up to date")
    _data_dir_option(migrate, "migrate an embedded data dir instead of VESTRY_*_DATABASE_URL")

    hc = sub.add_parser(
        "healthcheck",
        help="exit 0 when a service (gRPC health) or the gateway (http://…/healthz) is serving",
    )
    hc.add_argument("target", help="HOST:PORT of a service, or the gateway's health URL")
    hc.add_argument("--timeout", type=float, default=3.0)

    admin = sub.add_parser("admin", help="administration on a data directory")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    cu = admin_sub.add_parser("create-user", help="create a user and print a token for it")
    cu.add_argument("name")
    cu.add_argument("--admin", action="store_true")
    cu.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="an embedded data dir (default ./vestry-data or $VESTRY_DATA_DIR); without it and "
        "with $VESTRY_AUTH_DATABASE_URL set, that (migrated) deployment database",
    )
    from vestry.cli import events, importer, orgs, projects, reserved, upstream, users

    projects.add_commands(sub)
    orgs.add_commands(sub)
    events.add_commands(sub)
    reserved.add_commands(admin_sub)
    upstream.add_commands(sub)
    importer.add_commands(sub)
    users.add_commands(sub)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    att = token_sub.add_parser(
        "attenuate", help="narrow a token offline (no server, no settings needed)"
    )
    att.add_argument("token")
    att.add_argument("--project", action="append", default=[])
    att.add_argument("--perm", action="append", default=[])
    att.add_argument("--expires", default=None, help="e.g. 30d, 12h, 1h30m")
    from vestry.cli.tokens import add_server_commands

    add_server_commands(token_sub)

    # Storage maintenance (vestry/cli/storage_admin.py): a data dir, or a deployment's services.
    fsck = sub.add_parser("fsck", help="check every indexed file's blob (reports, never repairs)")
    gc = sub.add_parser("gc", help="delete blobs no index record references, after a grace period")
    for sp in (fsck, gc):
        sp.add_argument("--data-dir", type=Path, default=None, help="an embedded data dir")
        sp.add_argument("--index", metavar="ADDRESS", help="a deployment's index service")
        sp.add_argument("--storage", metavar="ADDRESS", help="a deployment's storage service")
    gc.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    gc.add_argument("--grace", default="24h", help="spare blobs written this recently (24h)")
    gc.add_argument("--allow-empty-index", action="store_true", help="even if nothing is indexed")
    gc.add_argument(
        "--prune-upstream",
        action="store_true",
        help="also delete cached upstream files and pages (fetched again when asked for)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except CliError as exc:
        # The one place a command's failure reaches the terminal: one line, no traceback.
        print(f"{exc.prefix}: {exc.message}", file=sys.stderr)
        return exc.status


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "handler", None) is not None:
        return int(args.handler(args))
    if args.command == "serve":
        from vestry.common.errors import FailedPrecondition

        try:
            return _serve(args.service)
        except FailedPrecondition as exc:
            # A schema this code was not written for (unmigrated, older or newer): one clear
            # line and a non-zero exit, so the orchestrator restarts it once `migrate` has run.
            raise CliError(exc.message, command=f"serve {args.service}") from exc
    if args.command == "healthcheck":
        from vestry.cli.healthcheck import healthcheck

        return healthcheck(args.target, args.timeout)
    if args.command == "up":
        from vestry.cli.up import up

        if (args.tls_cert is None) != (args.tls_key is None) or (args.tls and args.tls_cert):
            print("vestry up: give --tls-cert and --tls-key together, or --tls self-signed")
            return 2
        tls = (args.tls_cert, args.tls_key) if args.tls_cert else args.tls
        data_dir = args.data_dir or default_data_dir()
        if args.workers < 1 or (args.workers > 1 and args.port == 0):
            print("vestry up: --workers is at least 1, and above 1 needs a --port other than 0")
            return 2
        return up(data_dir, args.host, args.port, tls, args.upstream, args.metrics, args.workers)
    if args.command == "migrate":
        from vestry.cli.admin import migrate

        return migrate(args.data_dir)
    if args.command == "admin":
        from vestry.cli.admin import create_user

        return create_user(args.data_dir, args.name, args.admin)
    if args.command == "token":
        from vestry.cli.tokens import run_token_command

        return run_token_command(args)
    if args.command in ("fsck", "gc"):
        from vestry.cli.storage_admin import run as storage_admin

        return storage_admin(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

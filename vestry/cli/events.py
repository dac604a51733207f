"""`vestry events`: the audit log of a running gateway, newest first."""

from __future__ import annotations

import argparse
import json

from vestry.cli._command import SubParsers, add_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api

__all__ = ["add_commands"]


def _events(args: argparse.Namespace) -> int:
    query = f"?limit={args.limit}&before={args.before}"
    if args.project:
        query += f"&project={q(args.project)}"
    events = Api.from_args(args).call("GET", "/events" + query)
    if args.json:
        print_json(events)
        return 0
    for e in events:
        detail = json.dumps(e["detail"], sort_keys=True)
        token = f" token={e['token_id']}" if e["token_id"] else ""
        print(f"{e['id']:>8}  {e['at']}  {e['kind']:<20} {e['user'] or '-'}{token}  {detail}")
    return 0


def add_commands(sub: SubParsers) -> None:
    """Register `vestry events`."""
    p = add_command(sub, "events", _events, "the audit log, newest first")
    p.add_argument("--project", default="", help="one project's events (else all: admins)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--before", type=int, default=0, help="events older than this id")
    p.add_argument("--json", action="store_true")

"""`vestry upstream …`: the upstream proxy's per-project rules on a running Vestry
(administrators): cooldown exemptions and the merge allow-list. docs/proxy.md."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from vestry.cli._command import Handler, SubParsers, add_command, api_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api
from vestry.cli.errors import CliError

__all__ = ["add_commands"]

_RULE = "/upstream/rules/{project}/"


def _until(text: str | None) -> str | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--until {text!r}: write a date or time, e.g. 2026-12-31") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def _set(rule: str) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        body = {"until": _until(args.until)}
        out = Api.from_args(args).call("PUT", f"/upstream/rules/{q(args.project)}/{rule}", body)
        until = out.get("until") or "until removed"
        print(f"{out['project']}: {rule} ({until})")
        return 0

    return handler


def _rules(args: argparse.Namespace) -> int:
    print_json(Api.from_args(args).call("GET", "/upstream/rules"))
    return 0


def add_commands(sub: SubParsers) -> None:
    """Register `vestry upstream exempt|unexempt|merge|unmerge|rules`."""
    up = sub.add_parser("upstream", help="upstream proxy rules on a running Vestry (admins)")
    us = up.add_subparsers(dest="upstream_command", required=True)
    for rule, add, remove, add_help, remove_help in (
        (
            "exempt",
            "exempt",
            "unexempt",
            "exempt a project from the cooldown (an event)",
            "end a cooldown exemption",
        ),
        (
            "merge",
            "merge",
            "unmerge",
            "let a local project merge upstream versions it lacks",
            "make a project local-only again",
        ),
    ):
        p = add_command(us, add, _set(rule), add_help, "project")
        p.add_argument("--until", default=None, help="a date or time (default: until removed)")
        removed = api_command("DELETE", _RULE + rule, "{project}: " + rule + " removed")
        add_command(us, remove, removed, remove_help, "project")
    add_command(us, "rules", _rules, "list exemptions and merge entries")

"""`vestry upstream …`: the upstream proxy's per-project rules on a running Vestry
(administrators): cooldown exemptions and the merge allow-list. docs/proxy.md."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from vestry.cli.projects import CliError, Handler, _call, _print_json, _q, _run

__all__ = ["add_commands"]


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
        body = {"until": _until(getattr(args, "until", None))}
        out = _call(args, "PUT", f"/upstream/rules/{_q(args.project)}/{rule}", body)
        until = out.get("until") or "until removed"
        print(f"{out['project']}: {rule} ({until})")
        return 0

    return handler


def _remove(rule: str) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        _call(args, "DELETE", f"/upstream/rules/{_q(args.project)}/{rule}")
        print(f"{args.project}: {rule} removed")
        return 0

    return handler


def _rules(args: argparse.Namespace) -> int:
    _print_json(_call(args, "GET", "/upstream/rules"))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--url", default="", help="the gateway (default $VESTRY_URL)")
    server.add_argument("--token", default="", help="an API token (default $VESTRY_TOKEN)")
    server.add_argument("--timeout", type=float, default=30.0)
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
        p = us.add_parser(add, parents=[server], help=add_help)
        p.add_argument("project")
        p.add_argument("--until", default=None, help="a date or time (default: until removed)")
        p.set_defaults(projects_handler=_run(_set(rule)))
        p = us.add_parser(remove, parents=[server], help=remove_help)
        p.add_argument("project")
        p.set_defaults(projects_handler=_run(_remove(rule)))
    p = us.add_parser("rules", parents=[server], help="list exemptions and merge entries")
    p.set_defaults(projects_handler=_run(_rules))

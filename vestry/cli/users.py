"""Operator commands against a running Vestry: `vestry user list|create|disable|enable`,
`vestry projects` (what the token can see, paged) and `vestry downloads PROJECT`."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlencode

from vestry.cli._command import Handler, SubParsers, add_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api

__all__ = ["add_commands"]


def _user_list(args: argparse.Namespace) -> int:
    users = Api.from_args(args).call("GET", "/users")
    if args.json:
        print_json(users)
        return 0
    for u in users:
        flags = [f for f, on in (("admin", u["admin"]), ("disabled", not u["active"])) if on]
        print(u["name"] + (f"  ({', '.join(flags)})" if flags else ""))
    return 0


def _user_create(args: argparse.Namespace) -> int:
    made = Api.from_args(args).call("POST", "/users", {"name": args.name, "admin": args.admin})
    print(f"created user {made['name']}{' (admin)' if made['admin'] else ''}; their token:")
    print(made["token"])  # alone on the last line, as `vestry admin create-user` prints it
    return 0


def _user_active(active: bool) -> Handler:
    def run(args: argparse.Namespace) -> int:
        action = "enable" if active else "disable"
        user = Api.from_args(args).call("POST", f"/users/{q(args.name)}/{action}")
        print(f"{user['name']}: {'active' if user['active'] else 'disabled'}")
        return 0

    return run


def _projects(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    shown: list[dict[str, Any]] = []
    after = args.after
    while True:
        page = api.call("GET", "/projects?" + urlencode({"limit": args.limit, "after": after}))
        shown.extend(page["projects"])
        after = page["next"]
        if not args.all or after is None:
            break
    if args.json:
        print_json({"projects": shown, "next": after})
        return 0
    for p in shown:
        print(p["name"])
    if after is not None:
        print(f"(more: --after {after})")
    return 0


def _downloads(args: argparse.Namespace) -> int:
    counts = Api.from_args(args).call("GET", f"/projects/{q(args.project)}/downloads")
    if args.json:
        print_json(counts)
        return 0
    for filename, count in sorted(counts["files"].items()):
        print(f"{count:>10}  {filename}")
    print(f"{counts['total']:>10}  in all")
    return 0


def add_commands(sub: SubParsers) -> None:
    """Register `vestry user …`, `vestry projects` and `vestry downloads`."""
    user = sub.add_parser("user", help="users of a running Vestry (administrators)")
    us = user.add_subparsers(dest="user_command", required=True)
    add_command(us, "list", _user_list, "every user").add_argument("--json", action="store_true")
    p = add_command(us, "create", _user_create, "create a user and print their first token", "name")
    p.add_argument("--admin", action="store_true")
    add_command(
        us, "disable", _user_active(False), "disable a user: their tokens stop at once", "name"
    )
    add_command(us, "enable", _user_active(True), "enable a disabled user again", "name")

    p = add_command(sub, "projects", _projects, "the projects your token can see, a page at a time")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--after", default="", help="start after this (normalised) name")
    p.add_argument("--all", action="store_true", help="every page")
    p.add_argument("--json", action="store_true")

    p = add_command(
        sub, "downloads", _downloads, "download counts of a project, per file", "project"
    )
    p.add_argument("--json", action="store_true")

"""Operator commands against a running Vestry: `vestry user list|create|disable|enable`,
`vestry projects` (what the token can see, paged) and `vestry downloads PROJECT`."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import quote

from vestry.cli._client import api_client, call, run_handler, server_options

__all__ = ["add_commands"]


def _q(value: str) -> str:
    return quote(value, safe="")


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _user_list(args: argparse.Namespace) -> int:
    with api_client(args) as client:
        users = call(client, "GET", "/api/v1/users")
    if args.json:
        _dump(users)
        return 0
    for u in users:
        flags = [f for f, on in (("admin", u["admin"]), ("disabled", not u["active"])) if on]
        print(u["name"] + (f"  ({', '.join(flags)})" if flags else ""))
    return 0


def _user_create(args: argparse.Namespace) -> int:
    with api_client(args) as client:
        made = call(client, "POST", "/api/v1/users", {"name": args.name, "admin": args.admin})
    print(f"created user {made['name']}{' (admin)' if made['admin'] else ''}; their token:")
    print(made["token"])  # alone on the last line, as `vestry admin create-user` prints it
    return 0


def _user_active(active: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        action = "enable" if active else "disable"
        with api_client(args) as client:
            user = call(client, "POST", f"/api/v1/users/{_q(args.name)}/{action}")
        print(f"{user['name']}: {'active' if user['active'] else 'disabled'}")
        return 0

    return run


def _projects(args: argparse.Namespace) -> int:
    shown: list[dict[str, Any]] = []
    after = args.after
    with api_client(args) as client:
        while True:
            page = call(
                client, "GET", "/api/v1/projects", params={"limit": args.limit, "after": after}
            )
            shown.extend(page["projects"])
            after = page["next"]
            if not args.all or after is None:
                break
    if args.json:
        _dump({"projects": shown, "next": after})
        return 0
    for p in shown:
        print(p["name"])
    if after is not None:
        print(f"(more: --after {after})")
    return 0


def _downloads(args: argparse.Namespace) -> int:
    with api_client(args) as client:
        counts = call(client, "GET", f"/api/v1/projects/{_q(args.project)}/downloads")
    if args.json:
        _dump(counts)
        return 0
    for filename, count in sorted(counts["files"].items()):
        print(f"{count:>10}  {filename}")
    print(f"{counts['total']:>10}  in all")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the commands; each sets `projects_handler`, which `main` dispatches to."""
    server = server_options()

    def cmd(parent: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, parents=[server])
        p.set_defaults(projects_handler=run_handler(handler))
        return p

    user = sub.add_parser("user", help="users of a running Vestry (administrators)")
    us = user.add_subparsers(dest="user_command", required=True)
    cmd(us, "list", _user_list, "every user").add_argument("--json", action="store_true")
    p = cmd(us, "create", _user_create, "create a user and print their first token")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true")
    p = cmd(us, "disable", _user_active(False), "disable a user: their tokens stop at once")
    p.add_argument("name")
    p = cmd(us, "enable", _user_active(True), "enable a disabled user again")
    p.add_argument("name")

    p = cmd(sub, "projects", _projects, "the projects your token can see, a page at a time")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--after", default="", help="start after this (normalised) name")
    p.add_argument("--all", action="store_true", help="every page")
    p.add_argument("--json", action="store_true")

    p = cmd(sub, "downloads", _downloads, "download counts of a project, per file")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")

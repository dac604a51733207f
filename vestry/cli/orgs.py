"""`vestry org …`: organisations, their members and teams, on a running gateway."""

from __future__ import annotations

import argparse
from typing import Any

from vestry.cli._command import SubParsers, add_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api
from vestry.cli.errors import CliError
from vestry.common.vocabulary import OrgRole, ProjectRole, values

__all__ = ["add_commands"]


def _print_org(o: dict[str, Any]) -> None:
    print(o["name"])
    print("members: " + ", ".join(f"{m['username']} ({m['role']})" for m in o["members"]))
    for t in o["teams"]:
        roles = ", ".join(f"{p} ({r})" for p, r in sorted(t["project_roles"].items()))
        print(f"team {t['name']}: {', '.join(t['members']) or '-'}; projects: {roles or '-'}")
    print("projects: " + (", ".join(o["projects"]) or "-"))


def _create(args: argparse.Namespace) -> int:
    _print_org(Api.from_args(args).call("POST", "/orgs", {"name": args.org}))
    return 0


def _show(args: argparse.Namespace) -> int:
    o = Api.from_args(args).call("GET", f"/orgs/{q(args.org)}")
    print_json(o) if args.json else _print_org(o)
    return 0


def _add_member(args: argparse.Namespace) -> int:
    path = f"/orgs/{q(args.org)}/members/{q(args.user)}"
    r = Api.from_args(args).call("PUT", path, {"role": args.role})
    print(f"{r['username']} is now {r['role']} of {args.org}")
    return 0


def _remove_member(args: argparse.Namespace) -> int:
    Api.from_args(args).call("DELETE", f"/orgs/{q(args.org)}/members/{q(args.user)}")
    print(f"{args.user} is no longer a member of {args.org}")
    return 0


def _add_team(args: argparse.Namespace) -> int:
    Api.from_args(args).call("POST", f"/orgs/{q(args.org)}/teams", {"name": args.team})
    print(f"created team {args.team} in {args.org}")
    return 0


def _remove_team(args: argparse.Namespace) -> int:
    Api.from_args(args).call("DELETE", f"/orgs/{q(args.org)}/teams/{q(args.team)}")
    print(f"deleted team {args.team} of {args.org}")
    return 0


def _team_member(args: argparse.Namespace) -> str:
    return f"/orgs/{q(args.org)}/teams/{q(args.team)}/members/{q(args.user)}"


def _team_add(args: argparse.Namespace) -> int:
    Api.from_args(args).call("PUT", _team_member(args))
    print(f"{args.user} joined team {args.team}")
    return 0


def _team_remove(args: argparse.Namespace) -> int:
    Api.from_args(args).call("DELETE", _team_member(args))
    print(f"{args.user} left team {args.team}")
    return 0


def _team_role(args: argparse.Namespace) -> int:
    path = f"/orgs/{q(args.org)}/teams/{q(args.team)}/projects/{q(args.project)}"
    if args.remove:
        Api.from_args(args).call("DELETE", path)
        print(f"team {args.team} has no role on {args.project} any more")
    else:
        if not args.role:
            raise CliError("give --role owner|maintainer|reader, or --remove")
        Api.from_args(args).call("PUT", path, {"role": args.role})
        print(f"team {args.team} is now {args.role} of {args.project}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    Api.from_args(args).call("PUT", f"/orgs/{q(args.org)}/projects/{q(args.project)}")
    print(f"{args.project} now belongs to {args.org}")
    return 0


def add_commands(sub: SubParsers) -> None:
    """Register `vestry org` and its subcommands."""
    org = sub.add_parser("org", help="organisations, members and teams on a running Vestry")
    os_ = org.add_subparsers(dest="org_command", required=True)
    p = add_command(os_, "create", _create, "found an organisation (you become its owner)")
    p.add_argument("org")
    p = add_command(os_, "show", _show, "members, teams and projects")
    p.add_argument("org")
    p.add_argument("--json", action="store_true")
    p = add_command(os_, "add-member", _add_member, "add a member or change their role")
    p.add_argument("org")
    p.add_argument("user")
    p.add_argument("--role", default="member", choices=values(OrgRole))
    p = add_command(os_, "remove-member", _remove_member, "remove a member (and from all teams)")
    p.add_argument("org")
    p.add_argument("user")
    p = add_command(os_, "add-team", _add_team, "create a team")
    p.add_argument("org")
    p.add_argument("team")
    p = add_command(os_, "remove-team", _remove_team, "delete a team")
    p.add_argument("org")
    p.add_argument("team")
    p = add_command(os_, "team-add", _team_add, "add a member to a team")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")
    p = add_command(os_, "team-remove", _team_remove, "remove a member from a team")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")
    p = add_command(os_, "team-role", _team_role, "give a team a role on a project")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("project")
    p.add_argument("--role", default="", choices=["", *values(ProjectRole)])
    p.add_argument("--remove", action="store_true")
    p = add_command(os_, "transfer", _transfer, "move a project you own into the organisation")
    p.add_argument("org")
    p.add_argument("project")

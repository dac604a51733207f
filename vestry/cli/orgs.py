"""`vestry org …`: organisations, their members and teams, on a running gateway."""

from __future__ import annotations

import argparse
from typing import Any

from vestry.cli._command import SubParsers, add_command, api_command, print_json
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


_TEAM_MEMBER = "/orgs/{org}/teams/{team}/members/{user}"
_remove_member = api_command(
    "DELETE", "/orgs/{org}/members/{user}", "{user} is no longer a member of {org}"
)
_add_team = api_command(
    "POST", "/orgs/{org}/teams", "created team {team} in {org}", {"name": "team"}
)
_remove_team = api_command("DELETE", "/orgs/{org}/teams/{team}", "deleted team {team} of {org}")
_team_add = api_command("PUT", _TEAM_MEMBER, "{user} joined team {team}")
_team_remove = api_command("DELETE", _TEAM_MEMBER, "{user} left team {team}")


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


_transfer = api_command("PUT", "/orgs/{org}/projects/{project}", "{project} now belongs to {org}")


def add_commands(sub: SubParsers) -> None:
    """Register `vestry org` and its subcommands."""
    org = sub.add_parser("org", help="organisations, members and teams on a running Vestry")
    os_ = org.add_subparsers(dest="org_command", required=True)
    p = add_command(os_, "create", _create, "found an organisation (you become its owner)", "org")
    p = add_command(os_, "show", _show, "members, teams and projects", "org")
    p.add_argument("--json", action="store_true")
    p = add_command(
        os_, "add-member", _add_member, "add a member or change their role", "org", "user"
    )
    p.add_argument("--role", default="member", choices=values(OrgRole))
    p = add_command(
        os_, "remove-member", _remove_member, "remove a member (and from all teams)", "org", "user"
    )
    p = add_command(os_, "add-team", _add_team, "create a team", "org", "team")
    p = add_command(os_, "remove-team", _remove_team, "delete a team", "org", "team")
    p = add_command(os_, "team-add", _team_add, "add a member to a team", "org", "team", "user")
    p = add_command(
        os_, "team-remove", _team_remove, "remove a member from a team", "org", "team", "user"
    )
    p = add_command(
        os_, "team-role", _team_role, "give a team a role on a project", "org", "team", "project"
    )
    p.add_argument("--role", default="", choices=["", *values(ProjectRole)])
    p.add_argument("--remove", action="store_true")
    p = add_command(
        os_, "transfer", _transfer, "move a project you own into the organisation", "org", "project"
    )

"""`vestry project …`, `vestry org …`, `vestry events` and `vestry admin reserve`.

All but `admin reserve` talk to a running gateway's management API (`--url`/`--token`, or
VESTRY_URL / VESTRY_TOKEN), so they work against any deployment with an API token and need no
access to its databases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["add_commands"]

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    pass


def _client(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("VESTRY_URL", "")
    token = args.token or os.environ.get("VESTRY_TOKEN", "")
    if not url:
        raise CliError("no server: pass --url or set VESTRY_URL (e.g. http://127.0.0.1:8080)")
    if not token:
        raise CliError("no API token: pass --token or set VESTRY_TOKEN")
    return httpx.Client(
        base_url=url.rstrip("/") + "/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=args.timeout,
    )


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    with _client(args) as client:
        try:
            r = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {client.base_url}: {exc}") from exc
    if r.status_code >= 400:
        raise CliError(f"{r.status_code}: {r.text.strip()}")
    return r.json() if r.content else None


def _q(value: str) -> str:
    return quote(value, safe="")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _target(args: argparse.Namespace) -> dict[str, str]:
    if bool(args.version) == bool(args.file):
        raise CliError("give exactly one of --version (the whole release) and --file")
    return {"version": args.version or "", "filename": args.file or ""}


# ---- project ---------------------------------------------------------------------------------


def _project_show(args: argparse.Namespace) -> int:
    p = _call(args, "GET", f"/projects/{_q(args.project)}")
    if args.json:
        _print_json(p)
        return 0
    status = p["status"] + (f" ({p['status_reason']})" if p["status_reason"] else "")
    print(f"{p['name']}  [{p['visibility']}, {status}]")
    if p["organization"]:
        print(f"organisation: {p['organization']}")
    print("roles: " + ", ".join(f"{r['username']} ({r['role']})" for r in p["roles"]))
    for t in p["team_roles"]:
        print(f"team {t['team']}: {t['role']}")
    print("you may: " + ", ".join(p["your_permissions"]))
    for rel in p["releases"]:
        mark = f"  YANKED: {rel['yanked_reason'] or 'no reason given'}" if rel["yanked"] else ""
        print(f"  {rel['version']}{mark}")
        for f in rel["files"]:
            fmark = " (yanked)" if f["yanked"] and not rel["yanked"] else ""
            print(f"    {f['filename']}  {f['size']} bytes{fmark}")
    return 0


def _project_visibility(args: argparse.Namespace) -> int:
    _call(args, "PUT", f"/projects/{_q(args.project)}/visibility", {"visibility": args.visibility})
    print(f"{args.project} is now {args.visibility}")
    return 0


def _project_status(args: argparse.Namespace) -> int:
    body = {"status": args.status, "reason": args.reason}
    _call(args, "PUT", f"/projects/{_q(args.project)}/status", body)
    print(f"{args.project} is now {args.status}")
    return 0


def _project_add_member(args: argparse.Namespace) -> int:
    path = f"/projects/{_q(args.project)}/members/{_q(args.user)}"
    r = _call(args, "PUT", path, {"role": args.role})
    print(f"{r['username']} is now {r['role']} of {args.project}")
    return 0


def _project_remove_member(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/projects/{_q(args.project)}/members/{_q(args.user)}")
    print(f"{args.user} no longer has a role on {args.project}")
    return 0


def _project_yank(args: argparse.Namespace) -> int:
    body = {**_target(args), "reason": args.reason}
    _call(args, "POST", f"/projects/{_q(args.project)}/yank", body)
    print(f"yanked {args.version or args.file} of {args.project}")
    return 0


def _project_unyank(args: argparse.Namespace) -> int:
    _call(args, "POST", f"/projects/{_q(args.project)}/unyank", _target(args))
    print(f"un-yanked {args.version or args.file} of {args.project}")
    return 0


def _project_delete(args: argparse.Namespace) -> int:
    p = _q(args.project)
    if not (args.version or args.file):
        # The whole project: confirmed by naming it twice, not by a flag one adds from habit.
        if args.confirm != args.project:
            raise CliError(
                f"this deletes the whole project {args.project!r}: every release, file and role; "
                f"its filenames can never be uploaded again. To confirm, add --confirm "
                f"{args.project} (or name a --version or --file to delete less)"
            )
        _call(args, "DELETE", f"/projects/{p}")
        print(f"deleted the project {args.project}")
        return 0
    target = _target(args)
    if not args.yes:
        raise CliError(
            "deleting is permanent and the filenames can never be uploaded again; "
            "add --yes to confirm (consider `vestry project yank` instead)"
        )
    if target["version"]:
        _call(args, "DELETE", f"/projects/{p}/releases/{_q(target['version'])}")
    else:
        _call(args, "DELETE", f"/projects/{p}/files/{_q(target['filename'])}")
    print(f"deleted {args.version or args.file} of {args.project}")
    return 0


# ---- org -------------------------------------------------------------------------------------


def _print_org(o: dict[str, Any]) -> None:
    print(o["name"])
    print("members: " + ", ".join(f"{m['username']} ({m['role']})" for m in o["members"]))
    for t in o["teams"]:
        roles = ", ".join(f"{p} ({r})" for p, r in sorted(t["project_roles"].items()))
        print(f"team {t['name']}: {', '.join(t['members']) or '-'}; projects: {roles or '-'}")
    print("projects: " + (", ".join(o["projects"]) or "-"))


def _org_create(args: argparse.Namespace) -> int:
    _print_org(_call(args, "POST", "/orgs", {"name": args.org}))
    return 0


def _org_show(args: argparse.Namespace) -> int:
    o = _call(args, "GET", f"/orgs/{_q(args.org)}")
    _print_json(o) if args.json else _print_org(o)
    return 0


def _org_add_member(args: argparse.Namespace) -> int:
    r = _call(args, "PUT", f"/orgs/{_q(args.org)}/members/{_q(args.user)}", {"role": args.role})
    print(f"{r['username']} is now {r['role']} of {args.org}")
    return 0


def _org_remove_member(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/orgs/{_q(args.org)}/members/{_q(args.user)}")
    print(f"{args.user} is no longer a member of {args.org}")
    return 0


def _org_add_team(args: argparse.Namespace) -> int:
    _call(args, "POST", f"/orgs/{_q(args.org)}/teams", {"name": args.team})
    print(f"created team {args.team} in {args.org}")
    return 0


def _org_remove_team(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/orgs/{_q(args.org)}/teams/{_q(args.team)}")
    print(f"deleted team {args.team} of {args.org}")
    return 0


def _org_team_add(args: argparse.Namespace) -> int:
    _call(args, "PUT", f"/orgs/{_q(args.org)}/teams/{_q(args.team)}/members/{_q(args.user)}")
    print(f"{args.user} joined team {args.team}")
    return 0


def _org_team_remove(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/orgs/{_q(args.org)}/teams/{_q(args.team)}/members/{_q(args.user)}")
    print(f"{args.user} left team {args.team}")
    return 0


def _org_team_role(args: argparse.Namespace) -> int:
    path = f"/orgs/{_q(args.org)}/teams/{_q(args.team)}/projects/{_q(args.project)}"
    if args.remove:
        _call(args, "DELETE", path)
        print(f"team {args.team} has no role on {args.project} any more")
    else:
        if not args.role:
            raise CliError("give --role owner|maintainer|reader, or --remove")
        _call(args, "PUT", path, {"role": args.role})
        print(f"team {args.team} is now {args.role} of {args.project}")
    return 0


def _org_transfer(args: argparse.Namespace) -> int:
    _call(args, "PUT", f"/orgs/{_q(args.org)}/projects/{_q(args.project)}")
    print(f"{args.project} now belongs to {args.org}")
    return 0


# ---- events ----------------------------------------------------------------------------------


def _events(args: argparse.Namespace) -> int:
    query = f"?limit={args.limit}&before={args.before}"
    if args.project:
        query += f"&project={_q(args.project)}"
    events = _call(args, "GET", "/events" + query)
    if args.json:
        _print_json(events)
        return 0
    for e in events:
        detail = json.dumps(e["detail"], sort_keys=True)
        token = f" token={e['token_id']}" if e["token_id"] else ""
        print(f"{e['id']:>8}  {e['at']}  {e['kind']:<20} {e['user'] or '-'}{token}  {detail}")
    return 0


# ---- admin reserve (data directory) ----------------------------------------------------------


def _admin_reserve(args: argparse.Namespace) -> int:
    from vestry.common.datadir import DataDir, default_data_dir
    from vestry.common.db import make_engine
    from vestry.services.index.access import Caller
    from vestry.services.index.server import migrate_database
    from vestry.services.index.service import IndexService

    dd = DataDir(args.data_dir or default_data_dir())
    dd.prepare()
    migrate_database(dd.index_db_url)
    index = IndexService(make_engine(dd.index_db_url))
    operator = Caller(authenticated=True, user_id="", username="admin-cli", admin=True)
    reserved = index.orgs.reserve(operator, args.pattern, args.org)
    print(f"reserved {reserved.pattern} for organisation {reserved.organization}")
    return 0


# ---- registration ----------------------------------------------------------------------------


def _run(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        from vestry.common.errors import DomainError

        try:
            return handler(args)
        except CliError as exc:
            print(f"vestry: {exc}", file=sys.stderr)
            return 1
        except DomainError as exc:
            print(f"vestry: {exc.message}", file=sys.stderr)
            return 1

    return run


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    admin_sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register the commands; each sets `projects_handler`, which `main` dispatches to."""
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--url", default="", help="the gateway (default $VESTRY_URL)")
    server.add_argument("--token", default="", help="an API token (default $VESTRY_TOKEN)")
    server.add_argument("--timeout", type=float, default=30.0)

    def cmd(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        handler: Handler,
        help_text: str,
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text, parents=[server])
        p.set_defaults(projects_handler=_run(handler))
        return p

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("--version", default="", help="a whole release")
        p.add_argument("--file", default="", help="one file (its filename)")

    project = sub.add_parser("project", help="manage a project on a running Vestry")
    ps = project.add_subparsers(dest="project_command", required=True)
    p = cmd(ps, "show", _project_show, "visibility, status, roles, releases and files")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p = cmd(ps, "set-visibility", _project_visibility, "make a project private or public")
    p.add_argument("project")
    p.add_argument("visibility", choices=["private", "public"])
    p = cmd(ps, "set-status", _project_status, "PEP 792 status")
    p.add_argument("project")
    p.add_argument("status", choices=["active", "archived", "deprecated", "quarantined"])
    p.add_argument("--reason", default="")
    p = cmd(ps, "add-member", _project_add_member, "give a user a role (or change it)")
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("--role", default="maintainer", choices=["owner", "maintainer", "reader"])
    p = cmd(ps, "remove-member", _project_remove_member, "remove a user's role")
    p.add_argument("project")
    p.add_argument("user")
    p = cmd(ps, "yank", _project_yank, "yank a release or a file (PEP 592)")
    p.add_argument("project")
    target(p)
    p.add_argument("--reason", default="")
    p = cmd(ps, "unyank", _project_unyank, "un-yank a release or a file")
    p.add_argument("project")
    target(p)
    p = cmd(
        ps, "delete", _project_delete, "delete a release, a file, or the whole project (for good)"
    )
    p.add_argument("project")
    target(p)
    p.add_argument("--yes", action="store_true", help="confirm: filenames are never reusable")
    p.add_argument(
        "--confirm",
        default="",
        metavar="PROJECT",
        help="without --version/--file: the whole project, confirmed by naming it again",
    )

    from vestry.cli.publishers import add_commands as add_publisher_commands

    add_publisher_commands(ps, cmd)

    org = sub.add_parser("org", help="organisations, members and teams on a running Vestry")
    os_ = org.add_subparsers(dest="org_command", required=True)
    p = cmd(os_, "create", _org_create, "found an organisation (you become its owner)")
    p.add_argument("org")
    p = cmd(os_, "show", _org_show, "members, teams and projects")
    p.add_argument("org")
    p.add_argument("--json", action="store_true")
    p = cmd(os_, "add-member", _org_add_member, "add a member or change their role")
    p.add_argument("org")
    p.add_argument("user")
    p.add_argument("--role", default="member", choices=["owner", "member"])
    p = cmd(os_, "remove-member", _org_remove_member, "remove a member (and from all teams)")
    p.add_argument("org")
    p.add_argument("user")
    p = cmd(os_, "add-team", _org_add_team, "create a team")
    p.add_argument("org")
    p.add_argument("team")
    p = cmd(os_, "remove-team", _org_remove_team, "delete a team")
    p.add_argument("org")
    p.add_argument("team")
    p = cmd(os_, "team-add", _org_team_add, "add a member to a team")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")
    p = cmd(os_, "team-remove", _org_team_remove, "remove a member from a team")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("user")
    p = cmd(os_, "team-role", _org_team_role, "give a team a role on a project")
    p.add_argument("org")
    p.add_argument("team")
    p.add_argument("project")
    p.add_argument("--role", default="", choices=["", "owner", "maintainer", "reader"])
    p.add_argument("--remove", action="store_true")
    p = cmd(os_, "transfer", _org_transfer, "move a project you own into the organisation")
    p.add_argument("org")
    p.add_argument("project")

    p = cmd(sub, "events", _events, "the audit log, newest first")
    p.add_argument("--project", default="", help="one project's events (else all: admins)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--before", type=int, default=0, help="events older than this id")
    p.add_argument("--json", action="store_true")

    p = admin_sub.add_parser(
        "reserve", help="reserve a project name or prefix (acme-*) for an organisation"
    )
    p.add_argument("pattern")
    p.add_argument("--org", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.set_defaults(projects_handler=_run(_admin_reserve))

"""`vestry project …`: show and manage one project on a running gateway.

Every command talks to the gateway's management API (`--url`/`--token`, or VESTRY_URL /
VESTRY_TOKEN), so it works against any deployment with an API token and needs no access to its
databases.
"""

from __future__ import annotations

import argparse

from vestry.cli._command import SubParsers, add_command, api_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api
from vestry.cli.errors import CliError
from vestry.common.vocabulary import ProjectRole, ProjectStatus, Visibility, values

__all__ = ["add_commands"]


def _target(args: argparse.Namespace) -> dict[str, str]:
    if bool(args.version) == bool(args.file):
        raise CliError("give exactly one of --version (the whole release) and --file")
    return {"version": args.version or "", "filename": args.file or ""}


def _show(args: argparse.Namespace) -> int:
    p = Api.from_args(args).call("GET", f"/projects/{q(args.project)}")
    if args.json:
        print_json(p)
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


_set_visibility = api_command(
    "PUT",
    "/projects/{project}/visibility",
    "{project} is now {visibility}",
    {"visibility": "visibility"},
)
_set_status = api_command(
    "PUT",
    "/projects/{project}/status",
    "{project} is now {status}",
    {"status": "status", "reason": "reason"},
)


def _add_member(args: argparse.Namespace) -> int:
    path = f"/projects/{q(args.project)}/members/{q(args.user)}"
    r = Api.from_args(args).call("PUT", path, {"role": args.role})
    print(f"{r['username']} is now {r['role']} of {args.project}")
    return 0


_remove_member = api_command(
    "DELETE", "/projects/{project}/members/{user}", "{user} no longer has a role on {project}"
)


def _yank(args: argparse.Namespace) -> int:
    body = {**_target(args), "reason": args.reason}
    Api.from_args(args).call("POST", f"/projects/{q(args.project)}/yank", body)
    print(f"yanked {args.version or args.file} of {args.project}")
    return 0


def _unyank(args: argparse.Namespace) -> int:
    Api.from_args(args).call("POST", f"/projects/{q(args.project)}/unyank", _target(args))
    print(f"un-yanked {args.version or args.file} of {args.project}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    p = q(args.project)
    if not (args.version or args.file):
        # The whole project: confirmed by naming it twice, not by a flag one adds from habit.
        if args.confirm != args.project:
            raise CliError(
                f"this deletes the whole project {args.project!r}: every release, file and role; "
                f"its filenames can never be uploaded again. To confirm, add --confirm "
                f"{args.project} (or name a --version or --file to delete less)"
            )
        Api.from_args(args).call("DELETE", f"/projects/{p}")
        print(f"deleted the project {args.project}")
        return 0
    target = _target(args)
    if not args.yes:
        raise CliError(
            "deleting is permanent and the filenames can never be uploaded again; "
            "add --yes to confirm (consider `vestry project yank` instead)"
        )
    if target["version"]:
        path = f"/projects/{p}/releases/{q(target['version'])}"
    else:
        path = f"/projects/{p}/files/{q(target['filename'])}"
    Api.from_args(args).call("DELETE", path)
    print(f"deleted {args.version or args.file} of {args.project}")
    return 0


def add_commands(sub: SubParsers) -> None:
    """Register `vestry project` and its subcommands."""

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument("--version", default="", help="a whole release")
        p.add_argument("--file", default="", help="one file (its filename)")

    project = sub.add_parser("project", help="manage a project on a running Vestry")
    ps = project.add_subparsers(dest="project_command", required=True)
    p = add_command(ps, "show", _show, "visibility, status, roles, releases and files", "project")
    p.add_argument("--json", action="store_true")
    p = add_command(
        ps, "set-visibility", _set_visibility, "make a project private or public", "project"
    )
    p.add_argument("visibility", choices=values(Visibility))
    p = add_command(ps, "set-status", _set_status, "PEP 792 status", "project")
    p.add_argument("status", choices=values(ProjectStatus))
    p.add_argument("--reason", default="")
    p = add_command(
        ps, "add-member", _add_member, "give a user a role (or change it)", "project", "user"
    )
    p.add_argument("--role", default="maintainer", choices=values(ProjectRole))
    p = add_command(ps, "remove-member", _remove_member, "remove a user's role", "project", "user")
    p = add_command(ps, "yank", _yank, "yank a release or a file (PEP 592)", "project")
    target(p)
    p.add_argument("--reason", default="")
    p = add_command(ps, "unyank", _unyank, "un-yank a release or a file", "project")
    target(p)
    p = add_command(
        ps, "delete", _delete, "delete a release, a file, or the whole project (for good)"
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

"""`vestry project trusted-publisher add|list|remove`: the CI jobs that may publish a project
with no stored secret (OIDC trusted publishing), through the management API."""

from __future__ import annotations

import argparse
from typing import Any

from vestry.cli._command import SubParsers, add_command, api_command, print_json
from vestry.cli._command import segment as q
from vestry.cli.api import Api
from vestry.cli.errors import CliError

__all__ = ["add_commands"]


def _publisher(args: argparse.Namespace) -> dict[str, Any]:
    claims: dict[str, str] = {}
    if args.github:
        if not args.workflow:
            raise CliError("--github needs --workflow FILE (e.g. publish.yml)")
        issuer, claims = "github", {"repository": args.github, "workflow": args.workflow}
    elif args.gitlab:
        issuer, claims = "gitlab", {"project": args.gitlab}
        if args.workflow:
            claims["workflow"] = args.workflow
        if args.ref:
            claims["ref"] = args.ref
    else:
        issuer = args.issuer
        if args.workflow or args.environment:
            raise CliError("a generic issuer's publisher is described by --claim NAME=VALUE")
    if args.ref and not args.gitlab:
        raise CliError("--ref is for GitLab publishers (--gitlab GROUP/PROJECT)")
    if args.environment:
        claims["environment"] = args.environment
    for entry in args.claim:
        name, sep, value = entry.partition("=")
        if not sep or not name:
            raise CliError(f"--claim {entry!r}: expected NAME=VALUE")
        if args.github or args.gitlab:
            raise CliError("--claim is for generic issuers (--issuer NAME)")
        claims[name] = value
    return {"issuer": issuer, "claims": claims}


def _describe(p: dict[str, Any]) -> str:
    claims = ", ".join(f"{k}={v}" for k, v in sorted(p["claims"].items()))
    return f"{p['id']}  {p['issuer']}  {claims}  (added by {p['created_by']})"


def _add(args: argparse.Namespace) -> int:
    path = f"/projects/{q(args.project)}/trusted-publishers"
    added = Api.from_args(args).call("POST", path, _publisher(args))
    print(_describe(added))
    return 0


def _list(args: argparse.Namespace) -> int:
    path = f"/projects/{q(args.project)}/trusted-publishers"
    publishers = Api.from_args(args).call("GET", path)
    if args.json:
        print_json(publishers)
        return 0
    for p in publishers:
        print(_describe(p))
    if not publishers:
        print(f"{args.project} has no trusted publishers")
    return 0


_remove = api_command(
    "DELETE",
    "/projects/{project}/trusted-publishers/{id}",
    "removed trusted publisher {id}; its tokens no longer work",
)


def add_commands(ps: SubParsers) -> None:
    """Register `vestry project trusted-publisher` under `vestry project`'s subcommands."""
    tp = ps.add_parser("trusted-publisher", help="CI jobs that may publish without a secret")
    ts = tp.add_subparsers(dest="publisher_command", required=True)
    p = add_command(
        ts,
        "add",
        _add,
        "trust a GitHub Actions workflow, a GitLab CI project, or an issuer",
        "project",
    )
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--github", metavar="OWNER/REPO", help="a GitHub repository")
    kind.add_argument("--gitlab", metavar="GROUP/PROJECT", help="a GitLab project path")
    kind.add_argument("--issuer", metavar="NAME", help="a generic issuer of VESTRY_OIDC_ISSUERS")
    p.add_argument(
        "--workflow", metavar="FILE", help="GitHub: the workflow file; GitLab: the CI file"
    )
    p.add_argument("--environment", metavar="ENV", help="only jobs in this deployment environment")
    p.add_argument("--ref", metavar="REF", help="GitLab: only jobs of this branch or tag")
    p.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="generic issuers: a claim the token must carry with this value (repeatable)",
    )
    p = add_command(ts, "list", _list, "the project's trusted publishers", "project")
    p.add_argument("--json", action="store_true")
    p = add_command(
        ts, "remove", _remove, "remove a trusted publisher (its tokens stop working)", "project"
    )
    p.add_argument("id", help="the publisher's ID (from list)")

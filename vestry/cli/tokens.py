"""`vestry token …` commands.

`attenuate` works offline (no server, no settings). `create`, `list` and `revoke` talk to the
gateway's `/api/v1/tokens` with `--url`/`--token` or `VESTRY_URL`/`VESTRY_TOKEN`; a new token is
printed alone on the last line of stdout, so scripts can take `| tail -1`.
"""

from __future__ import annotations

import argparse
from typing import Any

from vestry.cli._command import segment
from vestry.cli.api import Api
from vestry.cli.errors import CliError
from vestry.common.durations import parse_duration
from vestry.common.tokens import TOKEN_PREFIX
from vestry.common.vocabulary import Permission
from vestry.services.auth.caveats import PERMISSIONS
from vestry.services.auth.errors import CaveatError, MalformedToken
from vestry.services.auth.tokens import attenuate as attenuate_token
from vestry.services.auth.tokens import load, token_id

__all__ = [
    "add_server_commands",
    "attenuate",
    "create",
    "list_tokens",
    "revoke",
    "run_token_command",
]

# What the --token of `create`, `list` and `revoke` must hold.
_NEEDS = Permission.MANAGE_TOKENS


def attenuate(token: str, projects: list[str], perms: list[str], expires: str | None) -> int:
    try:
        seconds = parse_duration(expires) if expires else None
        narrowed = attenuate_token(token, projects=projects, permissions=perms, expires_in=seconds)
    except (MalformedToken, CaveatError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(narrowed)
    return 0


def create(
    url: str | None,
    token: str | None,
    projects: list[str],
    perms: list[str],
    expires: str | None,
    name: str,
) -> int:
    api = Api.connect(url, token, token_needs=_NEEDS)
    try:
        seconds = parse_duration(expires) if expires else None
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    body: dict[str, Any] = {"name": name, "projects": projects, "permissions": perms}
    if seconds is not None:
        body["expires_in"] = seconds
    reply = api.call("POST", "/tokens", body)
    print(f"created token {reply['id']}{f' ({name})' if name else ''}: {_describe(reply)}")
    print("API token (shown once; use it as the password with username __token__):")
    print(reply["token"])
    return 0


def _describe(entry: dict[str, Any]) -> str:
    scope = entry.get("scope") or {}
    parts = [
        "projects " + ",".join(scope["projects"]) if scope.get("projects") else "all projects",
        "perms " + ",".join(scope["permissions"]) if scope.get("permissions") else "all perms",
    ]
    if scope.get("project_ids"):
        parts.append("bound to project ids")
    expires = entry.get("expires") or scope.get("expires")
    parts.append(f"expires {expires}" if expires else "no expiry")
    return "; ".join(parts)


def list_tokens(url: str | None, token: str | None) -> int:
    rows = Api.connect(url, token, token_needs=_NEEDS).call("GET", "/tokens")["tokens"]
    if not rows:
        print("no tokens")
        return 0
    print(f"{'ID':36}  {'NAME':20}  {'CREATED':20}  {'LAST USED':20}  SCOPE")
    for t in rows:
        print(
            f"{t['id']:36}  {t['name'][:20]:20}  {t['created'] or '-':20}  "
            f"{t['last_used'] or 'never':20}  {_describe(t)}"
        )
    return 0


def revoke(url: str | None, token: str | None, token_or_id: str) -> int:
    api = Api.connect(url, token, token_needs=_NEEDS)
    target = token_or_id.strip()
    if target.startswith(TOKEN_PREFIX):
        # The secret never travels in a URL: its ID is read from it here, offline.
        try:
            target = token_id(load(target))
        except MalformedToken as exc:
            raise CliError(str(exc)) from exc
    reply = api.call("DELETE", f"/tokens/{segment(target)}")
    print(f"revoked token {reply['revoked']} and every token attenuated from it")
    return 0


def add_server_commands(token_sub: Any) -> None:
    """Register `create`, `list` and `revoke` under `vestry token`."""

    def server_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=None, help="Vestry's base URL (default $VESTRY_URL)")
        p.add_argument(
            "--token", default=None, help="a token holding manage-tokens (default $VESTRY_TOKEN)"
        )

    cr = token_sub.add_parser("create", help="mint a new token, never wider than --token")
    server_args(cr)
    cr.add_argument("--project", action="append", default=[], help="repeat for several")
    cr.add_argument("--perm", action="append", default=[], choices=sorted(PERMISSIONS))
    cr.add_argument("--expires", default=None, help="e.g. 30d, 12h, 1h30m")
    cr.add_argument("--name", default="")
    ls = token_sub.add_parser("list", help="list your tokens (never their secrets)")
    server_args(ls)
    rv = token_sub.add_parser("revoke", help="revoke a token and everything attenuated from it")
    server_args(rv)
    rv.add_argument("token_or_id", metavar="TOKEN_OR_ID")


def run_token_command(args: argparse.Namespace) -> int:
    command: str = args.token_command
    if command == "attenuate":
        return attenuate(args.token, args.project, args.perm, args.expires)
    if command == "create":
        return create(args.url, args.token, args.project, args.perm, args.expires, args.name)
    if command == "list":
        return list_tokens(args.url, args.token)
    return revoke(args.url, args.token, args.token_or_id)

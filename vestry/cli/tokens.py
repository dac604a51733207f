"""`vestry token …` commands."""

from __future__ import annotations

import sys

from services.auth.caveats import CaveatError
from services.auth.tokens import MalformedToken
from services.auth.tokens import attenuate as attenuate_token
from vestry.common.durations import parse_duration


def attenuate(token: str, projects: list[str], perms: list[str], expires: str | None) -> int:
    try:
        seconds = parse_duration(expires) if expires else None
        narrowed = attenuate_token(token, projects=projects, permissions=perms, expires_in=seconds)
    except (MalformedToken, CaveatError, ValueError) as exc:
        print(f"vestry: {exc}", file=sys.stderr)
        return 1
    print(narrowed)
    return 0

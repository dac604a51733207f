"""Caveats: small tagged JSON values, parsed and checked by ONE dispatcher.

A caveat's wire form is a compact JSON array whose first element is an integer tag, e.g.
`[1,["requests","urllib3"]]`. Anything else — an unknown tag, an empty or mistyped field, raw
text — fails to parse, and a token carrying such a caveat is denied. New caveat kinds get new tags;
existing kinds only ever gain fields at the end (with defaults).

Every caveat narrows; `Scope` is what is left after all of a token's caveats are applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from packaging.utils import canonicalize_name

from vestry.common.tokens import MAX_TIMESTAMP
from vestry.common.vocabulary import Permission, values
from vestry.services.auth.errors import CaveatError

__all__ = [
    "MAX_TIMESTAMP",
    "PERMISSIONS",
    "AccessContext",
    "Caveat",
    "Expiry",
    "Permissions",
    "ProjectIds",
    "ProjectNames",
    "Scope",
    "UserBound",
    "dump_caveat",
    "parse_caveat",
]

PERMISSIONS = frozenset(values(Permission))
_MAX_ITEMS = 1000
_MAX_ITEM_LEN = 200


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > _MAX_ITEMS:
        raise CaveatError(f"{what}: expected a non-empty list")
    if not all(isinstance(v, str) and 0 < len(v) <= _MAX_ITEM_LEN for v in value):
        raise CaveatError(f"{what}: expected non-empty strings")
    return tuple(value)


def _timestamp(value: Any, what: str) -> int:
    # bool is an int subclass in Python; true/false are not timestamps.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIMESTAMP:
        raise CaveatError(f"{what}: expected an integer timestamp between 0 and {MAX_TIMESTAMP}")
    return value


@dataclass(frozen=True)
class Expiry:
    """Valid from `not_before` (inclusive) until `expires` (exclusive), Unix seconds."""

    TAG: ClassVar[int] = 0
    expires: int
    not_before: int = 0

    def fields(self) -> list[Any]:
        return [self.expires, self.not_before]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Expiry:
        if len(fields) != 2:
            raise CaveatError("expiry: expected [expires, not_before]")
        expires = _timestamp(fields[0], "expiry")
        not_before = _timestamp(fields[1], "expiry")
        if not_before > expires:
            raise CaveatError("expiry: not_before is after expires")
        return cls(expires, not_before)


@dataclass(frozen=True)
class ProjectNames:
    TAG: ClassVar[int] = 1
    names: tuple[str, ...]

    def fields(self) -> list[Any]:
        return [list(self.names)]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> ProjectNames:
        if len(fields) != 1:
            raise CaveatError("project names: expected [[names]]")
        names = _strings(fields[0], "project names")
        if any(canonicalize_name(n) != n for n in names):
            raise CaveatError("project names: names must be normalised (PEP 503)")
        return cls(names)


@dataclass(frozen=True)
class ProjectIds:
    """Binds a token to projects by ID, so it dies with them even if a name is re-registered."""

    TAG: ClassVar[int] = 2
    ids: tuple[str, ...]

    def fields(self) -> list[Any]:
        return [list(self.ids)]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> ProjectIds:
        if len(fields) != 1:
            raise CaveatError("project ids: expected [[ids]]")
        return cls(_strings(fields[0], "project ids"))


@dataclass(frozen=True)
class Permissions:
    TAG: ClassVar[int] = 3
    permissions: tuple[str, ...]

    def fields(self) -> list[Any]:
        return [list(self.permissions)]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Permissions:
        if len(fields) != 1:
            raise CaveatError("permissions: expected [[permissions]]")
        perms = _strings(fields[0], "permissions")
        unknown = set(perms) - PERMISSIONS
        if unknown:
            raise CaveatError(f"permissions: unknown permission(s) {sorted(unknown)}")
        return cls(perms)


@dataclass(frozen=True)
class UserBound:
    TAG: ClassVar[int] = 4
    user_id: str

    def fields(self) -> list[Any]:
        return [self.user_id]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> UserBound:
        if len(fields) != 1 or not isinstance(fields[0], str) or not fields[0]:
            raise CaveatError("user: expected [user_id]")
        return cls(fields[0])


Caveat = Expiry | ProjectNames | ProjectIds | Permissions | UserBound
_BY_TAG: dict[int, type[Expiry | ProjectNames | ProjectIds | Permissions | UserBound]] = {
    cls.TAG: cls for cls in (Expiry, ProjectNames, ProjectIds, Permissions, UserBound)
}


def dump_caveat(caveat: Caveat) -> str:
    return json.dumps([caveat.TAG, *caveat.fields()], separators=(",", ":"))


def parse_caveat(raw: str | bytes) -> Caveat:
    """Parse one first-party caveat predicate, or raise CaveatError."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaveatError("caveat is not JSON") from exc
    if not isinstance(value, list) or not value:
        raise CaveatError("caveat is not a tagged list")
    tag = value[0]
    if not isinstance(tag, int) or isinstance(tag, bool) or tag not in _BY_TAG:
        raise CaveatError("caveat has an unknown tag")
    return _BY_TAG[tag].from_fields(value[1:])


@dataclass(frozen=True)
class AccessContext:
    """The per-request part: what is being done, to which project."""

    permission: str
    project_name: str = ""  # canonical; empty = not about one project (e.g. the root listing)
    project_id: str = ""  # empty = the project does not exist yet (first upload)


def _meet(a: frozenset[str] | None, b: Iterable[str]) -> frozenset[str]:
    return frozenset(b) if a is None else a & frozenset(b)


@dataclass(frozen=True)
class Scope:
    """What a token may do at most. `None` means "not restricted"; an empty set means "nothing"."""

    project_names: frozenset[str] | None = None
    project_ids: frozenset[str] | None = None
    permissions: frozenset[str] | None = None
    not_before: int | None = None
    expires: int | None = None
    user_ids: frozenset[str] | None = field(default=None)

    def narrow(self, caveat: Caveat) -> Scope:
        """The scope left after also applying `caveat`; never wider than `self`."""
        if isinstance(caveat, Expiry):
            expires = caveat.expires if self.expires is None else min(self.expires, caveat.expires)
            nb = (
                caveat.not_before
                if self.not_before is None
                else max(self.not_before, caveat.not_before)
            )
            return replace(self, expires=expires, not_before=nb)
        if isinstance(caveat, ProjectNames):
            return replace(self, project_names=_meet(self.project_names, caveat.names))
        if isinstance(caveat, ProjectIds):
            return replace(self, project_ids=_meet(self.project_ids, caveat.ids))
        if isinstance(caveat, Permissions):
            return replace(self, permissions=_meet(self.permissions, caveat.permissions))
        return replace(self, user_ids=_meet(self.user_ids, [caveat.user_id]))

    def caveats(self) -> list[Caveat]:
        """Caveats that, applied to an unrestricted scope, give this one.

        An empty set ("nothing") has no caveat of its own, since empty caveats do not parse: it
        is written as two disjoint one-element caveats, whose intersection is exactly empty.
        """
        out: list[Caveat] = []
        if self.expires is not None or self.not_before is not None:
            out.append(
                Expiry(
                    self.expires if self.expires is not None else MAX_TIMESTAMP,
                    self.not_before or 0,
                )
            )
        if self.project_names is not None:
            names = sorted(self.project_names) or None
            out.extend(
                [ProjectNames(tuple(names))]
                if names
                else [ProjectNames(("a",)), ProjectNames(("b",))]
            )
        if self.project_ids is not None:
            ids = sorted(self.project_ids) or None
            out.extend(
                [ProjectIds(tuple(ids))] if ids else [ProjectIds(("-",)), ProjectIds(("+",))]
            )
        if self.permissions is not None:
            perms = sorted(self.permissions) or None
            out.extend(
                [Permissions(tuple(perms))]
                if perms
                else [Permissions(("read",)), Permissions(("upload",))]
            )
        if self.user_ids is not None:
            users = sorted(self.user_ids) or ["-", "+"]
            out.extend(UserBound(u) for u in users)
        return out

    def reaches_no_more_projects_than(self, other: Scope) -> bool:
        """True when every project this scope may act on, `other` may act on too (by name and
        by ID; a restriction of one kind is not compared with one of the other kind)."""
        for mine, theirs in (
            (self.project_names, other.project_names),
            (self.project_ids, other.project_ids),
        ):
            if theirs is not None and (mine is None or not mine <= theirs):
                return False
        return True

    def is_empty(self) -> bool:
        """True when no request can ever satisfy this scope (some dimension allows nothing)."""
        return any(
            v is not None and not v
            for v in (self.project_names, self.project_ids, self.permissions, self.user_ids)
        ) or (
            self.expires is not None
            and self.not_before is not None
            and self.not_before >= self.expires
        )

    def check_time(self, now: float) -> str | None:
        if self.not_before is not None and now < self.not_before:
            return "token is not valid yet"
        if self.expires is not None and now >= self.expires:
            return "token has expired"
        return None

    def check_user(self, user_id: str) -> str | None:
        if self.user_ids is not None and user_id not in self.user_ids:
            return "token is bound to another user"
        return None

    def check(self, ctx: AccessContext, now: float) -> str | None:
        """None when `ctx` is allowed at `now`, else the reason it is not."""
        reason = self.check_time(now)
        if reason:
            return reason
        if self.permissions is not None and ctx.permission not in self.permissions:
            return f"token does not permit {ctx.permission!r}"
        if ctx.project_name:
            if self.project_names is not None and ctx.project_name not in self.project_names:
                return f"token is not valid for project {ctx.project_name!r}"
            # An ID-scoped token only works on projects that exist with one of its IDs: a
            # project deleted and re-created under the same name has a new ID.
            if self.project_ids is not None and ctx.project_id not in self.project_ids:
                return f"token is not valid for project {ctx.project_name!r}"
        return None

    def within(self, other: Scope) -> bool:
        """True when this scope allows nothing that `other` does not."""

        def sub(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
            return b is None or (a is not None and a <= b)

        return (
            sub(self.project_names, other.project_names)
            and sub(self.project_ids, other.project_ids)
            and sub(self.permissions, other.permissions)
            and sub(self.user_ids, other.user_ids)
            and (
                other.expires is None
                or (self.expires is not None and self.expires <= other.expires)
            )
            and (
                other.not_before is None
                or (self.not_before is not None and self.not_before >= other.not_before)
            )
        )

    def to_json(self) -> dict[str, Any]:
        def opt(v: frozenset[str] | None) -> list[str] | None:
            return None if v is None else sorted(v)

        return {
            "project_names": opt(self.project_names),
            "project_ids": opt(self.project_ids),
            "permissions": opt(self.permissions),
            "not_before": self.not_before,
            "expires": self.expires,
            "user_ids": opt(self.user_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        """Inverse of `to_json`; raises ValueError/TypeError/KeyError on anything else."""

        def opt(v: Any) -> frozenset[str] | None:
            if v is None:
                return None
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise TypeError("expected a list of strings")
            return frozenset(v)

        def ts(v: Any) -> int | None:
            if v is None:
                return None
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError("expected an integer")
            return v

        if set(data) != {
            "project_names",
            "project_ids",
            "permissions",
            "not_before",
            "expires",
            "user_ids",
        }:
            raise KeyError("unexpected scope fields")
        return cls(
            project_names=opt(data["project_names"]),
            project_ids=opt(data["project_ids"]),
            permissions=opt(data["permissions"]),
            not_before=ts(data["not_before"]),
            expires=ts(data["expires"]),
            user_ids=opt(data["user_ids"]),
        )

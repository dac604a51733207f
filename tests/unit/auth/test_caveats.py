"""The ONE caveat dispatcher: every tag round-trips; anything unknown, empty or mistyped fails."""

from __future__ import annotations

from typing import Any

import pytest

from vestry.services.auth.caveats import (
    MAX_TIMESTAMP,
    AccessContext,
    Caveat,
    Expiry,
    Permissions,
    ProjectIds,
    ProjectNames,
    Scope,
    UserBound,
    dump_caveat,
    parse_caveat,
)
from vestry.services.auth.errors import CaveatError


@pytest.mark.parametrize(
    ("caveat", "wire"),
    [
        (Expiry(2000, 1000), "[0,2000,1000]"),
        (Expiry(MAX_TIMESTAMP, 0), f"[0,{MAX_TIMESTAMP},0]"),
        (ProjectNames(("requests", "urllib3")), '[1,["requests","urllib3"]]'),
        (ProjectIds(("6f1c",)), '[2,["6f1c"]]'),
        (Permissions(("read", "upload")), '[3,["read","upload"]]'),
        (Permissions(("yank", "manage-tokens", "admin")), '[3,["yank","manage-tokens","admin"]]'),
        (UserBound("u-1"), '[4,"u-1"]'),
    ],
)
def test_every_tag_round_trips(caveat: Caveat, wire: str) -> None:
    assert dump_caveat(caveat) == wire
    assert parse_caveat(wire) == caveat
    assert parse_caveat(wire.encode()) == caveat


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "not JSON"),
        ("expires=2030-01-01", "not JSON"),  # raw text, the classic macaroon caveat style
        ("project = foo", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[]", "not a tagged list"),
        ("{}", "not a tagged list"),
        ('{"tag":1}', "not a tagged list"),
        ("7", "not a tagged list"),
        ("null", "not a tagged list"),
        ('"[1,[\\"a\\"]]"', "not a tagged list"),
        ("[99,1]", "unknown tag"),
        ("[-1]", "unknown tag"),
        ('["1",["a"]]', "unknown tag"),
        ('[1.0,["a"]]', "unknown tag"),
        ('[true,["a"]]', "unknown tag"),  # bool is an int subclass in Python
        ("[null]", "unknown tag"),
        # expiry
        ("[0]", "expiry"),
        ("[0,100]", "expiry"),
        ("[0,100,0,0]", "expiry"),
        ('[0,"2030",0]', "expiry"),
        ("[0,100.5,0]", "expiry"),
        ("[0,true,0]", "expiry"),
        ("[0,-1,0]", "expiry"),
        ("[0,100,null]", "expiry"),
        (f"[0,{MAX_TIMESTAMP + 1},0]", "expiry"),
        ("[0,100,200]", "not_before is after expires"),
        # project names
        ("[1]", "project names"),
        ("[1,[]]", "project names"),
        ('[1,""]', "project names"),
        ('[1,"requests"]', "project names"),
        ('[1,[""]]', "project names"),
        ("[1,[1]]", "project names"),
        ('[1,["requests"],["x"]]', "project names"),
        ('[1,["Requests"]]', "normalised"),
        ('[1,["zope.interface"]]', "normalised"),
        ("[1,[" + ",".join(['"a"'] * 1001) + "]]", "project names"),
        ('[1,["' + "a" * 201 + '"]]', "project names"),
        # project ids
        ("[2]", "project ids"),
        ("[2,[]]", "project ids"),
        ("[2,[null]]", "project ids"),
        ('[2,{"id":"x"}]', "project ids"),
        # permissions
        ("[3,[]]", "permissions"),
        ('[3,["read","delete"]]', "unknown permission"),
        ('[3,["READ"]]', "unknown permission"),
        ('[3,"read"]', "permissions"),
        ("[3,[true]]", "permissions"),
        # user
        ("[4]", "user"),
        ('[4,""]', "user"),
        ("[4,1]", "user"),
        ('[4,["u"]]', "user"),
        ('[4,"u","v"]', "user"),
    ],
)
def test_unknown_empty_or_mistyped_caveats_fail(raw: str | bytes, reason: str) -> None:
    with pytest.raises(CaveatError, match=reason):
        parse_caveat(raw)


def test_error_messages_do_not_echo_the_caveat() -> None:
    secret_looking = '[1,["vestry-AgEFdmVzdHJ5"]]'
    with pytest.raises(CaveatError) as info:
        parse_caveat(secret_looking)
    assert "vestry-" not in str(info.value)


ALL = Scope()


@pytest.mark.parametrize(
    ("scope", "ctx", "now", "reason"),
    [
        (ALL, AccessContext("upload", "foo", "id-foo"), 0, None),
        (Scope(permissions=frozenset({"read"})), AccessContext("read", "foo"), 0, None),
        (Scope(permissions=frozenset({"read"})), AccessContext("upload", "foo"), 0, "permit"),
        (Scope(permissions=frozenset()), AccessContext("read", "foo"), 0, "permit"),
        (Scope(project_names=frozenset({"foo"})), AccessContext("read", "foo"), 0, None),
        (Scope(project_names=frozenset({"foo"})), AccessContext("read", "bar"), 0, "project"),
        # Not about one project (the root listing): the index filters what is shown.
        (Scope(project_names=frozenset({"foo"})), AccessContext("read"), 0, None),
        (Scope(project_ids=frozenset({"1"})), AccessContext("read", "foo", "1"), 0, None),
        (Scope(project_ids=frozenset({"1"})), AccessContext("read", "foo", "2"), 0, "project"),
        # An ID-bound token cannot create a project (no ID yet).
        (Scope(project_ids=frozenset({"1"})), AccessContext("upload", "foo", ""), 0, "project"),
        (Scope(expires=100), AccessContext("read"), 99, None),
        (Scope(expires=100), AccessContext("read"), 100, "expired"),
        (Scope(not_before=100), AccessContext("read"), 99, "not valid yet"),
        (Scope(not_before=100), AccessContext("read"), 100, None),
    ],
)
def test_scope_check(scope: Scope, ctx: AccessContext, now: float, reason: str | None) -> None:
    result = scope.check(ctx, now)
    if reason is None:
        assert result is None
    else:
        assert result is not None and reason in result


def test_bound_user() -> None:
    scope = Scope().narrow(UserBound("a"))
    assert scope.check_user("a") is None
    assert scope.check_user("b") == "token is bound to another user"
    assert scope.narrow(UserBound("b")).check_user("a") is not None


def _apply(caveats: list[Caveat]) -> Scope:
    scope = Scope()
    for c in caveats:
        scope = scope.narrow(parse_caveat(dump_caveat(c)))
    return scope


@pytest.mark.parametrize(
    "scope",
    [
        Scope(),
        Scope(not_before=0, expires=500),  # an expiry caveat always carries its not-before
        Scope(not_before=10, expires=500),
        Scope(project_names=frozenset({"a", "b"}), permissions=frozenset({"read"})),
        Scope(project_ids=frozenset({"x"}), user_ids=frozenset({"u"})),
        # "Nothing" must survive the trip as nothing, not turn into "unrestricted".
        Scope(project_names=frozenset()),
        Scope(project_ids=frozenset()),
        Scope(permissions=frozenset()),
        Scope(user_ids=frozenset()),
    ],
)
def test_caveats_reproduce_the_scope(scope: Scope) -> None:
    assert _apply(scope.caveats()) == scope


def test_not_before_alone_gets_the_largest_expiry() -> None:
    again = _apply(Scope(not_before=10).caveats())
    assert again.not_before == 10 and again.expires == MAX_TIMESTAMP
    assert again.within(Scope(not_before=10))


@pytest.mark.parametrize(
    ("narrow", "wide", "expected"),
    [
        (Scope(), Scope(), True),
        (Scope(permissions=frozenset({"read"})), Scope(), True),
        (Scope(), Scope(permissions=frozenset({"read"})), False),
        (Scope(permissions=frozenset()), Scope(permissions=frozenset({"read"})), True),
        (Scope(expires=5), Scope(expires=6), True),
        (Scope(expires=7), Scope(expires=6), False),
        (Scope(), Scope(expires=6), False),
        (Scope(not_before=5), Scope(not_before=6), False),
        (Scope(not_before=6), Scope(not_before=5), True),
        (Scope(user_ids=frozenset({"u"})), Scope(user_ids=frozenset({"v"})), False),
    ],
)
def test_within(narrow: Scope, wide: Scope, expected: bool) -> None:
    assert narrow.within(wide) is expected


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"project_names": None},
        {**Scope().to_json(), "extra": 1},
        {**Scope().to_json(), "permissions": "read"},
        {**Scope().to_json(), "permissions": [1]},
        {**Scope().to_json(), "expires": "5"},
        {**Scope().to_json(), "expires": True},
    ],
)
def test_scope_from_json_refuses_anything_else(data: dict[str, Any]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        Scope.from_json(data)

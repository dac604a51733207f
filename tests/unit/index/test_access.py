"""The access rules, table-driven: roles x actions x visibility, then token restrictions."""

from __future__ import annotations

import pytest

from vestry.common.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from vestry.services.index.access import (
    ANONYMOUS,
    Action,
    Caller,
    OrgAction,
    ProjectFacts,
    authorize,
    authorize_org,
    can,
)

R, U, Y, D, V, M, S = (
    Action.READ,
    Action.UPLOAD,
    Action.YANK,
    Action.DELETE,
    Action.SET_VISIBILITY,
    Action.MANAGE_ROLES,
    Action.SET_STATUS,
)
ALL = frozenset(Action)
PID = "5b0e1c9a-0000-4000-8000-000000000001"


def facts(visibility: str, *roles: str) -> ProjectFacts:
    return ProjectFacts(PID, "proj", visibility, frozenset(roles))


USER = Caller(authenticated=True, user_id="u1", username="u1")
ADMIN = Caller(authenticated=True, user_id="a1", username="a1", admin=True)

# (who, their roles on the project, what they may do on a private project)
PRIVATE_TABLE = [
    ("anonymous", ANONYMOUS, (), frozenset()),
    ("no role", USER, (), frozenset()),
    ("reader", USER, ("reader",), {R}),
    ("maintainer", USER, ("maintainer",), {R, U, Y}),
    ("owner", USER, ("owner",), ALL),
    ("reader via team + maintainer", USER, ("reader", "maintainer"), {R, U, Y}),
    ("unknown role string", USER, ("superuser",), frozenset()),
    ("admin", ADMIN, (), ALL),
]


@pytest.mark.parametrize(("label", "caller", "roles", "allowed"), PRIVATE_TABLE)
@pytest.mark.parametrize("action", list(Action))
def test_private_project(
    label: str, caller: Caller, roles: tuple[str, ...], allowed: set[Action], action: Action
) -> None:
    assert can(caller, facts("private", *roles), action) is (action in allowed)


@pytest.mark.parametrize(("label", "caller", "roles", "allowed"), PRIVATE_TABLE)
@pytest.mark.parametrize("action", list(Action))
def test_public_project_is_readable_by_all_and_writable_as_private(
    label: str, caller: Caller, roles: tuple[str, ...], allowed: set[Action], action: Action
) -> None:
    expected = action is R or action in allowed
    assert can(caller, facts("public", *roles), action) is expected


def token(
    *,
    perms: set[str] | None = None,
    names: set[str] | None = None,
    ids: set[str] | None = None,
    admin: bool = False,
) -> Caller:
    return Caller(
        authenticated=True,
        user_id="u1",
        username="u1",
        admin=admin,
        token_permissions=frozenset(perms) if perms is not None else None,
        token_project_names=frozenset(names) if names is not None else None,
        token_project_ids=frozenset(ids) if ids is not None else None,
    )


# The token narrows what the role allows; it never widens it.
TOKEN_TABLE = [
    ("read-only token", token(perms={"read"}), "owner", {R}),
    ("upload token", token(perms={"upload"}), "owner", {U}),
    ("read+upload token, maintainer", token(perms={"read", "upload"}), "maintainer", {R, U}),
    ("admin-permission token", token(perms={"read", "admin"}), "owner", {R, D, V, M, S}),
    ("yank token held by a reader", token(perms={"yank", "read"}), "reader", {R}),
    ("token for this project by name", token(names={"proj"}), "owner", ALL),
    ("token for another project", token(names={"other"}), "owner", frozenset()),
    ("token for this project id", token(ids={PID}), "owner", ALL),
    ("token for another project id", token(ids={"x"}), "owner", frozenset()),
    ("name right, id wrong", token(names={"proj"}, ids={"x"}), "owner", frozenset()),
    ("admin user, read-only token", token(perms={"read"}, admin=True), "", {R}),
    ("admin user, other project", token(names={"other"}, admin=True), "", frozenset()),
]


@pytest.mark.parametrize(("label", "caller", "role", "allowed"), TOKEN_TABLE)
@pytest.mark.parametrize("action", list(Action))
def test_token_restrictions(
    label: str, caller: Caller, role: str, allowed: set[Action], action: Action
) -> None:
    roles = (role,) if role else ()
    assert can(caller, facts("private", *roles), action) is (action in allowed)


def test_a_narrow_token_cannot_hide_a_public_project() -> None:
    assert can(token(names={"other"}), facts("public"), R)


# What a client is told: 401 to the anonymous, 404 when invisible, 403 when visible but refused.
ERROR_TABLE: list[tuple[str, Caller, ProjectFacts | None, Action, type[DomainError], str]] = [
    ("anonymous, private", ANONYMOUS, facts("private"), R, Unauthenticated, "authentication"),
    ("anonymous, missing", ANONYMOUS, None, R, Unauthenticated, "authentication"),
    ("anonymous upload to public", ANONYMOUS, facts("public"), U, Unauthenticated, "auth"),
    ("stranger, private", USER, facts("private"), R, NotFound, "not found"),
    ("stranger, missing", USER, None, R, NotFound, "not found"),
    ("stranger upload, private", USER, facts("private"), U, NotFound, "not found"),
    ("stranger upload, public", USER, facts("public"), U, PermissionDenied, "may not upload"),
    ("reader uploads", USER, facts("private", "reader"), U, PermissionDenied, "may not upload"),
    (
        "maintainer changes visibility",
        USER,
        facts("private", "maintainer"),
        V,
        PermissionDenied,
        "may not set-visibility",
    ),
    ("maintainer deletes", USER, facts("public", "maintainer"), D, PermissionDenied, "delete"),
    (
        "owner with read-only token uploads",
        token(perms={"read"}),
        facts("private", "owner"),
        U,
        PermissionDenied,
        "token used does not permit 'upload'",
    ),
    (
        "owner with other-project token",
        token(names={"other"}),
        facts("private", "owner"),
        R,
        NotFound,
        "not found",
    ),
]


@pytest.mark.parametrize(("label", "caller", "project", "action", "error", "text"), ERROR_TABLE)
def test_authorize_errors(
    label: str,
    caller: Caller,
    project: ProjectFacts | None,
    action: Action,
    error: type[DomainError],
    text: str,
) -> None:
    with pytest.raises(error) as info:
        authorize(caller, project, action)
    assert type(info.value) is error
    assert text in info.value.message


@pytest.mark.parametrize("action", list(Action))
def test_authorize_passes_what_can_allows(action: Action) -> None:
    authorize(USER, facts("private", "owner"), action)


ORG_TABLE: list[tuple[str, Caller, bool, str | None, OrgAction, type[DomainError] | None]] = [
    ("anonymous", ANONYMOUS, True, None, OrgAction.VIEW, Unauthenticated),
    ("missing org", USER, False, None, OrgAction.VIEW, NotFound),
    ("non-member", USER, True, None, OrgAction.VIEW, NotFound),
    ("member views", USER, True, "member", OrgAction.VIEW, None),
    ("member manages", USER, True, "member", OrgAction.MANAGE, PermissionDenied),
    ("owner manages", USER, True, "owner", OrgAction.MANAGE, None),
    ("admin manages", ADMIN, True, None, OrgAction.MANAGE, None),
    ("owner, read token", token(perms={"read"}), True, "owner", OrgAction.MANAGE, PermissionDenied),
    ("owner, project token", token(names={"p"}), True, "owner", OrgAction.VIEW, NotFound),
]


@pytest.mark.parametrize(("label", "caller", "exists", "role", "action", "error"), ORG_TABLE)
def test_authorize_org(
    label: str,
    caller: Caller,
    exists: bool,
    role: str | None,
    action: OrgAction,
    error: type[DomainError] | None,
) -> None:
    if error is None:
        authorize_org(caller, exists, role, action)
    else:
        with pytest.raises(error):
            authorize_org(caller, exists, role, action)

"""AuthService on SQLite and PostgreSQL: the issue's bad-input list, minting, revocation, audit."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
from pymacaroons import MACAROON_V2, Macaroon
from sqlalchemy import Engine, func, select

from tests.support.auth import NOW, Clock, make_service, snapshot
from vestry.common.errors import (
    AlreadyExists,
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from vestry.services.auth import tokens
from vestry.services.auth.caveats import MAX_TIMESTAMP, AccessContext, Scope
from vestry.services.auth.models import Event, Token
from vestry.services.auth.service import AuthService

READ_FOO = AccessContext("read", "foo", "id-foo")


def _root(service: AuthService, name: str = "alice", admin: bool = False) -> str:
    service.create_user(name, admin=admin)
    token, _ = service.mint(requested=Scope(), for_user=name)
    return token


def _with_raw_caveat(token: str, predicate: str) -> str:
    m = tokens.load(token)
    m.add_first_party_caveat(predicate)
    return tokens.serialize(m)


def _forged(token: str) -> str:
    """Same identifier (a real row), signed with a key that is not the row's."""
    m = Macaroon(
        location="vestry",
        identifier=tokens.token_id(tokens.load(token)),
        key=secrets.token_bytes(32),
        version=MACAROON_V2,
    )
    return tokens.serialize(m)


BadInput = Callable[[AuthService, str, Clock], str]

UNAUTHENTICATED: dict[str, BadInput] = {
    "truncated": lambda s, t, c: t[:-5],
    "truncated to the prefix": lambda s, t, c: t[:9],
    "garbled base64": lambda s, t, c: t[:30] + "***" + t[33:],
    "wrong prefix": lambda s, t, c: "pypi-" + t[len("vestry-") :],
    "no prefix": lambda s, t, c: t[len("vestry-") :],
    "signed with another key": lambda s, t, c: _forged(t),
    "unknown tag": lambda s, t, c: _with_raw_caveat(t, "[42,1]"),
    "raw-text caveat": lambda s, t, c: _with_raw_caveat(t, "project = foo"),
    "empty caveat": lambda s, t, c: _with_raw_caveat(t, ""),
    "empty list caveat": lambda s, t, c: _with_raw_caveat(t, "[]"),
    "mistyped expiry": lambda s, t, c: _with_raw_caveat(t, '[0,"tomorrow",0]'),
    "mistyped permissions": lambda s, t, c: _with_raw_caveat(t, '[3,"read"]'),
    "unknown permission": lambda s, t, c: _with_raw_caveat(t, '[3,["everything"]]'),
    "mistyped projects": lambda s, t, c: _with_raw_caveat(t, "[1,[7]]"),
    "bool as tag": lambda s, t, c: _with_raw_caveat(t, '[true,["read"]]'),
    "expired": lambda s, t, c: tokens.attenuate(t, expires_in=60, now=c.now - 61),
    "not yet valid": lambda s, t, c: _with_raw_caveat(
        t, f"[0,{int(c.now) + 999},{int(c.now) + 10}]"
    ),
    "revoked": lambda s, t, c: (s.revoke(t, t), t)[1],
    "attenuated from a revoked token": lambda s, t, c: (
        (a := tokens.attenuate(t, permissions=["read"])),
        s.revoke(t, t),
        a,
    )[2],
    "disabled user": lambda s, t, c: (s.set_user_active("alice", False), t)[1],
    "bound to another user": lambda s, t, c: _with_raw_caveat(t, '[4,"someone-else"]'),
    "unknown token id": lambda s, t, c: tokens.mint(
        "00000000-0000-0000-0000-000000000000", secrets.token_bytes(32), []
    ),
    "NUL in identifier": lambda s, t, c: tokens.serialize(
        Macaroon(location="v", identifier="a\x00b", key=b"k" * 32, version=MACAROON_V2)
    ),
}


@pytest.mark.parametrize("ctx", [None, READ_FOO], ids=["no-context", "read-foo"])
@pytest.mark.parametrize("make", UNAUTHENTICATED.values(), ids=UNAUTHENTICATED.keys())
def test_bad_tokens_are_unauthenticated_with_a_reason(
    service: AuthService, clock: Clock, make: BadInput, ctx: AccessContext | None
) -> None:
    token = _root(service)
    service.verify(token)  # warm the cache: the denial must hold even so
    bad = make(service, token, clock)
    with pytest.raises(Unauthenticated) as info:
        service.verify(bad, ctx)
    assert info.value.message
    assert bad not in info.value.message and token not in info.value.message


PERMISSION_DENIED: dict[str, tuple[Callable[[str], str], AccessContext]] = {
    "project-scoped token on another project": (
        lambda t: tokens.attenuate(t, projects=["foo"]),
        AccessContext("read", "bar", "id-bar"),
    ),
    "read token used to upload": (
        lambda t: tokens.attenuate(t, permissions=["read"]),
        AccessContext("upload", "foo", "id-foo"),
    ),
    "token bound to a project id, project re-created under the same name": (
        lambda t: _with_raw_caveat(t, '[2,["id-foo-old"]]'),
        AccessContext("read", "foo", "id-foo-new"),
    ),
    "ID-bound token cannot create a project": (
        lambda t: _with_raw_caveat(t, '[2,["id-foo"]]'),
        AccessContext("upload", "brand-new", ""),
    ),
    "upload token used to yank": (
        lambda t: tokens.attenuate(t, permissions=["upload", "read"]),
        AccessContext("yank", "foo", "id-foo"),
    ),
}


@pytest.mark.parametrize(("make", "ctx"), PERMISSION_DENIED.values(), ids=PERMISSION_DENIED.keys())
def test_good_token_wrong_use_is_permission_denied(
    service: AuthService, make: Callable[[str], str], ctx: AccessContext
) -> None:
    narrowed = make(_root(service))
    service.verify(narrowed)  # valid as such
    with pytest.raises(PermissionDenied) as info:
        service.verify(narrowed, ctx)
    assert info.value.message


def test_project_ids_follow_the_project_not_the_name(service: AuthService) -> None:
    token = _with_raw_caveat(_root(service), '[2,["id-1"]]')
    assert service.verify(token, AccessContext("upload", "foo", "id-1")).user_id


def test_time_moves_the_answer(service: AuthService, clock: Clock) -> None:
    token = tokens.attenuate(_root(service), expires_in=60, now=clock.now)
    service.verify(token, READ_FOO)
    clock.now += 59
    service.verify(token, READ_FOO)  # cached, still inside its lifetime
    clock.now += 1
    with pytest.raises(Unauthenticated, match="expired"):
        service.verify(token, READ_FOO)


def test_user_b_cannot_revoke_user_a_token(service: AuthService) -> None:
    a = _root(service, "alice")
    b = _root(service, "bob")
    a_id = tokens.token_id(tokens.load(a))
    for target in (a, a_id):
        with pytest.raises(NotFound):
            service.revoke(b, target)
    # The same answer as for a token that does not exist: B learns nothing.
    with pytest.raises(NotFound):
        service.revoke(b, "00000000-0000-0000-0000-000000000000")
    assert service.verify(a, READ_FOO).username == "alice"


def test_admin_may_revoke_anyones_token(service: AuthService) -> None:
    a = _root(service, "alice")
    admin = _root(service, "root", admin=True)
    service.revoke(admin, a)
    with pytest.raises(Unauthenticated):
        service.verify(a)


@pytest.mark.parametrize("target", ["", "x" * 5000, "a\x00b", "vestry-garbage", "../../etc"])
def test_revoke_odd_targets(service: AuthService, target: str) -> None:
    token = _root(service)
    with pytest.raises((NotFound, InvalidArgument)):
        service.revoke(token, target)


def test_revoking_kills_every_attenuated_token(service: AuthService) -> None:
    root = _root(service)
    children = [
        tokens.attenuate(root, permissions=["read"]),
        tokens.attenuate(root, projects=["x"]),
    ]
    for c in children:
        service.verify(c)
    service.revoke(tokens.attenuate(root, permissions=["manage-tokens"]), root)
    for c in [root, *children]:
        with pytest.raises(Unauthenticated, match="revoked"):
            service.verify(c)


def test_revoking_needs_manage_tokens(service: AuthService) -> None:
    root = _root(service)
    reader = tokens.attenuate(root, permissions=["read"])
    with pytest.raises(PermissionDenied):
        service.revoke(reader, root)
    with pytest.raises(PermissionDenied):
        service.list_tokens(reader)
    with pytest.raises(PermissionDenied):
        service.mint(requested=Scope(), parent_token=reader)


def test_disable_and_enable_user(service: AuthService) -> None:
    token = _root(service)
    service.verify(token)
    service.set_user_active("alice", False)
    with pytest.raises(Unauthenticated, match="disabled"):
        service.verify(token)
    service.set_user_active("ALICE", True)
    assert service.verify(token).username == "alice"


def test_mint_is_never_wider_than_the_parent(service: AuthService, clock: Clock) -> None:
    root = _root(service)
    parent = tokens.attenuate(
        root,
        projects=["foo", "bar"],
        permissions=["read", "upload", "manage-tokens"],
        expires_in=3600,
        now=clock.now,
    )
    child, info = service.mint(
        requested=Scope(
            project_names=frozenset({"Foo", "baz"}),
            permissions=frozenset({"upload", "admin"}),
            expires=int(clock.now) + 10**6,
        ),
        parent_token=parent,
        name="ci",
    )
    parent_scope = service.verify(parent).scope
    child_scope = service.verify(child).scope
    assert child_scope.within(parent_scope)
    assert child_scope.project_names == {"foo"}
    assert child_scope.permissions == {"upload"}
    assert child_scope.expires == int(clock.now) + 3600
    assert info.caveats == child_scope and info.name == "ci"
    # A new root: revoking the parent's root does not kill it, and it can be revoked alone.
    assert tokens.token_id(tokens.load(child)) != tokens.token_id(tokens.load(root))


@pytest.mark.parametrize(
    "requested",
    [
        Scope(project_names=frozenset({"other"})),  # disjoint from the parent's {foo}
        Scope(permissions=frozenset()),
        Scope(project_ids=frozenset()),
        Scope(user_ids=frozenset()),
        Scope(not_before=NOW + 100, expires=NOW + 50),  # type: ignore[arg-type]
        Scope(expires=int(NOW) - 1),
        Scope(project_names=frozenset({""})),
        Scope(project_ids=frozenset({"x" * 500})),
    ],
)
def test_mint_refuses_restrictions_that_leave_nothing(
    service: AuthService, requested: Scope
) -> None:
    parent = tokens.attenuate(_root(service), projects=["foo"])
    with pytest.raises(InvalidArgument):
        service.mint(requested=requested, parent_token=parent)


def test_mint_with_not_before_only(service: AuthService, clock: Clock) -> None:
    token, info = service.mint(
        requested=Scope(not_before=int(clock.now) + 5), for_user=(service.create_user("zed").name)
    )
    with pytest.raises(Unauthenticated, match="not valid yet"):
        service.verify(token)
    clock.now += 5
    assert service.verify(token).username == "zed"
    assert info.expires is None  # no expiry, and no overflow from the caveat's sentinel
    assert info.caveats.expires == MAX_TIMESTAMP


def test_server_attenuation_matches_offline(service: AuthService, clock: Clock) -> None:
    root = _root(service)
    requested = Scope(project_names=frozenset({"Foo"}), permissions=frozenset({"read"}))
    server = service.attenuate(root, requested)
    offline = tokens.attenuate(root, projects=["Foo"], permissions=["read"])
    assert service.verify(server).scope == service.verify(offline).scope
    with pytest.raises(InvalidArgument):
        service.attenuate(root, Scope(permissions=frozenset()))
    with pytest.raises(Unauthenticated):
        service.attenuate(root[:-4], requested)


def test_offline_attenuation_changes_no_state(service: AuthService, engine: Engine) -> None:
    root = _root(service)
    service.verify(root)
    service.last_used.flush()
    before = snapshot(engine)
    narrowed = tokens.attenuate(
        root, projects=["foo"], permissions=["read"], expires_in=60, now=NOW
    )
    assert service.verify(narrowed, READ_FOO).username == "alice"
    assert snapshot(engine) == before


def test_list_shows_own_tokens_and_never_a_secret(service: AuthService) -> None:
    a = _root(service, "alice")
    _root(service, "bob")
    service.mint(requested=Scope(permissions=frozenset({"read"})), parent_token=a, name="ro")
    listed = service.list_tokens(a)
    assert [t.name for t in listed] == ["", "ro"]
    assert all(t.user_id == listed[0].user_id for t in listed)
    assert listed[1].caveats.permissions == {"read"}
    assert "key" not in {f for t in listed for f in vars(t)}
    rendered = repr(listed)
    assert a not in rendered and "vestry-" not in rendered


def test_last_used_is_batched_and_only_moves_forward(
    service: AuthService, engine: Engine, clock: Clock
) -> None:
    token = _root(service)
    token_id = tokens.token_id(tokens.load(token))

    def stamp() -> float | None:
        with engine.connect() as c:
            value = c.scalar(select(Token.last_used).where(Token.id == token_id))
        return None if value is None else value.timestamp()

    service.verify(token)
    assert stamp() is None  # nothing written on the hot path
    assert service.last_used.flush() == 1
    assert stamp() == pytest.approx(NOW)
    other = make_service(engine, clock=Clock(NOW - 100))  # a replica with a late clock
    other.verify(token)
    other.last_used.flush()
    assert stamp() == pytest.approx(NOW)
    clock.now += 10
    service.verify(token)
    service.verify(token)
    assert service.last_used.flush() == 1
    assert stamp() == pytest.approx(NOW + 10)
    assert service.last_used.flush() == 0


def test_last_used_survives_a_failed_flush(service: AuthService, engine: Engine) -> None:
    token = _root(service)
    service.verify(token)
    engine.dispose()
    broken = make_service(engine)
    broken._sessions.configure(bind=None)  # no database at all
    broken.last_used.touch("t", NOW)
    with pytest.raises(Exception):  # noqa: B017 - whatever SQLAlchemy raises without a bind
        broken.last_used.flush()
    assert broken.last_used.pending() == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("alice", "Alice"), ("j.smith", "j_smith"), ("a-b", "A..B"), ("x_y", "x-y")],
)
def test_user_names_that_differ_only_in_case_or_separators_collide(
    service: AuthService, first: str, second: str
) -> None:
    service.create_user(first)
    with pytest.raises(AlreadyExists):
        service.create_user(second)
    assert service.get_user(name=second).name == first


@pytest.mark.parametrize("name", ["", "-a", "a-", "a b", "a/b", "x" * 101, "ä", "a\x00", "alice\n"])
def test_bad_user_names(service: AuthService, name: str) -> None:
    with pytest.raises(InvalidArgument):
        service.create_user(name)


def test_audit_events(service: AuthService, engine: Engine) -> None:
    root = _root(service)
    child, info = service.mint(requested=Scope(), parent_token=root, name="x")
    service.revoke(root, child)
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            service.verify("vestry-garbage")
    with engine.connect() as c:
        events = c.execute(
            select(Event.kind, Event.token_id, Event.detail).order_by(Event.at)
        ).all()
    kinds = [e.kind for e in events]
    assert kinds.count("token.mint") == 2
    assert ("token.revoke", info.id) in [(e.kind, e.token_id) for e in events]
    burst = [e for e in events if e.kind == "token.verify-failures"]
    assert len(burst) == 1 and json.loads(burst[0].detail)["count"] == 10
    everything = " ".join(str(tuple(e)) for e in events)
    assert "vestry-" not in everything
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Event)) == len(events)


def test_errors_are_domain_errors_with_codes(service: AuthService) -> None:
    # Every denial maps to a gRPC status through the one interceptor (never INTERNAL).
    with pytest.raises(DomainError) as info:
        service.verify("vestry-")
    assert info.value.code == "UNAUTHENTICATED"


def test_verify_refuses_an_unknown_permission_in_the_context(service: AuthService) -> None:
    with pytest.raises(InvalidArgument):
        service.verify(_root(service), AccessContext("destroy", "foo"))


# (the token used: its projects; tokens of the same user, by projects; which it sees/revokes)
NARROW_CASES = [
    ("unrestricted", None, {"all": None, "a": ["a"], "ab": ["a", "b"], "c": ["c"]}, "all a ab c"),
    ("one project", ["a"], {"all": None, "a": ["a"], "ab": ["a", "b"], "c": ["c"]}, "a"),
    ("two projects", ["a", "b"], {"all": None, "a": ["a"], "ab": ["a", "b"], "c": ["c"]}, "a ab"),
]


@pytest.mark.parametrize(
    ("used", "others", "reach"), [c[1:] for c in NARROW_CASES], ids=[c[0] for c in NARROW_CASES]
)
def test_a_narrow_token_lists_and_revokes_only_tokens_no_wider(
    service: AuthService, used: list[str] | None, others: dict[str, list[str] | None], reach: str
) -> None:
    root = _root(service)
    ids = {}
    for name, projects in others.items():
        scope = Scope(project_names=frozenset(projects) if projects is not None else None)
        _, record = service.mint(requested=scope, name=name, parent_token=root)
        ids[name] = record.id
    caller = tokens.attenuate(root, projects=used) if used else root
    caller = tokens.attenuate(caller, permissions=["manage-tokens"])
    seen = {t.name for t in service.list_tokens(caller)} - {""}
    assert seen == set(reach.split())
    for name, token_id in ids.items():
        if name in seen:
            assert service.revoke(caller, token_id) == token_id
        else:
            with pytest.raises(NotFound, match="no such token"):
                service.revoke(caller, token_id)
    # The root (unrestricted) is never revoked through a narrower token.
    if used:
        with pytest.raises(NotFound):
            service.revoke(caller, root)

"""Fuzzing token parsing, offline attenuation and caveat verification: garbage is refused with
the one error each step documents (MalformedToken, CaveatError, Unauthenticated), and whatever
is accepted is never wider than the token it came from."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymacaroons import Macaroon

from tests.support.auth import NOW, auth_engine, make_service
from tests.support.fuzz import fuzz, garbage_text
from vestry.common.errors import Unauthenticated
from vestry.services.auth import tokens
from vestry.services.auth.caveats import PERMISSIONS, Scope, dump_caveat, parse_caveat
from vestry.services.auth.errors import CaveatError, MalformedToken
from vestry.services.auth.service import AuthService

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(sorted(PERMISSIONS)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
# Mostly tagged lists, like real caveats, with fields of any shape.
CAVEAT_JSON = st.one_of(
    JSON,
    st.builds(
        lambda tag, fields: [tag, *fields], st.integers(-1, 6) | JSON, st.lists(JSON, max_size=3)
    ),
)
PREDICATES = st.one_of(
    CAVEAT_JSON.map(lambda v: json.dumps(v, separators=(",", ":"))),
    # Past 4300 digits, int() (and so json.loads) raises ValueError.
    st.sampled_from(["[0," + "9" * 5000 + ",0]", "[" + "1" * 5000 + "]", "[0,1e999,0]"]),
    garbage_text,
    st.binary(max_size=60),
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthService]:
    path: Path = tmp_path_factory.mktemp("fuzz-auth") / "auth.sqlite3"
    with auth_engine(f"sqlite:///{path}") as engine:
        yield make_service(engine)


@pytest.fixture(scope="module")
def root(service: AuthService) -> str:
    user = service.create_user("fuzzer")
    token, _ = service.mint(requested=Scope(), for_user=user.name)
    return token


@fuzz(1000)
@given(raw=PREDICATES)
def test_parse_caveat(raw: str | bytes) -> None:
    try:
        caveat = parse_caveat(raw)
    except CaveatError:
        return
    assert parse_caveat(dump_caveat(caveat)) == caveat


@fuzz(500)
@given(
    text=st.one_of(
        garbage_text,
        garbage_text.map(lambda t: tokens.PREFIX + t),
        st.binary(max_size=300).map(lambda b: tokens.PREFIX + base64.urlsafe_b64encode(b).decode()),
    )
)
def test_load_any_string(text: str) -> None:
    with contextlib.suppress(MalformedToken):
        tokens.load(text)


@fuzz(400)
@given(data=st.data())
def test_mutated_token_is_refused_cleanly(
    service: AuthService, root: str, data: st.DataObject
) -> None:
    """A real token with characters replaced, cut or appended: never verified as someone else,
    never an exception other than Unauthenticated."""
    at = data.draw(st.integers(0, len(root) - 1))
    mutated = data.draw(
        st.sampled_from(
            [
                root[:at],
                root[:at] + data.draw(st.text(min_size=1, max_size=4)) + root[at + 1 :],
                root + data.draw(st.text(max_size=8)),
            ]
        )
    )
    try:
        verified = service.verify(mutated)
    except Unauthenticated:
        return
    assert verified.user_id == service.verify(root).user_id


@fuzz(400)
# Text only: pymacaroons itself refuses to add a predicate that is not UTF-8.
@given(predicates=st.lists(PREDICATES.filter(lambda p: isinstance(p, str)), min_size=1, max_size=4))
def test_verifier_with_arbitrary_caveats(
    service: AuthService, root: str, predicates: list[str | bytes]
) -> None:
    """Caveats of any content, correctly signed (as any holder can add them): refused, or
    accepted as a scope no wider than the root's."""
    macaroon = tokens.load(root)
    for p in predicates:
        macaroon.add_first_party_caveat(p)
    try:
        verified = service.verify(tokens.serialize(macaroon))
    except Unauthenticated:
        return
    assert verified.scope.within(service.verify(root).scope)


@fuzz(400)
@given(
    projects=st.lists(
        st.one_of(garbage_text, st.sampled_from(["demo", "Demo_Pkg", "a.b"])), max_size=3
    ),
    permissions=st.lists(st.one_of(garbage_text, st.sampled_from(sorted(PERMISSIONS))), max_size=3),
    expires_in=st.one_of(st.none(), st.floats(), st.integers(-(10**20), 10**20)),
)
def test_attenuate_with_any_restrictions(
    service: AuthService,
    root: str,
    projects: list[str],
    permissions: list[str],
    expires_in: float | None,
) -> None:
    try:
        narrowed = tokens.attenuate(
            root, projects=projects, permissions=permissions, expires_in=expires_in, now=NOW
        )
    except (CaveatError, MalformedToken):
        return
    scope = service.verify(narrowed).scope  # the server accepts what attenuate produced
    assert scope.within(service.verify(root).scope)
    assert permissions == [] or scope.permissions == frozenset(permissions)


def test_a_sub_second_expiry_is_not_a_dead_token(service: AuthService, root: str) -> None:
    """Found by the fuzzing above: int() rounded 0.5 s down to an expiry of now."""
    narrowed = tokens.attenuate(root, expires_in=0.5, now=NOW)
    assert service.verify(narrowed).scope.expires == NOW + 1


def test_a_macaroon_without_the_prefix_is_malformed() -> None:
    bare = Macaroon(location="x", identifier="id", key=b"k").serialize()
    with pytest.raises(MalformedToken):
        tokens.load(bare)

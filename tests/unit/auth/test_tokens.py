"""Token form: `vestry-` + v2 macaroon; malformed inputs are refused without echoing them."""

from __future__ import annotations

import base64
import secrets

import pytest
from pymacaroons import MACAROON_V1, Macaroon, Verifier

from vestry.services.auth import tokens
from vestry.services.auth.caveats import (
    MAX_TIMESTAMP,
    Expiry,
    Permissions,
    ProjectNames,
    Scope,
    parse_caveat,
)
from vestry.services.auth.errors import CaveatError, MalformedToken

KEY = secrets.token_bytes(32)
TOKEN = tokens.mint("0b7c4a8e-1111-4222-8333-944455556666", KEY, [Permissions(("read",))])
BODY = TOKEN[len(tokens.PREFIX) :]


def _v1() -> str:
    m = Macaroon(location="vestry", identifier="x", key=KEY, version=MACAROON_V1)
    return tokens.PREFIX + m.serialize()


MALFORMED = {
    "empty": "",
    "prefix only": "vestry-",
    "no prefix": BODY,
    "wrong prefix": "pypi-" + BODY,
    "upper-case prefix": "VESTRY-" + BODY,
    "truncated by one": TOKEN[:-1],
    "truncated to half": TOKEN[: len(TOKEN) // 2],
    "truncated to ten": TOKEN[:17],
    "garbled middle": TOKEN[:20] + "!!!!" + TOKEN[24:],
    "not base64": "vestry-" + "%%%%%%%%",
    "base64 of nothing useful": "vestry-" + base64.urlsafe_b64encode(b"\x02hello").decode(),
    "base64 of zero bytes": "vestry-" + base64.urlsafe_b64encode(b"\x00" * 64).decode(),
    # pymacaroons raises a bare Exception / struct.error on these two.
    "v2 header cut short": "vestry-AgE",
    "v1 header cut short": "vestry-MwE",
    "json": 'vestry-{"identifier":"x"}',
    "very long": "vestry-" + "A" * (70 * 1024),
    "non-ascii": "vestry-ÄÖÜ",
    "whitespace": "vestry- " + BODY,
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tokens_are_refused(text: str) -> None:
    with pytest.raises(MalformedToken) as info:
        tokens.load(text)
    assert BODY[:12] not in str(info.value)


def test_prefix_error_says_what_is_wrong() -> None:
    with pytest.raises(MalformedToken, match="vestry-"):
        tokens.load("pypi-" + BODY)


def test_a_v1_macaroon_loads_but_has_no_vestry_key() -> None:
    # The form is only half the check: its identifier names no token row, so verify refuses it.
    assert tokens.token_id(tokens.load(_v1())) == "x"


def test_mint_and_load() -> None:
    m = tokens.load(TOKEN)
    assert TOKEN.startswith("vestry-")
    assert tokens.token_id(m) == "0b7c4a8e-1111-4222-8333-944455556666"
    assert [parse_caveat(c.caveat_id) for c in m.first_party_caveats()] == [Permissions(("read",))]
    v = Verifier()
    v.satisfy_general(lambda p: parse_caveat(p) is not None)
    assert v.verify(m, KEY)


def test_offline_attenuation_adds_caveats_and_keeps_the_signature_chain() -> None:
    narrowed = tokens.attenuate(
        TOKEN, projects=["Foo.Bar", "foo-bar", "baz"], permissions=["read"], expires_in=60, now=1000
    )
    m = tokens.load(narrowed)
    caveats = [parse_caveat(c.caveat_id) for c in m.first_party_caveats()]
    assert caveats == [
        Permissions(("read",)),
        ProjectNames(("foo-bar", "baz")),
        Permissions(("read",)),
        Expiry(1060, 0),
    ]
    v = Verifier()
    v.satisfy_general(lambda p: True)
    assert v.verify(m, KEY)
    assert tokens.token_id(m) == tokens.token_id(tokens.load(TOKEN))


def test_attenuating_with_nothing_changes_nothing() -> None:
    assert tokens.attenuate(TOKEN) == TOKEN


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"permissions": ["raed"]}, CaveatError),
        ({"permissions": [""]}, CaveatError),
        ({"projects": [""]}, CaveatError),
        ({"projects": ["x" * 300]}, CaveatError),
        ({"expires_in": 0}, CaveatError),
        ({"expires_in": -5}, CaveatError),
        ({"expires_in": float("inf")}, CaveatError),
        ({"expires_in": float("nan")}, CaveatError),
        ({"expires_in": float(MAX_TIMESTAMP)}, CaveatError),
    ],
)
def test_bad_restrictions_are_refused_offline(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        tokens.attenuate(TOKEN, **kwargs)  # type: ignore[arg-type]


def test_attenuating_a_malformed_token_says_so() -> None:
    with pytest.raises(MalformedToken):
        tokens.attenuate(TOKEN[:-3], permissions=["read"])


def test_add_caveats_refuses_what_would_not_parse() -> None:
    with pytest.raises(CaveatError):
        tokens.add_caveats(TOKEN, Scope(project_names=frozenset({"Not_Normal"})).caveats())

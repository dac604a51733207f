"""OIDC token verification for trusted publishing, against a real local issuer over HTTP:
every refusal has its reason, and key rotation is followed without hammering the issuer."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import Engine

from tests.support.auth import Clock
from tests.support.oidc_issuer import LocalIssuer
from vestry.common.errors import AlreadyExists, PermissionDenied, Unauthenticated
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.caveats import AccessContext, Scope
from vestry.services.auth.oidc import Issuer, OidcVerifier, issuers_from_settings
from vestry.services.auth.service import PUBLISHER_TOKEN_SECONDS, AuthService, PublisherGrant
from vestry.services.auth.tokens import add_caveats

AUDIENCE = "vestry"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    running = LocalIssuer()
    yield running
    running.close()


def verifier(issuer: LocalIssuer, **kwargs: float) -> OidcVerifier:
    return OidcVerifier([Issuer("github", issuer.url)], AUDIENCE, **kwargs)  # type: ignore[arg-type]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_good_token_gives_its_claims(issuer: LocalIssuer) -> None:
    verified = verifier(issuer).verify(issuer.token())
    assert verified.issuer == "github"
    assert verified.claims["repository"] == "acme/widgets"
    assert verified.claims["sub"] == "repo:acme/widgets:environment:release"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.token(lifetime=-120, issued=time.time() - 600), "has expired"),
        (lambda i: i.token(aud="pypi"), "audience is not this index's ('vestry')"),
        (lambda i: i.token(iss="https://evil.example"), "is not trusted by this index"),
        (
            lambda i: i.token(key=rsa.generate_private_key(65537, 2048)),
            "signature does not verify with github's keys",
        ),
        (lambda i: i.token(kid="someone-elses-key"), "signed by a key github does not publish"),
        (lambda i: i.token(nbf=int(time.time()) + 3600), "not valid yet"),
        (
            lambda i: (
                f"{_b64({'alg': 'none', 'typ': 'JWT'})}."
                f"{_b64({'iss': i.url, 'aud': AUDIENCE, 'exp': int(time.time()) + 60})}."
            ),
            "algorithm 'none' is not accepted",
        ),
        (
            lambda i: i.token(key="a-shared-secret-of-32-bytes-len!", algorithm="HS256"),
            "algorithm 'HS256' is not accepted",
        ),
        (lambda i: "not.a.jwt", "malformed"),
        (lambda i: "", "missing"),
    ],
    ids=[
        "expired",
        "wrong-audience",
        "unknown-issuer",
        "another-key",
        "unknown-kid",
        "not-yet-valid",
        "alg-none",
        "hmac",
        "garbage",
        "empty",
    ],
)
def test_refusals_say_why(issuer: LocalIssuer, make: object, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason.replace("(", r"\(").replace(")", r"\)")):
        verifier(issuer).verify(make(issuer))  # type: ignore[operator]


def test_es256_issuers_are_verified(issuer: LocalIssuer) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer.extra_public = [issuer.public_jwk(key, "ec-key")]
    try:
        token = issuer.token(key=key, kid="ec-key", algorithm="ES256")
        assert verifier(issuer).verify(token).claims["repository"] == "acme/widgets"
    finally:
        issuer.extra_public = []


def test_rotated_keys_are_refetched_once_within_the_interval(issuer: LocalIssuer) -> None:
    clock = Clock()
    v = verifier(issuer, refetch_interval=60, clock=clock)  # type: ignore[arg-type]
    v.verify(issuer.token())
    fetches = issuer.jwks_fetches
    issuer.rotate()
    assert v.verify(issuer.token()).issuer == "github"  # unknown kid: one refetch
    assert issuer.jwks_fetches == fetches + 1
    # Invented kids do not make Vestry fetch again within the interval...
    for _ in range(3):
        with pytest.raises(Unauthenticated, match="does not publish"):
            v.verify(issuer.token(kid="invented"))
    assert issuer.jwks_fetches == fetches + 1
    # ... and after it, once more.
    clock.now += 61
    with pytest.raises(Unauthenticated, match="does not publish"):
        v.verify(issuer.token(kid="invented"))
    assert issuer.jwks_fetches == fetches + 2


def test_issuers_come_from_the_settings_only() -> None:
    issuers = issuers_from_settings(
        "https://token.actions.githubusercontent.com", "", "gitea=https://git.example.com/"
    )
    assert issuers == [
        Issuer("github", "https://token.actions.githubusercontent.com"),
        Issuer("gitea", "https://git.example.com"),
    ]
    with pytest.raises(ValueError, match="NAME=URL"):
        issuers_from_settings("", "", "gitea")


# ---- the exchange and burn, in the auth domain ---------------------------------------------

GRANT = PublisherGrant("pub-1", "project-id-1", "widgets")


@pytest.fixture
def exchange(engine: Engine, issuer: LocalIssuer, clock: Clock) -> AuthService:
    clock.now = time.time()
    service = AuthService(engine, MemoryCache(), cache_ttl=300, clock=clock, oidc=verifier(issuer))
    service.create_user("alice")
    return service


def _owner(service: AuthService) -> str:
    return service.get_user(name="alice").id


def test_a_minted_token_uploads_to_that_project_only_for_15_minutes(
    exchange: AuthService, issuer: LocalIssuer, clock: Clock
) -> None:
    token, _ = exchange.mint_publisher_token(issuer.token(), [GRANT], _owner(exchange))
    upload = AccessContext("upload", "widgets", "project-id-1")
    verified = exchange.verify(token, upload)
    assert verified.scope.publisher_ids == {"pub-1"}
    assert verified.scope.permissions == {"upload"}
    assert verified.scope.expires == int(clock.now) + PUBLISHER_TOKEN_SECONDS
    for ctx in (
        AccessContext("read", "widgets", "project-id-1"),
        AccessContext("upload", "other", "project-id-2"),
    ):
        with pytest.raises(PermissionDenied):
            exchange.verify(token, ctx)
    clock.now += PUBLISHER_TOKEN_SECONDS
    with pytest.raises(Unauthenticated, match="expired"):
        exchange.verify(token, upload)


def test_an_oidc_token_is_exchanged_once(exchange: AuthService, issuer: LocalIssuer) -> None:
    jwt_token = issuer.token()
    exchange.mint_publisher_token(jwt_token, [GRANT], _owner(exchange))
    with pytest.raises(AlreadyExists, match="already been exchanged"):
        exchange.mint_publisher_token(jwt_token, [GRANT], _owner(exchange))


def test_a_replayed_token_past_its_expiry_is_refused(
    exchange: AuthService, issuer: LocalIssuer
) -> None:
    old = issuer.token(issued=time.time() - 3600, lifetime=300)
    with pytest.raises(Unauthenticated, match="has expired"):
        exchange.mint_publisher_token(old, [GRANT], _owner(exchange))


def test_burn_revokes_at_once(exchange: AuthService, issuer: LocalIssuer) -> None:
    token, _ = exchange.mint_publisher_token(issuer.token(), [GRANT], _owner(exchange))
    exchange.verify(token)
    exchange.burn_publisher_token(token)
    with pytest.raises(Unauthenticated, match="revoked"):
        exchange.verify(token)


def test_only_the_exchange_makes_publisher_tokens(exchange: AuthService) -> None:
    user_token, _ = exchange.mint(requested=Scope(), for_user="alice")
    with pytest.raises(Exception, match="only from the OIDC exchange"):
        exchange.mint(requested=Scope(publisher_ids=frozenset({"pub-1"})), for_user="alice")
    # A publisher caveat added offline grants nothing: the server ignores it.
    from vestry.services.auth.caveats import Publishers

    forged = add_caveats(user_token, [Publishers(("pub-1",))])
    assert exchange.verify(forged).scope.publisher_ids is None
    with pytest.raises(PermissionDenied, match="only tokens minted for trusted publishers"):
        exchange.burn_publisher_token(user_token)

"""Trusted publishing: verify a CI job's OIDC token (a JWT) against its issuer's published keys.

Only the issuers the operator configured are trusted (`VESTRY_OIDC_GITHUB_ISSUER`,
`VESTRY_OIDC_GITLAB_ISSUER`, `VESTRY_OIDC_ISSUERS`). Each issuer's discovery document and JWKS
are fetched over HTTP and cached; a token signed by a key the cache does not know triggers one
refetch (the issuer rotated its keys), at most once per `refetch_interval` per issuer, so a
stream of tokens with invented `kid`s cannot make Vestry hammer the issuer.

Every refusal is an `OidcRefused` whose `code` is PyPI's (`invalid-token`, ...) and whose
message says what was wrong, in one sentence.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from sqlalchemy import DateTime, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from vestry.common.errors import AlreadyExists, Unauthenticated, Unavailable
from vestry.services.auth.models import Base

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "Issuer",
    "OidcVerifier",
    "SpentJti",
    "VerifiedOidc",
    "issuers_from_settings",
    "spend_jti",
]

log = logging.getLogger(__name__)

# Public-key algorithms only: `none` proves nothing, and an HMAC "signature" would be checked
# with the issuer's *public* key as the secret, which anyone can read (the classic JWT
# algorithm-confusion attack).
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
_MAX_JWT_LEN = 16 * 1024
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat"]


@dataclass(frozen=True)
class Issuer:
    name: str  # github, gitlab, or the operator's name for a generic issuer
    url: str  # the `iss` claim, exactly


@dataclass(frozen=True)
class VerifiedOidc:
    issuer: str  # the Issuer's name
    claims: dict[str, Any]


def issuers_from_settings(github: str, gitlab: str, generic: str) -> list[Issuer]:
    """The trusted issuers: GitHub's and GitLab's URLs (empty: not trusted) and the generic
    `name=url,name=url` list. Raises ValueError for a malformed or duplicate entry."""
    issuers = [Issuer("github", github.rstrip("/"))] if github else []
    if gitlab:
        issuers.append(Issuer("gitlab", gitlab.rstrip("/")))
    for entry in filter(None, (e.strip() for e in generic.split(","))):
        name, sep, url = entry.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("https://", "http://")):
            raise ValueError(f"VESTRY_OIDC_ISSUERS: {entry!r} is not NAME=URL")
        issuers.append(Issuer(name.strip(), url.strip().rstrip("/")))
    names = [i.name for i in issuers]
    if len(set(names)) != len(names):
        raise ValueError("VESTRY_OIDC_ISSUERS: each issuer needs its own name")
    return issuers


def _fetch_json(url: str) -> Any:
    response = httpx.get(url, timeout=10.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()


@dataclass
class _Keys:
    keys: dict[str, jwt.PyJWK]  # kid -> key ("" for a key without one)
    fetched: float
    refetched: float  # when an unknown kid last made us fetch (-inf: never)


class OidcVerifier:
    """Verifies OIDC tokens of the configured issuers; thread-safe."""

    def __init__(
        self,
        issuers: list[Issuer],
        audience: str,
        *,
        leeway: int = 30,
        key_ttl: float = 3600.0,
        refetch_interval: float = 60.0,
        fetch_json: Callable[[str], Any] = _fetch_json,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._by_url = {i.url: i for i in issuers}
        self.audience = audience
        self._leeway = leeway
        self._key_ttl = key_ttl
        self._refetch_interval = refetch_interval
        self._fetch = fetch_json
        self._clock = clock
        self._keys: dict[str, _Keys] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._by_url)

    def verify(self, token: str) -> VerifiedOidc:
        """The issuer and verified claims of `token`.

        Raises Unauthenticated (the token is malformed, from an unknown issuer, not signed by
        the issuer's keys, expired, not yet valid, or for another audience) or Unavailable (the
        issuer's keys cannot be fetched).
        """
        if not isinstance(token, str) or not token or len(token) > _MAX_JWT_LEN:
            raise Unauthenticated("the OIDC token is missing or too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the OIDC token is malformed (not a JWT)") from exc
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise Unauthenticated(
                f"the OIDC token's algorithm {str(alg)[:20]!r} is not accepted: the issuer must "
                "sign with a public key (RS256, ES256, ...)"
            )
        iss = unverified.get("iss")
        issuer = self._by_url.get(iss.rstrip("/")) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthenticated(
                f"the OIDC token's issuer {str(iss)[:200]!r} is not trusted by this index"
            )
        kid = header.get("kid") or ""
        if not isinstance(kid, str):
            raise Unauthenticated("the OIDC token's key id (kid) is malformed")
        key = self._key(issuer, kid)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=iss,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the OIDC token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("the OIDC token is not valid yet (nbf/iat)") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated(
                f"the OIDC token's audience is not this index's ({self.audience!r}); request "
                "it with the audience from /_/oidc/audience"
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"the OIDC token has no {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated(
                f"the OIDC token's signature does not verify with {issuer.name}'s keys"
            ) from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the OIDC token is not valid: {exc}") from exc
        return VerifiedOidc(issuer.name, claims)

    def _key(self, issuer: Issuer, kid: str) -> jwt.PyJWK:
        now = self._clock()
        with self._lock:
            cached = self._keys.get(issuer.url)
            fresh = cached is not None and now - cached.fetched <= self._key_ttl
            if cached is not None and fresh and kid in cached.keys:
                return cached.keys[kid]
            # An unknown kid: the issuer may have rotated its keys. Refetch, but not more often
            # than refetch_interval, whatever kids the tokens claim.
            refetched = cached.refetched if cached is not None and fresh else -math.inf
            if now - refetched < self._refetch_interval:
                raise Unauthenticated(
                    f"the OIDC token was signed by a key {issuer.name} does not publish"
                )
        keys = _Keys(
            self._fetch_keys(issuer), now, now if cached is not None and fresh else -math.inf
        )
        with self._lock:
            self._keys[issuer.url] = keys
        if kid in keys.keys:
            return keys.keys[kid]
        if not kid and len(keys.keys) == 1:
            return next(iter(keys.keys.values()))
        raise Unauthenticated(f"the OIDC token was signed by a key {issuer.name} does not publish")

    def _fetch_keys(self, issuer: Issuer) -> dict[str, jwt.PyJWK]:
        try:
            discovery = self._fetch(f"{issuer.url}/.well-known/openid-configuration")
            if (
                not isinstance(discovery, Mapping)
                or discovery.get("issuer", "").rstrip("/") != issuer.url
            ):
                raise ValueError("the discovery document names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise ValueError("the discovery document has no jwks_uri")
            jwks = self._fetch(jwks_uri)
            keys: dict[str, jwt.PyJWK] = {}
            for data in jwks.get("keys", []) if isinstance(jwks, Mapping) else []:
                if not isinstance(data, Mapping) or data.get("kty") not in ("RSA", "EC"):
                    continue  # symmetric ("oct") keys have no place in a public JWKS
                try:
                    keys[str(data.get("kid", ""))] = jwt.PyJWK(dict(data))
                except jwt.PyJWTError:
                    log.warning("skipping an unusable key in %s's JWKS", issuer.name)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("cannot fetch the keys of OIDC issuer %s: %s", issuer.name, exc)
            raise Unavailable(
                f"the keys of OIDC issuer {issuer.name} cannot be fetched; try again shortly"
            ) from exc
        return keys


class SpentJti(Base):
    """The `jti` of every OIDC token exchanged, until it expires: a token is exchanged once."""

    __tablename__ = "oidc_spent_jtis"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(iss, jti)
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def spend_jti(s: Session, verified: VerifiedOidc, now: float) -> None:
    """Record the token's jti in `s`'s transaction; raises AlreadyExists if it was spent."""
    jti = verified.claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return  # the issuer sets none; expiry alone bounds the replay
    s.execute(delete(SpentJti).where(SpentJti.expires < datetime.fromtimestamp(now, UTC)))
    iss = str(verified.claims.get("iss", ""))
    key = hashlib.sha256(f"{iss}\n{jti}".encode()).hexdigest()
    exp = int(verified.claims.get("exp", now))
    s.add(SpentJti(key=key, expires=datetime.fromtimestamp(exp + 300, UTC)))
    try:
        s.flush()
    except IntegrityError as exc:
        raise AlreadyExists(
            "this OIDC token has already been exchanged; request a new one"
        ) from exc

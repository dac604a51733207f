"""Token form and offline attenuation: `vestry-` + a v2 macaroon, base64url.

This module needs no server, no settings and no key: anyone holding a token can narrow it
(`attenuate`) and the server accepts the result with no change of state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from packaging.utils import canonicalize_name
from pymacaroons import MACAROON_V2, Macaroon
from pymacaroons.exceptions import MacaroonException

from services.auth.caveats import (
    Caveat,
    CaveatError,
    Expiry,
    Permissions,
    ProjectNames,
    dump_caveat,
)

__all__ = ["PREFIX", "MalformedToken", "attenuate", "load", "mint", "serialize"]

PREFIX = "vestry-"
LOCATION = "vestry"
# Real tokens are a few hundred bytes; anything this large is garbage or an attack.
_MAX_TOKEN_LEN = 64 * 1024


class MalformedToken(ValueError):
    """The text is not a Vestry token. The message never echoes the token."""


def mint(token_id: str, key: bytes, caveats: Iterable[Caveat]) -> str:
    macaroon = Macaroon(location=LOCATION, identifier=token_id, key=key, version=MACAROON_V2)
    for caveat in caveats:
        macaroon.add_first_party_caveat(dump_caveat(caveat))
    return serialize(macaroon)


def serialize(macaroon: Macaroon) -> str:
    return PREFIX + str(macaroon.serialize())


def load(token: str) -> Macaroon:
    """Parse a token's macaroon without verifying it; raise MalformedToken."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LEN:
        raise MalformedToken("token is not valid")
    if not token.startswith(PREFIX):
        raise MalformedToken("token does not start with 'vestry-'")
    try:
        macaroon = Macaroon.deserialize(token[len(PREFIX) :])
        identifier = macaroon.identifier
        if isinstance(identifier, bytes):
            identifier.decode("ascii")
    # pymacaroons raises its own family plus whatever the base64/binary decoders raise on garbage.
    except (MacaroonException, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise MalformedToken("token is malformed (truncated or garbled)") from exc
    return macaroon


def token_id(macaroon: Macaroon) -> str:
    identifier = macaroon.identifier
    return identifier.decode("ascii") if isinstance(identifier, bytes) else str(identifier)


def attenuate(
    token: str,
    *,
    projects: Iterable[str] = (),
    permissions: Iterable[str] = (),
    expires_in: float | None = None,
    now: float | None = None,
) -> str:
    """Return `token` narrowed by the given restrictions, with no server involved.

    `projects` are project names (normalised here), `permissions` a subset of PERMISSIONS,
    `expires_in` seconds from `now`. Raises MalformedToken or CaveatError (bad restriction).
    """
    macaroon = load(token)
    added: list[Caveat] = []
    names = [canonicalize_name(p) for p in projects]
    if names:
        added.append(ProjectNames(tuple(dict.fromkeys(names))))
    perms = list(dict.fromkeys(permissions))
    if perms:
        # Round-trip through the parser so a typo is refused here, not at the server.
        added.append(Permissions.from_fields([perms]))
    if expires_in is not None:
        if expires_in <= 0:
            raise CaveatError("expiry must be in the future")
        start = int(time.time() if now is None else now)
        added.append(Expiry(start + int(expires_in), 0))
    for caveat in added:
        macaroon.add_first_party_caveat(dump_caveat(caveat))
    return serialize(macaroon)

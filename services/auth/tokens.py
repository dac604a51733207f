"""Token form and offline attenuation: `vestry-` + a v2 macaroon, base64url.

This module needs no server, no settings and no key: anyone holding a token can narrow it
(`attenuate`) and the server accepts the result with no change of state.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable

from packaging.utils import canonicalize_name
from pymacaroons import MACAROON_V2, Macaroon

from vestry.common.tokens import TOKEN_PREFIX
from vestry.services.auth.caveats import (
    MAX_TIMESTAMP,
    Caveat,
    Expiry,
    Permissions,
    ProjectNames,
    dump_caveat,
    parse_caveat,
)
from vestry.services.auth.errors import CaveatError, MalformedToken

__all__ = [
    "PREFIX",
    "TOKEN_ID",
    "add_caveats",
    "attenuate",
    "load",
    "mint",
    "serialize",
    "token_id",
]

PREFIX = TOKEN_PREFIX
LOCATION = "vestry"
# Real tokens are a few hundred bytes; anything this large is garbage or an attack.
_MAX_TOKEN_LEN = 64 * 1024
# Identifiers are UUIDs; anything else (NUL bytes, megabytes of text) never reaches the database.
TOKEN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


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
        if not TOKEN_ID.fullmatch(token_id(macaroon)):
            raise MalformedToken("token identifier is malformed")
    # pymacaroons raises its own family, whatever its decoders raise on garbage (struct.error,
    # IndexError, ...) and even a bare Exception ("cannot read uvarint"): none may become a 500.
    except Exception as exc:
        raise MalformedToken("token is malformed (truncated or garbled)") from exc
    return macaroon


def add_caveats(token: str, caveats: Iterable[Caveat]) -> str:
    """Return `token` with `caveats` appended. Each is checked to parse back to itself first, so
    a restriction the server would refuse is refused here instead of producing a dead token.

    Raises MalformedToken or CaveatError.
    """
    macaroon = load(token)
    for caveat in caveats:
        predicate = dump_caveat(caveat)
        if parse_caveat(predicate) != caveat:
            raise CaveatError("restriction does not round-trip")
        macaroon.add_first_party_caveat(predicate)
    return serialize(macaroon)


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
    load(token)  # a malformed token is the first thing to report
    added: list[Caveat] = []
    names = [canonicalize_name(p) for p in projects]
    if names:
        added.append(ProjectNames.from_fields([list(dict.fromkeys(names))]))
    perms = list(dict.fromkeys(permissions))
    if perms:
        # Through the parser so a typo is refused here, not at the server.
        added.append(Permissions.from_fields([perms]))
    if expires_in is not None:
        if not math.isfinite(expires_in) or expires_in <= 0:
            raise CaveatError("expiry must be a positive, finite duration")
        start = int(time.time() if now is None else now)
        if start + expires_in > MAX_TIMESTAMP:
            raise CaveatError("expiry is too far in the future")
        added.append(Expiry(start + int(expires_in), 0))
    return add_caveats(token, added)

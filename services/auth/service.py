"""The auth domain: users, minting, verification, revocation. No gRPC in here."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from packaging.utils import canonicalize_name
from pymacaroons import Verifier
from pymacaroons.exceptions import MacaroonException
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from vestry.common.vocabulary import Permission
from vestry.services.auth import tokens
from vestry.services.auth.cache import ENTRY_VERSION, VerificationCache
from vestry.services.auth.caveats import (
    PERMISSIONS,
    AccessContext,
    Caveat,
    Publishers,
    Scope,
    dump_caveat,
    parse_caveat,
)
from vestry.services.auth.errors import CaveatError, MalformedToken
from vestry.services.auth.metrics import TOKEN_CACHE, TOKEN_FAILURES
from vestry.services.auth.models import Event, Token, User
from vestry.services.auth.oidc import OidcVerifier, spend_jti

__all__ = [
    "PUBLISHER_TOKEN_SECONDS",
    "AuthService",
    "PublisherGrant",
    "TokenRecord",
    "UserRecord",
    "Verified",
    "user_name_key",
]

log = logging.getLogger(__name__)
_USERNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?\Z")
# Failed verifications within one minute at which an audit event is recorded, then every 1000.
_BURSTS = (10, 100, 1000)
# What a trusted publisher's token lives: one CI job's uploads, as on PyPI.
PUBLISHER_TOKEN_SECONDS = 15 * 60


def user_name_key(name: str) -> str:
    """The form under which user names are compared: case and separator runs folded."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    active: bool
    admin: bool
    created: datetime


@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    user_id: str
    created: datetime
    expires: datetime | None
    last_used: datetime | None
    caveats: Scope


@dataclass(frozen=True)
class PublisherGrant:
    """A trusted publisher the index matched to an OIDC token's claims."""

    publisher_id: str
    project_id: str
    project_name: str


@dataclass(frozen=True)
class Verified:
    user_id: str
    username: str
    admin: bool
    token_id: str
    scope: Scope


def _user(u: User) -> UserRecord:
    return UserRecord(u.id, u.name, u.active, u.admin, u.created)


def _scope_of(caveats: list[Caveat]) -> Scope:
    scope = Scope()
    for c in caveats:
        scope = scope.narrow(c)
    return scope


def _token_record(t: Token) -> TokenRecord:
    caveats = [parse_caveat(json.dumps(c)) for c in json.loads(t.caveats)]
    return TokenRecord(
        t.id, t.name, t.user_id, t.created, t.expires, t.last_used, _scope_of(caveats)
    )


def _minted_for_publishers(row: Token) -> bool:
    return any(c[0] == Publishers.TAG for c in json.loads(row.caveats))


def _normalised(requested: Scope) -> Scope:
    if requested.project_names is None:
        return requested
    return replace(
        requested, project_names=frozenset(canonicalize_name(n) for n in requested.project_names)
    )


def _entry(verified: Verified) -> dict[str, Any]:
    return {
        "v": ENTRY_VERSION,
        "user_id": verified.user_id,
        "username": verified.username,
        "admin": verified.admin,
        "token_id": verified.token_id,
        "scope": verified.scope.to_json(),
    }


def _from_entry(entry: dict[str, Any], token_id: str) -> Verified | None:
    """The cached verification, or None unless every field has exactly the expected type and
    the entry belongs to this token (a damaged or foreign entry is a miss, never a grant)."""
    try:
        user_id, username, admin, cached_id = (
            entry["user_id"],
            entry["username"],
            entry["admin"],
            entry["token_id"],
        )
        if not (
            isinstance(user_id, str)
            and user_id
            and isinstance(username, str)
            and isinstance(admin, bool)
            and cached_id == token_id
            and set(entry) == {"v", "user_id", "username", "admin", "token_id", "scope"}
        ):
            return None
        scope = Scope.from_json(entry["scope"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return Verified(user_id, username, admin, token_id, scope)


class _LastUsed:
    """Collects `last_used` stamps in memory and writes them in batches, off the hot path.

    The UPDATE only moves the stamp forward, so concurrent flushers from several replicas need no
    lock and cannot move it back.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, token_id: str, now: float) -> None:
        with self._lock:
            self._pending[token_id] = now

    def flush(self) -> int:
        """Write the pending stamps; returns how many. On failure they are kept for next time."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self._sessions.begin() as s:
                for token_id, stamp in sorted(pending.items()):  # one lock order for all
                    when = datetime.fromtimestamp(stamp, UTC)
                    s.execute(
                        update(Token)
                        .where(Token.id == token_id)
                        .where((Token.last_used.is_(None)) | (Token.last_used < when))
                        .values(last_used=when)
                    )
        except Exception:
            with self._lock:
                for token_id, stamp in pending.items():
                    if self._pending.get(token_id, 0.0) < stamp:
                        self._pending[token_id] = stamp
            raise
        return len(pending)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


class AuthService:
    def __init__(
        self,
        engine: Engine,
        cache: VerificationCache,
        cache_ttl: int = 300,
        clock: Callable[[], float] = time.time,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self._engine = engine
        self.oidc = oidc or OidcVerifier([], "")
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._cache = cache
        self._ttl = cache_ttl
        self._clock = clock
        self.last_used = _LastUsed(self._sessions)
        self._failures: dict[str, int] = {}
        self._failure_window = 0.0
        self._failure_lock = threading.Lock()

    def close(self) -> None:
        """Write pending `last_used` stamps and release the database connections."""
        try:
            self.last_used.flush()
        finally:
            self._engine.dispose()

    # ---- users -----------------------------------------------------------------------------

    def create_user(self, name: str, admin: bool = False) -> UserRecord:
        """Create a user; raises InvalidArgument (bad name) or AlreadyExists."""
        if not _USERNAME.match(name or ""):
            raise InvalidArgument(
                "user names are 1-100 letters, digits, '.', '_' or '-', starting and ending "
                "with a letter or digit"
            )
        key = user_name_key(name)
        taken = AlreadyExists(
            f"user {name!r} already exists (names differing only in case or "
            "'.', '_', '-' are the same user)"
        )
        try:
            with self._sessions.begin() as s:
                if s.scalar(select(User.id).where(User.name_key == key)) is not None:
                    raise taken
                user = User(
                    id=str(uuid.uuid4()),
                    name=name,
                    name_key=key,
                    active=True,
                    admin=admin,
                    created=datetime.now(UTC),
                )
                s.add(user)
                self._event(s, "user.create", user.id, None, {"name": name, "admin": admin})
        except IntegrityError as exc:
            # A concurrent creation of the same name won the race past the check above.
            raise taken from exc
        return _user(user)

    def get_user(self, *, user_id: str = "", name: str = "") -> UserRecord:
        with self._sessions() as s:
            stmt = (
                select(User).where(User.id == user_id)
                if user_id
                else select(User).where(User.name_key == user_name_key(name))
            )
            user = s.scalar(stmt)
            if user is None:
                raise NotFound(f"no user {name or user_id!r}")
            return _user(user)

    def set_user_active(self, name: str, active: bool) -> UserRecord:
        """Enable or disable a user. Disabling stops all their tokens at once, everywhere."""
        user = self.get_user(name=name)
        if not active:
            # Invalidate first: if the cache is unreachable this raises and nothing changes.
            self._cache.invalidate_user(user.id, self._ttl + 60)
        with self._sessions.begin() as s:
            s.execute(update(User).where(User.id == user.id).values(active=active))
            self._event(s, "user.enable" if active else "user.disable", user.id, None, {})
        if active:
            self._cache.release_user(user.id)
        return self.get_user(user_id=user.id)

    # ---- tokens ----------------------------------------------------------------------------

    def mint(
        self,
        *,
        requested: Scope,
        name: str = "",
        parent_token: str = "",
        for_user: str = "",
    ) -> tuple[str, TokenRecord]:
        """Mint a root token. With a parent, the new token is never wider than the parent.

        `for_user` (a user name) is for trusted tooling only; the gateway always passes a parent.
        """
        requested = _normalised(requested)
        if requested.publisher_ids is not None:
            raise InvalidArgument("trusted publishers' tokens come only from the OIDC exchange")
        if parent_token:
            parent = self.verify(parent_token, AccessContext(permission=Permission.MANAGE_TOKENS))
            scope = requested
            # Carry every restriction of the parent over: the child can only be narrower.
            for caveat in parent.scope.caveats():
                scope = scope.narrow(caveat)
            if scope.publisher_ids is not None:
                raise PermissionDenied("a trusted publisher's token cannot mint tokens")
            user = self.get_user(user_id=parent.user_id)
        elif for_user:
            scope = requested
            user = self.get_user(name=for_user)
        else:
            raise InvalidArgument("a token is minted from a parent token or for a user")
        return self._issue(user, scope, name, "token.mint", {"name": name})

    def _issue(
        self, user: UserRecord, scope: Scope, name: str, kind: str, detail: dict[str, object]
    ) -> tuple[str, TokenRecord]:
        if not user.active:
            raise PermissionDenied("the user is disabled")
        now = self._clock()
        caveats = self._checked(scope, now)
        key = secrets.token_bytes(32)
        token_id = str(uuid.uuid4())
        with self._sessions.begin() as s:
            row = Token(
                id=token_id,
                user_id=user.id,
                name=name[:200],
                key=key,
                caveats=json.dumps([json.loads(dump_caveat(c)) for c in caveats]),
                created=datetime.fromtimestamp(now, UTC),
                expires=(
                    datetime.fromtimestamp(scope.expires, UTC)
                    if scope.expires is not None
                    else None
                ),
            )
            s.add(row)
            self._event(s, kind, user.id, token_id, detail)
        log.info("minted token %s for user %s", token_id, user.name)
        return tokens.mint(token_id, key, caveats), _token_record(row)

    def _checked(self, requested: Scope, now: float) -> list[Caveat]:
        """The caveats for `requested`; raises InvalidArgument for restrictions that cannot be
        written as caveats or leave a token nothing to do."""
        if requested.is_empty():
            raise InvalidArgument("the requested restrictions leave the token nothing to do")
        if requested.expires is not None and requested.expires <= now:
            raise InvalidArgument("the expiry is in the past")
        caveats = requested.caveats()
        for caveat in caveats:
            try:
                if parse_caveat(dump_caveat(caveat)) != caveat:
                    raise CaveatError("restriction does not round-trip")
            except CaveatError as exc:
                raise InvalidArgument(f"invalid restriction: {exc}") from exc
        return caveats

    def verify(self, token: str, ctx: AccessContext | None = None) -> Verified:
        """Verify `token` and, when given, that it permits `ctx` now.

        Raises Unauthenticated (the token is no good at all) or PermissionDenied (good, but
        not for this).
        """
        verified = self._verify_token(token)
        now = self._clock()
        reason = verified.scope.check_time(now) or verified.scope.check_user(verified.user_id)
        if reason:
            self._failed(reason)
            raise Unauthenticated(reason)
        if ctx is not None:
            if ctx.permission not in PERMISSIONS:
                raise InvalidArgument(f"unknown permission {ctx.permission!r}")
            reason = verified.scope.check(ctx, now)
            if reason:
                raise PermissionDenied(reason)
        self.last_used.touch(verified.token_id, now)
        return verified

    def _verify_token(self, token: str) -> Verified:
        if not isinstance(token, str):
            raise Unauthenticated("token is not valid")
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            verified = self._from_cache(cached, token)
            if verified is not None:
                TOKEN_CACHE.labels("hit").inc()
                return verified
            log.warning("ignoring a damaged token-cache entry")
        TOKEN_CACHE.labels("miss").inc()
        verified = self._verify_uncached(token)
        ttl = self._ttl
        if verified.scope.expires is not None:
            ttl = min(ttl, int(verified.scope.expires - self._clock()))
        if ttl > 0:
            self._cache.put(key, _entry(verified), ttl, verified.token_id, verified.user_id)
        return verified

    @staticmethod
    def _from_cache(entry: dict[str, Any], token: str) -> Verified | None:
        try:
            token_id = tokens.token_id(tokens.load(token))
        except MalformedToken:
            return None  # only a corrupted cache maps garbage to an entry
        return _from_entry(entry, token_id)

    def _verify_uncached(self, token: str) -> Verified:
        try:
            macaroon = tokens.load(token)
        except MalformedToken as exc:
            self._failed(str(exc))
            raise Unauthenticated(str(exc)) from exc
        token_id = tokens.token_id(macaroon)
        try:
            with self._sessions() as s:
                row = s.get(Token, token_id)
                user = s.get(User, row.user_id) if row is not None else None
        except (OperationalError, PoolTimeout) as exc:
            log.error("token verification cannot reach the auth database: %s", type(exc).__name__)
            raise Unavailable("the token database is unreachable; try again shortly") from exc
        if row is None or user is None:
            self._failed("unknown or revoked token")
            raise Unauthenticated("token is unknown or has been revoked")
        parsed: list[Caveat] = []
        failure: list[str] = []

        # ONE dispatcher for every first-party caveat. pymacaroons accepts a caveat if any
        # general verifier returns True, so exactly one is registered.
        def dispatch(predicate: str) -> bool:
            try:
                parsed.append(parse_caveat(predicate))
            except CaveatError as exc:
                failure.append(str(exc))
                return False
            return True

        verifier = Verifier()
        verifier.satisfy_general(dispatch)
        try:
            ok = verifier.verify(macaroon, row.key)
        except MacaroonException as exc:
            reason = failure[0] if failure else "token signature is not valid"
            self._failed(reason)
            raise Unauthenticated(f"token is not valid: {reason}") from exc
        except Exception as exc:  # pymacaroons surfaces decoder errors from odd macaroons
            self._failed("unverifiable")
            raise Unauthenticated("token is not valid") from exc
        if not ok:
            self._failed("token signature is not valid")
            raise Unauthenticated("token is not valid")
        if not user.active:
            self._failed("user is disabled")
            raise Unauthenticated("the token's user is disabled")
        scope = _scope_of(parsed)
        # Only a token the OIDC exchange minted acts for trusted publishers: the row says so,
        # whatever caveats a holder added offline.
        if scope.publisher_ids is not None and not _minted_for_publishers(row):
            scope = replace(scope, publisher_ids=None)
        return Verified(user.id, user.name, user.admin, token_id, scope)

    def attenuate(self, token: str, requested: Scope) -> str:
        """Server-side convenience with the same semantics as offline `tokens` attenuation."""
        self.verify(token)
        caveats = self._checked(_normalised(requested), self._clock())
        return tokens.add_caveats(token, caveats)

    def revoke(self, caller_token: str, token_or_id: str) -> str:
        """Revoke a root token (and so every token attenuated from it). Owner or admin only,
        and only with a token that reaches every project the target reaches (see
        `list_tokens`). Raises NotFound for any other token, as for one that does not exist."""
        caller = self.verify(caller_token, AccessContext(permission=Permission.MANAGE_TOKENS))
        target_id = token_or_id
        if token_or_id.startswith(tokens.PREFIX):
            try:
                target_id = tokens.token_id(tokens.load(token_or_id))
            except MalformedToken as exc:
                raise InvalidArgument(str(exc)) from exc
        with self._sessions() as s:
            row = s.get(Token, target_id) if tokens.TOKEN_ID.fullmatch(target_id) else None
        # The same answer for "not yours", "wider than the token used" and "does not exist":
        # no probing other users' IDs, and a narrow token never acts on a wider one.
        if (
            row is None
            or (row.user_id != caller.user_id and not caller.admin)
            or not _token_record(row).caveats.reaches_no_more_projects_than(caller.scope)
        ):
            raise NotFound("no such token")
        self._cache.invalidate_token(target_id, self._ttl + 60)
        with self._sessions.begin() as s:
            s.execute(delete(Token).where(Token.id == target_id))
            self._event(s, "token.revoke", caller.user_id, target_id, {"owner": row.user_id})
        log.info("revoked token %s", target_id)
        return target_id

    def list_tokens(self, caller_token: str) -> list[TokenRecord]:
        """The caller's tokens that are no wider than the token used, by project: a token
        restricted to some projects sees (and revokes, and mints) only tokens restricted to a
        subset of them, never the user's unrestricted tokens. Permissions and time bounds are
        not compared: holding `manage-tokens` is what lets a token manage the user's tokens."""
        caller = self.verify(caller_token, AccessContext(permission=Permission.MANAGE_TOKENS))
        with self._sessions() as s:
            rows = s.scalars(
                select(Token).where(Token.user_id == caller.user_id).order_by(Token.created)
            ).all()
            records = [_token_record(t) for t in rows]
        return [r for r in records if r.caveats.reaches_no_more_projects_than(caller.scope)]

    # ---- audit -----------------------------------------------------------------------------

    def _event(
        self,
        s: Session,
        kind: str,
        user_id: str | None,
        token_id: str | None,
        detail: dict[str, object],
    ) -> None:
        s.add(
            Event(
                id=str(uuid.uuid4()),
                at=datetime.now(UTC),
                kind=kind,
                user_id=user_id,
                token_id=token_id,
                detail=json.dumps(detail),
            )
        )

    def _failed(self, reason: str) -> None:
        """Count failed verifications; record an audit event per burst (not per failure)."""
        TOKEN_FAILURES.inc()
        now = self._clock()
        with self._failure_lock:  # verifications run in many worker threads at once
            if now - self._failure_window > 60:
                self._failure_window = now
                self._failures = {}
            self._failures[reason] = self._failures.get(reason, 0) + 1
            total = sum(self._failures.values())
            reasons = dict(self._failures)
        if total not in _BURSTS and total % 1000 != 0:
            return
        log.warning("burst of failed token verifications: %d in the last minute", total)
        try:
            with self._sessions.begin() as s:
                self._event(
                    s, "token.verify-failures", None, None, {"count": total, "reasons": reasons}
                )
        except Exception:
            # The caller is owed its 401, not an error about the audit trail.
            log.exception("could not record a verification-failure event")

    # ---- trusted publishing (OIDC) ---------------------------------------------------------

    def mint_publisher_token(
        self, oidc_token: str, grants: list[PublisherGrant], user_id: str
    ) -> tuple[str, TokenRecord]:
        """Exchange `oidc_token` for an upload token of the projects in `grants`.

        The JWT is verified again (the grants are only as good as it), its jti is spent, and
        the token may upload to exactly those projects, by ID, for PUBLISHER_TOKEN_SECONDS,
        while one of the publishers still exists. Raises Unauthenticated (bad JWT),
        AlreadyExists (jti spent) or InvalidArgument (no grant).
        """
        verified = self.oidc.verify(oidc_token)
        if not grants:
            raise InvalidArgument("no trusted publisher to mint a token for")
        user = self.get_user(user_id=user_id)
        now = self._clock()
        scope = Scope(
            project_names=frozenset(canonicalize_name(g.project_name) for g in grants),
            project_ids=frozenset(g.project_id for g in grants),
            permissions=frozenset({Permission.UPLOAD}),
            expires=int(now) + PUBLISHER_TOKEN_SECONDS,
            publisher_ids=frozenset(g.publisher_id for g in grants),
        )
        with self._sessions.begin() as s:
            spend_jti(s, verified, now)
        claims = verified.claims
        detail: dict[str, object] = {
            "issuer": verified.issuer,
            "sub": str(claims.get("sub", ""))[:300],
            "jti": str(claims.get("jti", ""))[:200],
            "publishers": sorted(scope.publisher_ids or ()),
            "projects": sorted(scope.project_names or ()),
        }
        name = f"trusted publisher {verified.issuer}: {detail['sub']}"
        return self._issue(user, scope, name[:200], "token.mint-oidc", detail)

    def burn_publisher_token(self, token: str) -> str:
        """Revoke a token minted by `mint_publisher_token`, presented by its holder; its ID.

        Raises Unauthenticated (not a valid token) or PermissionDenied (not a publisher's).
        """
        verified = self.verify(token)
        if verified.scope.publisher_ids is None:
            raise PermissionDenied("only tokens minted for trusted publishers can be burnt")
        self._cache.invalidate_token(verified.token_id, self._ttl + 60)
        with self._sessions.begin() as s:
            s.execute(delete(Token).where(Token.id == verified.token_id))
            self._event(s, "token.burn", verified.user_id, verified.token_id, {})
        log.info("burnt trusted-publisher token %s", verified.token_id)
        return verified.token_id

    def list_users(self) -> list[UserRecord]:
        """Every user, in name order (the gateway shows them to administrators only)."""
        with self._sessions() as s:
            return [_user(u) for u in s.scalars(select(User).order_by(User.name_key))]

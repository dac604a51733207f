"""The auth domain's own errors.

Both are parse failures, `ValueError`s rather than `vestry.common.errors` classes: the domain
(`AuthService`) decides what each means for the caller (`Unauthenticated` for a token that does
not parse, `InvalidArgument` for a restriction that does not) and raises that instead.
"""

from __future__ import annotations

__all__ = ["CaveatError", "MalformedToken"]


class CaveatError(ValueError):
    """A caveat that does not parse. Its message says why, without echoing the caveat."""


class MalformedToken(ValueError):
    """The text is not a Vestry token. The message never echoes the token."""

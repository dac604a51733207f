"""Facts about API tokens that the auth service, the gateway and the CLI all rely on."""

from __future__ import annotations

__all__ = ["MAX_TIMESTAMP", "TOKEN_PREFIX"]

# Every API token starts with this; what follows is a v2 macaroon, base64url.
TOKEN_PREFIX = "vestry-"  # noqa: S105 - a prefix, not a secret

# 9999-12-31T23:59:59Z: the largest instant a protobuf Timestamp, a SQL timestamp and a Python
# datetime can all hold; the latest expiry a token can name. "No expiry" with a not-before is
# written as this.
MAX_TIMESTAMP = 253_402_300_799

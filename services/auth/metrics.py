"""The auth service's own metrics (its gRPC calls are counted by the shared server wrapper)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["TOKEN_CACHE", "TOKEN_FAILURES"]

TOKEN_CACHE = Counter(
    "vestry_token_cache_lookups_total",
    "Token verifications answered from the verification cache (hit) or the database (miss).",
    ["result"],
)
# No reason label: reasons quote what the client sent, and labels must stay a small fixed set.
TOKEN_FAILURES = Counter(
    "vestry_token_verification_failures_total",
    "Tokens refused as malformed, forged, unknown, revoked, expired or of a disabled user.",
)

"""The verification-cache backends, and the one factory choosing among them from settings."""

from __future__ import annotations

from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.backends.redis import RedisCache
from vestry.services.auth.cache import VerificationCache
from vestry.services.auth.settings import AuthSettings

__all__ = ["make_cache"]


def make_cache(settings: AuthSettings) -> VerificationCache:
    """Redis when a URL is configured (every replica shares it), else in-process."""
    if settings.redis_url:
        return RedisCache.from_url(settings.redis_url, settings.redis_prefix, settings.cache_ttl)
    return MemoryCache()

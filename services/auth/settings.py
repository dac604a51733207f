from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from vestry.common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_AUTH_", extra="ignore", frozen=True)

    listen: str = "127.0.0.1:50051"
    database_url: str = "sqlite:///vestry-auth.sqlite3"
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("VESTRY_REDIS_URL"))
    redis_prefix: str = Field(
        default="vestry:", validation_alias=AliasChoices("VESTRY_REDIS_PREFIX")
    )
    cache_ttl: int = Field(default=300, ge=1, le=86400)
    last_used_flush_seconds: float = Field(default=5.0, gt=0)

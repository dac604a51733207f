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
    # Trusted publishing: the only OIDC issuers whose tokens are exchanged for upload tokens.
    # Empty: that platform is not trusted. Generic issuers: "name=https://issuer,name=...".
    oidc_github_issuer: str = Field(
        default="https://token.actions.githubusercontent.com",
        validation_alias=AliasChoices("VESTRY_OIDC_GITHUB_ISSUER"),
    )
    oidc_gitlab_issuer: str = Field(
        default="https://gitlab.com", validation_alias=AliasChoices("VESTRY_OIDC_GITLAB_ISSUER")
    )
    oidc_issuers: str = Field(default="", validation_alias=AliasChoices("VESTRY_OIDC_ISSUERS"))
    # The `aud` the CI job must request (GET /_/oidc/audience tells clients).
    oidc_audience: str = Field(
        default="vestry", min_length=1, validation_alias=AliasChoices("VESTRY_OIDC_AUDIENCE")
    )

"""Settings pieces every process shares. Each process builds its own settings object in `main`."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Fields common to every gRPC service; subclasses set their own env prefix."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    internal_secret: SecretStr = Field(
        validation_alias=AliasChoices("VESTRY_INTERNAL_SECRET"),
        description="Shared secret that signs service-to-service calls (>= 32 characters).",
        min_length=32,
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("VESTRY_LOG_LEVEL"))
    metrics_listen: str = Field(
        default="",
        validation_alias=AliasChoices("VESTRY_METRICS_LISTEN"),
        description="HOST:PORT to serve Prometheus /metrics on; empty: none.",
    )
    # Where change epochs live (vestry.common.epochs): file:///abs/path on one machine,
    # redis://… for a cluster; empty: gateways cache no access decisions, nothing to bump.
    invalidation_url: str = Field(
        default="", validation_alias=AliasChoices("VESTRY_INVALIDATION_URL")
    )
    invalidation_prefix: str = Field(
        default="vestry:", validation_alias=AliasChoices("VESTRY_INVALIDATION_PREFIX")
    )

    @property
    def secret_bytes(self) -> bytes:
        return self.internal_secret.get_secret_value().encode()

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vestry.common.channels import grpc_target
from vestry.common.upstream_settings import UpstreamSettings


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_GATEWAY_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    internal_secret: SecretStr = Field(
        validation_alias=AliasChoices("VESTRY_INTERNAL_SECRET"), min_length=32
    )
    # Each service's replicas: one address, a DNS name resolving to all of them
    # (dns:///auth:50051), or comma-separated IP:PORT entries. Calls are balanced round-robin
    # and safe ones retried on another replica (gateway.backends.RETRYABLE).
    auth_address: str = Field(
        default="127.0.0.1:50051", validation_alias=AliasChoices("VESTRY_AUTH_ADDRESS")
    )
    index_address: str = Field(
        default="127.0.0.1:50052", validation_alias=AliasChoices("VESTRY_INDEX_ADDRESS")
    )
    storage_address: str = Field(
        default="127.0.0.1:50053", validation_alias=AliasChoices("VESTRY_STORAGE_ADDRESS")
    )
    max_upload_size: int = Field(default=100 * 1024 * 1024, gt=0)
    # Stream downloads through the gateway, or redirect to a short-lived presigned S3 URL.
    presigned_downloads: bool = False
    presign_seconds: int = Field(default=300, ge=10, le=3600)
    # The gateway shares the storage service's volume (as under `vestry up`): it asks storage
    # where a blob's file is (LocateBlob) and sends it with sendfile(2) instead of a gRPC stream.
    local_blobs: bool = False
    rpc_timeout: float = Field(default=30.0, gt=0)
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("VESTRY_LOG_LEVEL"))
    # Proxies whose X-Forwarded-Proto/-For are believed (comma-separated IPs, or "*" when only
    # a proxy can reach the gateway): the scheme of absolute URLs and the logged client address.
    forwarded_allow_ips: str = "127.0.0.1"
    # One line per request on logger vestry.access (path, status, time, user, token ID).
    access_log: bool = True
    # Prometheus /metrics on a port of its own, never on the public one; empty: none.
    metrics_listen: str = Field(default="", validation_alias=AliasChoices("VESTRY_METRICS_LISTEN"))
    # Rendered simple pages kept in memory, reused while their project's serial is unchanged.
    page_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    # The index's setting, read here too: the gateway's upload checks must agree with the index.
    allow_local_versions: bool = Field(
        default=True, validation_alias=AliasChoices("VESTRY_INDEX_ALLOW_LOCAL_VERSIONS")
    )

    # Trusted publishing: the `aud` CI jobs request (auth checks the same variable).
    oidc_audience: str = Field(
        default="vestry", min_length=1, validation_alias=AliasChoices("VESTRY_OIDC_AUDIENCE")
    )
    # HTTPS served by the gateway itself (PEM files); both or neither.
    tls_cert: str = ""
    tls_key: str = ""
    # The upstream proxy's fetching (VESTRY_UPSTREAM_*, shared with the index).
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    # Web UI sign-in: how long a session lasts, and where sessions are kept: in this process
    # when both are empty; in Redis when several gateway replicas serve the UI; in a SQLite
    # file when several gateway processes of one machine do (`vestry up --workers`).
    session_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 86400)
    session_redis_url: str = ""
    session_file: str = ""
    # Bind the port with SO_REUSEPORT, so that several gateway processes of one machine share
    # it and the kernel spreads connections over them (`vestry up --workers`).
    reuse_port: bool = False
    # Change epochs (vestry.common.epochs), the same setting as auth's and the index's: with
    # them, verified tokens and access decisions are reused while nothing changed; empty: every
    # request asks auth and the index, as without.
    invalidation_url: str = Field(
        default="", validation_alias=AliasChoices("VESTRY_INVALIDATION_URL")
    )
    invalidation_prefix: str = Field(
        default="vestry:", validation_alias=AliasChoices("VESTRY_INVALIDATION_PREFIX")
    )
    # How long a verified token is reused at most (also bounded by its expiry); auth's
    # last-used stamps are as precise as this.
    identity_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Entries in each of the gateway's caches of identities and access decisions.
    warm_cache_entries: int = Field(default=65536, ge=0)
    # Download counts are added up in memory and sent to the index this often.
    downloads_flush_seconds: float = Field(default=5.0, gt=0)

    @field_validator("auth_address", "index_address", "storage_address")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        grpc_target(value)  # raises ValueError with what to write instead
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("HTTPS needs both VESTRY_GATEWAY_TLS_CERT and VESTRY_GATEWAY_TLS_KEY")
        return self

    @property
    def secret_bytes(self) -> bytes:
        return self.internal_secret.get_secret_value().encode()

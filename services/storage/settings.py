from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from vestry.common.settings import ServiceSettings


class StorageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_STORAGE_", extra="ignore", frozen=True)

    listen: str = "127.0.0.1:50053"
    backend: Literal["local", "s3"] = "local"
    path: str = "vestry-blobs"  # local blobs; for s3, where uploads spool before they are sent
    max_blob_size: int = Field(default=1024 * 1024 * 1024, gt=0)
    # GetBlob message size. bench/storage_bench.py (2 shared cores, 20 and 200 MB): 64 KiB
    # chunks streamed ~100 MB/s, 256 KiB ~200-330, 1 MiB ~320-490, 4 MiB no better on 20 MB and
    # 4x the memory per stream; 1 MiB is the knee.
    chunk_size: int = Field(default=1024 * 1024, ge=16 * 1024, le=4 * 1024 * 1024)
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "vestry"
    s3_secure: bool = False
    s3_region: str | None = None

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from vestry.common.settings import ServiceSettings
from vestry.common.upstream_settings import UpstreamSettings
from vestry.common.vocabulary import Visibility


class IndexSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_INDEX_", extra="ignore", frozen=True)

    listen: str = "127.0.0.1:50052"
    database_url: str = "sqlite:///vestry-index.sqlite3"
    # Visibility of a project created by its first upload.
    default_visibility: Visibility = Visibility.PRIVATE
    # PEP 440 local versions (1.2.3+cu121): private builds need them; false gives PyPI's rule.
    allow_local_versions: bool = True
    # The upstream proxy's decisions (VESTRY_UPSTREAM_*, shared with the gateway).
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)

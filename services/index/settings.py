from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from vestry.common.settings import ServiceSettings
from vestry.common.vocabulary import Visibility


class IndexSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VESTRY_INDEX_", extra="ignore", frozen=True)

    listen: str = "127.0.0.1:50052"
    database_url: str = "sqlite:///vestry-index.sqlite3"
    # Visibility of a project created by its first upload.
    default_visibility: Visibility = Visibility.PRIVATE

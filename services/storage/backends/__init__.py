"""The blob-store backends, and the one factory choosing among them from settings."""

from __future__ import annotations

import os

from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.backends.s3 import S3BlobStore
from vestry.services.storage.blobstore import BlobStore
from vestry.services.storage.settings import StorageSettings

__all__ = ["make_store"]


def make_store(settings: StorageSettings) -> BlobStore:
    """The one factory choosing a backend from settings."""
    if settings.backend == "s3":
        return S3BlobStore.from_settings(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            settings.s3_secure,
            settings.s3_region,
            os.path.join(settings.path, "tmp"),
        )
    return LocalBlobStore(settings.path)

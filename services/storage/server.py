"""Composition root of the storage process."""

from __future__ import annotations

import logging
import os
import time

import grpc
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.common.grpc_server import create_server, run_until_signalled
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.backends.s3 import S3BlobStore
from vestry.services.storage.blobstore import BlobStore, sweep_incoming
from vestry.services.storage.servicer import StorageServicer
from vestry.services.storage.settings import StorageSettings

SERVICE_NAME = storage_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name
# A spooled upload untouched this long belongs to a process that died: the gateway gives a
# PutBlob at most 10 minutes, and replicas may share the spool directory.
STALE_INCOMING_SECONDS = 3600

log = logging.getLogger(__name__)


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


def create_storage_server(
    settings: StorageSettings, address: str | None = None
) -> tuple[grpc.aio.Server, int, BlobStore]:
    store = make_store(settings)
    swept = sweep_incoming(store.tmp_dir(), time.time() - STALE_INCOMING_SECONDS)
    if swept:
        log.info("removed %d stale spooled upload(s) from %s", len(swept), store.tmp_dir())

    def register(server: grpc.aio.Server) -> None:
        storage_pb2_grpc.add_StorageServiceServicer_to_server(
            StorageServicer(store, settings.max_blob_size, settings.chunk_size), server
        )

    server, port = create_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME]
    )
    return server, port, store


async def serve(settings: StorageSettings) -> None:
    server, _, _ = create_storage_server(settings)
    await run_until_signalled(server)

"""Composition root of the storage process."""

from __future__ import annotations

import logging
import time

import grpc
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.common.grpc_server import create_server as create_grpc_server
from vestry.common.grpc_server import run_until_signalled
from vestry.services.storage.backends import make_store
from vestry.services.storage.blobstore import BlobStore, sweep_incoming
from vestry.services.storage.servicer import StorageServicer
from vestry.services.storage.settings import StorageSettings

SERVICE_NAME = storage_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name
# A spooled upload untouched this long belongs to a process that died: the gateway gives a
# PutBlob at most 10 minutes, and replicas may share the spool directory.
STALE_INCOMING_SECONDS = 3600

log = logging.getLogger(__name__)


def build_service(settings: StorageSettings) -> BlobStore:
    """The configured blob store, with the stale spooled uploads of dead processes removed."""
    store = make_store(settings)
    swept = sweep_incoming(store.tmp_dir(), time.time() - STALE_INCOMING_SECONDS)
    if swept:
        log.info("removed %d stale spooled upload(s) from %s", len(swept), store.tmp_dir())
    return store


def create_server(
    settings: StorageSettings, address: str | None = None, *, store: BlobStore | None = None
) -> tuple[grpc.aio.Server, int]:
    """The storage gRPC server on `address` (default `settings.listen`) and its bound port,
    serving `store`, or one `build_service(settings)` makes."""
    if store is None:
        store = build_service(settings)
    servicer = StorageServicer(store, settings.max_blob_size, settings.chunk_size)

    def register(server: grpc.aio.Server) -> None:
        storage_pb2_grpc.add_StorageServiceServicer_to_server(servicer, server)

    return create_grpc_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME]
    )


async def serve(settings: StorageSettings) -> None:
    server, _ = create_server(settings)
    await run_until_signalled(server)

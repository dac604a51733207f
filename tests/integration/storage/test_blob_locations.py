"""The gateway's BlobLocations against a real storage service: where a blob's file is, from
storage alone, remembered, and None (stream it) whenever the file does not open here as the blob."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vestry.storage.v1 import storage_pb2_grpc

from tests.factories import blob
from tests.integration.storage.harness import GrpcClient, ServerThread
from tests.support.storage import storage_settings
from vestry.common.channels import internal_channel
from vestry.gateway.blobs import read_blob
from vestry.gateway.local_blobs import BlobLocations
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.server import create_server
from vestry.services.storage.settings import StorageSettings

DATA = blob(3 * 1024 * 1024 + 17, seed=7)


class _Storage:
    """What BlobLocations and read_blob use of the gateway's Backends: the storage stub."""

    def __init__(self, address: str, secret: str) -> None:
        self.channel = internal_channel(address, secret.encode())
        self.storage = storage_pb2_grpc.StorageServiceStub(self.channel)
        self.timeout = 10.0


class _ElsewhereStore(LocalBlobStore):
    """A storage service on another machine: the paths it names do not exist here."""

    def local_path(self, key: str) -> str:
        return "/nonexistent-volume" + super().local_path(key)


@pytest.fixture
def settings(tmp_path: Path, internal_secret: str) -> StorageSettings:
    return storage_settings("local", tmp_path / "store", internal_secret)


@pytest.fixture
def server(settings: StorageSettings) -> Iterator[ServerThread]:
    running = ServerThread(settings)
    yield running
    running.stop()


def _put(server: ServerThread, secret: str, data: bytes = DATA) -> str:
    client = GrpcClient(server.address, secret.encode())
    try:
        return client.put(data).key
    finally:
        client.close()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_the_located_file_is_the_blob_and_its_location_is_remembered(
    server: ServerThread, internal_secret: str
) -> None:
    key = _put(server, internal_secret)
    locations = BlobLocations()

    async def go() -> tuple[bytes, int | None]:
        backends: Any = _Storage(server.address, internal_secret)
        fd = await locations.open(backends, key, len(DATA))
        assert fd is not None
        try:
            data = os.pread(fd, len(DATA) + 1, 0)
        finally:
            os.close(fd)
        await backends.channel.close()
        # Storage gone: the remembered location still opens, with no call made.
        again = await locations.open(backends, key, len(DATA))
        return data, again

    data, again = _run(go())
    assert data == DATA
    assert again is not None
    os.close(again)


def test_a_size_other_than_the_index_says_is_not_trusted(
    server: ServerThread, internal_secret: str
) -> None:
    key = _put(server, internal_secret)

    async def go() -> int | None:
        backends: Any = _Storage(server.address, internal_secret)
        try:
            return await BlobLocations().open(backends, key, len(DATA) - 1)
        finally:
            await backends.channel.close()

    assert _run(go()) is None


def test_a_blob_of_unknown_size_opens_with_the_size_of_its_file(
    server: ServerThread, internal_secret: str
) -> None:
    key = _put(server, internal_secret)

    async def go() -> tuple[int, bytes] | None:
        backends: Any = _Storage(server.address, internal_secret)
        try:
            opened = await BlobLocations().open_sized(backends, key)
        finally:
            await backends.channel.close()
        if opened is None:
            return None
        fd, size = opened
        try:
            return size, os.pread(fd, size + 1, 0)
        finally:
            os.close(fd)

    assert _run(go()) == (len(DATA), DATA)


def test_a_path_that_does_not_open_here_falls_back_to_the_stream(
    tmp_path: Path, settings: StorageSettings, internal_secret: str
) -> None:
    store = _ElsewhereStore(str(tmp_path / "elsewhere"))
    server = ServerThread(factory=lambda: create_server(settings, "127.0.0.1:0", store=store))
    try:
        key = _put(server, internal_secret)
        locations = BlobLocations()

        async def go() -> tuple[int | None, bytes]:
            backends: Any = _Storage(server.address, internal_secret)
            try:
                fd = await locations.open(backends, key, len(DATA))
                streamed = b"".join([c async for c in read_blob(backends, key)])
                return fd, streamed
            finally:
                await backends.channel.close()

        fd, streamed = _run(go())
    finally:
        server.stop()
    assert fd is None
    assert streamed == DATA

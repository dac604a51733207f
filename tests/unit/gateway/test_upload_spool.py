"""Where an upload's file is written: in storage's spool when the gateway shares its volume
(VESTRY_GATEWAY_LOCAL_BLOBS), then named to storage instead of streamed; anonymous otherwise,
and streamed whenever storage does not see the file after all."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
from vestry.storage.v1 import storage_pb2

from vestry.gateway.upload.spool import SharedSpool

PREFIX = "incoming-shared-"


def _error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "x")


class _Storage:
    """SharedSpool answers as given; PutBlob records each call's header and the bytes streamed,
    and refuses shared files with `shared_outcome` when one is set."""

    def __init__(self, directory: str, shared_outcome: grpc.StatusCode | None = None) -> None:
        self.directory = directory
        self.shared_outcome = shared_outcome
        self.asked = 0
        self.calls: list[tuple[str, bytes]] = []

    def SharedSpool(self, request: Any, timeout: float) -> Any:
        self.asked += 1
        return self._answer()

    async def _answer(self) -> Any:
        if self.directory == "unimplemented":
            raise _error(grpc.StatusCode.UNIMPLEMENTED)
        return storage_pb2.SharedSpoolResponse(directory=self.directory, prefix=PREFIX)

    def PutBlob(self, requests: Any, timeout: float) -> Any:
        async def call() -> Any:
            header, data = None, b""
            async for message in requests:
                if header is None:
                    header = message.header
                    if header.shared_file and self.shared_outcome is not None:
                        raise _error(self.shared_outcome)
                data += message.chunk
            assert header is not None
            self.calls.append((header.shared_file, data))
            return storage_pb2.BlobInfo(key=header.expected_sha256, size=len(data))

        return call()


def _backends(storage: _Storage) -> Any:
    return SimpleNamespace(storage=storage, timeout=5.0)


def _listing(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def _upload(spool: SharedSpool, storage: _Storage, data: bytes = b"wheel bytes") -> list[str]:
    """What an upload does with its file: prepare, write, store, close; the spool's contents
    just before the close."""

    async def go() -> list[str]:
        backends = _backends(storage)
        await spool.prepare(backends)
        spooled = spool.temp_file()
        try:
            spooled.file.write(data)
            spooled.file.seek(0)
            await spool.store(backends, spooled, "0" * 64, len(data))
            return _listing(storage.directory)
        finally:
            spooled.close()

    return asyncio.run(go())


def test_with_a_shared_volume_the_file_is_written_in_the_spool_and_named(tmp_path: Path) -> None:
    storage = _Storage(str(tmp_path))
    spool = SharedSpool(enabled=True)
    during = _upload(spool, storage)
    assert len(during) == 1 and during[0].startswith(PREFIX)
    assert storage.calls == [(during[0], b"")]  # named, no byte streamed
    assert os.listdir(tmp_path) == []  # what storage did not take, the close removes
    _upload(spool, storage)
    assert storage.asked == 1  # asked once per process


def test_switched_off_nothing_is_asked_and_the_bytes_are_streamed(tmp_path: Path) -> None:
    storage = _Storage(str(tmp_path))
    assert _upload(SharedSpool(enabled=False), storage) == []
    assert storage.asked == 0
    assert storage.calls == [("", b"wheel bytes")]


def test_a_storage_without_the_call_or_a_spool_means_streaming(tmp_path: Path) -> None:
    for answer in ("unimplemented", ""):
        storage = _Storage(answer)
        _upload(SharedSpool(enabled=True), storage)
        assert storage.calls == [("", b"wheel bytes")]


def test_a_spool_that_is_not_on_this_machine_is_given_up(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted-here"
    storage = _Storage(str(missing))
    spool = SharedSpool(enabled=True)
    _upload(spool, storage)
    missing.mkdir()  # appearing later changes nothing for this process
    _upload(spool, storage)
    assert storage.calls == [("", b"wheel bytes")] * 2
    assert os.listdir(missing) == []


def test_a_file_storage_does_not_see_is_streamed_and_later_ones_too(tmp_path: Path) -> None:
    """The same path on two volumes: storage says NOT_FOUND, the bytes go the long way."""
    storage = _Storage(str(tmp_path), shared_outcome=grpc.StatusCode.NOT_FOUND)
    spool = SharedSpool(enabled=True)
    _upload(spool, storage, b"first")
    _upload(spool, storage, b"second")
    assert storage.calls == [("", b"first"), ("", b"second")]
    assert os.listdir(tmp_path) == []


def test_any_other_refusal_is_the_upload_s_answer(tmp_path: Path) -> None:
    storage = _Storage(str(tmp_path), shared_outcome=grpc.StatusCode.INVALID_ARGUMENT)
    try:
        _upload(SharedSpool(enabled=True), storage)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        raise AssertionError("a refusal of the shared file must not be retried as a stream")
    assert storage.calls == [] and os.listdir(tmp_path) == []


def test_a_prefix_that_is_not_a_bare_name_is_not_used(tmp_path: Path) -> None:
    class Odd(_Storage):
        async def _answer(self) -> Any:
            return storage_pb2.SharedSpoolResponse(directory=self.directory, prefix="../escape-")

    storage = Odd(str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    _upload(SharedSpool(enabled=True), storage)
    assert storage.calls == [("", b"wheel bytes")]
    assert sorted(os.listdir(tmp_path)) == ["spool"]

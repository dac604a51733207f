"""Storing blobs: a storage process that dies under a client stream is UNAVAILABLE (a 503 the
client retries), never a CancelledError that the server answers with a 500."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from vestry.gateway.blobs import put_bytes


class _Storage:
    """A PutBlob that ends the way grpc.aio ends when the peer goes away mid-stream."""

    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome = outcome

    def PutBlob(self, requests: Any, timeout: float) -> Any:
        async def call() -> Any:
            async for _ in requests:
                await asyncio.sleep(0)
            if self.outcome is not None:
                raise self.outcome
            return "stored"

        return call()


def _backends(storage: _Storage) -> Any:
    return SimpleNamespace(storage=storage, timeout=5.0)


def test_a_cancelled_call_under_a_live_task_is_unavailable() -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(put_bytes(_backends(_Storage(asyncio.CancelledError())), b"data", "0" * 64))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "storage" in (caught.value.details() or "")


def test_the_task_s_own_cancellation_is_passed_on() -> None:
    async def main() -> None:
        started = asyncio.Event()

        class Hanging(_Storage):
            def PutBlob(self, requests: Any, timeout: float) -> Any:
                async def call() -> Any:
                    started.set()
                    await asyncio.sleep(60)

                return call()

        task = asyncio.create_task(put_bytes(_backends(Hanging(None)), b"d", "0" * 64))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_stored_blob_is_returned() -> None:
    assert asyncio.run(put_bytes(_backends(_Storage(None)), b"data", "0" * 64)) == "stored"


def test_a_gated_put_sends_its_commit_only_once_the_caller_said_so() -> None:
    """The metadata blob travels while the index decides: its bytes go at once, the commit
    message (without which storage keeps nothing) only after `commit` is done."""

    async def main() -> list[str]:
        seen: list[str] = []
        keep: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        class Recording(_Storage):
            def PutBlob(self, requests: Any, timeout: float) -> Any:
                async def call() -> Any:
                    async for message in requests:
                        seen.append(message.WhichOneof("part"))
                    return "stored"

                return call()

        put = asyncio.ensure_future(
            put_bytes(_backends(Recording(None)), b"data", "0" * 64, commit=keep)
        )
        for _ in range(5):
            await asyncio.sleep(0)
        assert seen == ["header", "chunk"] and not put.done()
        keep.set_result(None)
        assert await put == "stored"
        return seen

    assert asyncio.run(main()) == ["header", "chunk", "commit"]

"""The gateway's warm caches: an answer is reused only under the epoch it was filled under,
never past its deadline, and nothing is reused when the epoch is unknown."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from vestry.gateway.warm import Refusal, WarmCache, remembered


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_same_epoch_hits_other_epoch_misses() -> None:
    cache: WarmCache[str] = WarmCache("t", 10, 300)
    cache.put("k", 7, "answer")
    assert cache.get("k", 7) == "answer"
    assert cache.get("k", 8) is None  # the epoch moved: filled before some change
    assert cache.get("k", 7) is None  # and that entry is gone for good


def test_unknown_epoch_bypasses() -> None:
    cache: WarmCache[str] = WarmCache("t", 10, 300)
    cache.put("k", 7, "answer")
    assert cache.get("k", None) is None
    assert cache.get("k", 7) == "answer"  # a bypass does not drop what is kept
    cache.put("other", None, "answer")  # filled under an unknown epoch: never kept
    assert len(cache) == 1


def test_expiry_and_max_age() -> None:
    clock = Clock()
    cache: WarmCache[str] = WarmCache("t", 10, 60, clock=clock)
    cache.put("short", 1, "a", ttl=5)  # e.g. a token that expires in 5 s
    cache.put("long", 1, "b", ttl=3600)  # capped at the max age
    cache.put("expired", 1, "c", ttl=-1)  # already past its expiry: not kept
    clock.now += 5
    assert cache.get("short", 1) is None
    assert cache.get("long", 1) == "b"
    clock.now += 55
    assert cache.get("long", 1) is None
    assert cache.get("expired", 1) is None


def test_bounded_lru() -> None:
    cache: WarmCache[int] = WarmCache("t", 2, 300)
    cache.put("a", 1, 1)
    cache.put("b", 1, 2)
    assert cache.get("a", 1) == 1  # a is now the most recent
    cache.put("c", 1, 3)
    assert cache.get("b", 1) is None
    assert (cache.get("a", 1), cache.get("c", 1)) == (1, 3)


def _refused() -> grpc.aio.AioRpcError:
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(grpc.StatusCode.NOT_FOUND, empty, empty, "no such project")


@pytest.mark.parametrize("refusals", [True, False])
def test_remembered_keeps_replies_and_refusals(refusals: bool) -> None:
    cache: WarmCache[str | Refusal] = WarmCache("t", 10, 300)
    calls: list[str] = []

    async def ok() -> str:
        calls.append("ok")
        return "reply"

    async def refuse() -> str:
        calls.append("refuse")
        raise _refused()

    async def scenario() -> None:
        assert await remembered(cache, "a", 1, ok) == "reply"
        assert await remembered(cache, "a", 1, ok) == "reply"
        assert await remembered(cache, "a", None, ok) == "reply"  # unknown: asked again
        assert await remembered(cache, "b", 1, ok, keep=lambda _: False) == "reply"
        assert await remembered(cache, "b", 1, ok, keep=lambda _: False) == "reply"
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await remembered(cache, "c", 1, refuse, refusals=refusals)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            assert caught.value.details() == "no such project"

    asyncio.run(scenario())
    assert calls == ["ok", "ok", "ok", "ok", "refuse"] + ([] if refusals else ["refuse"])


def test_other_errors_are_not_kept() -> None:
    cache: WarmCache[str | Refusal] = WarmCache("t", 10, 300)
    calls = 0

    async def unavailable() -> str:
        nonlocal calls
        calls += 1
        empty = grpc.aio.Metadata()
        raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, empty, empty, "down")

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError):
                await remembered(cache, "a", 1, unavailable)

    asyncio.run(scenario())
    assert calls == 2

"""Token verification cost through the gateway, warm and cold cache, in-process and Redis.

Starts a real `vestry up` per cache kind (in-process; Redis when VESTRY_BENCH_REDIS_URL or
redis://127.0.0.1:6379/0 answers), then times `GET /simple/` with a token (one verification +
one cheap index call per request):
  warm: the same token every time (a cache hit after the first);
  cold: a distinct token per request (offline attenuations of one root: new hash, so a miss and
        a database read each), which is the worst case a cache can see.
Also times AuthService.verify alone, in this process. Prints figures; asserts nothing.

    .venv/bin/python bench/auth_verify.py [--requests 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.vestry_up import start_vestry
from vestry.common.db import make_engine
from vestry.services.auth import tokens
from vestry.services.auth.backends.memory import MemoryCache
from vestry.services.auth.backends.redis import RedisCache
from vestry.services.auth.cache import VerificationCache
from vestry.services.auth.caveats import Scope
from vestry.services.auth.server import migrate_database
from vestry.services.auth.service import AuthService


def _report(label: str, latencies: list[float], wall: float) -> None:
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(
        f"  {label:34} {len(lat) / wall:9.0f} verifications/s   p50 {p50:7.3f} ms   "
        f"p99 {p99:7.3f} ms"
    )


def _run(threads: int, work: list[Callable[[], None]]) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [work[i::threads] for i in range(threads)]

    def worker(items: list[Callable[[], None]]) -> None:
        mine = []
        for item in items:
            t0 = time.perf_counter()
            item()
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies, time.perf_counter() - started


def bench_gateway(label: str, env: dict[str, str], n: int, threads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        v = start_vestry(Path(tmp) / "data", env=env)
        try:
            root = v.create_user("bench")
            local = threading.local()

            def get(token: str) -> Callable[[], None]:
                def call() -> None:
                    client = getattr(local, "client", None)
                    if client is None:
                        client = local.client = httpx.Client(timeout=30)
                    r = client.get(v.base + "/simple/", auth=("__token__", token))
                    assert r.status_code == 200, r.text

                return call

            get(root)()  # warm up connections and the cache
            for kind, work in (
                ("warm", [get(root) for _ in range(n)]),
                ("cold", [get(tokens.attenuate(root, permissions=["read"])) for _ in range(n)]),
            ):
                for t in (1, threads):
                    lat, wall = _run(t, work)
                    _report(f"gateway {label} {kind} x{t}", lat, wall)
        finally:
            v.stop()


def bench_service(label: str, cache: VerificationCache, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/auth.sqlite3"
        migrate_database(url)
        engine = make_engine(url)
        svc = AuthService(engine, cache)
        svc.create_user("bench")
        root, _ = svc.mint(requested=Scope(), for_user="bench")
        svc.verify(root)
        for kind, items in (
            ("warm", [root] * n),
            ("cold", [tokens.attenuate(root, permissions=["read"]) for _ in range(n)]),
        ):
            lat, wall = _run(1, [lambda t=t: svc.verify(t) for t in items])  # type: ignore[misc]
            _report(f"AuthService.verify {label} {kind}", lat, wall)
        engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args()
    redis_url = os.environ.get("VESTRY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        redis_url = ""
    prefix = f"vestry-bench:{uuid.uuid4().hex[:8]}:"
    print(f"{os.cpu_count()} CPUs; {args.requests} requests per row")
    bench_service("in-process", MemoryCache(), args.requests * 5)
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        bench_service("redis", RedisCache(client, prefix, 300), args.requests * 5)
    bench_gateway("in-process", {}, args.requests, args.threads)
    if redis_url:
        bench_gateway(
            "redis",
            {"VESTRY_REDIS_URL": redis_url, "VESTRY_REDIS_PREFIX": prefix},
            args.requests,
            args.threads,
        )
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

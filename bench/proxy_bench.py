"""Upstream proxy latency, cold and warm, beside direct requests to the same upstream.

Starts a loopback upstream (tests/support/upstream_server.py: PEP 691 JSON, N projects with a
file each) and a real `vestry up` proxying it, then times with one keep-alive client:
  page  direct:  GET upstream /simple/<p>/ (JSON)
        cold:    GET Vestry /simple/<p>/ the first time (index decision + upstream fetch)
        warm:    the same again (index decision + page from the gateway's cache)
        local:   a project uploaded to Vestry, for comparison with warm
  file  direct:  GET the upstream's file
        cold:    GET Vestry /files/<p>/<file> the first time (fetch, verify, stream, store)
        warm:    the same again (from storage)
Prints medians and p90 in milliseconds; asserts nothing.

    .venv/bin/python bench/proxy_bench.py [--projects 40] [--warm 200] [--size 1048576]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import make_wheel
from tests.support.clients import twine_upload
from tests.support.upstream_server import UpFile, Upstream
from tests.support.vestry_up import start_vestry

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _times(f: Callable[[int], None], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        f(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _row(what: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10) if len(ms) >= 2 else [ms[0]] * 9
    return f"| {what} | {statistics.median(ms):.2f} | {q[8]:.2f} | {len(ms)} |"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=40)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--size", type=int, default=1024 * 1024)
    args = ap.parse_args()
    up = Upstream()
    for i in range(args.projects):
        data = hashlib.sha256(str(i).encode()).digest() * (args.size // 32)
        up.projects[f"pkg{i}"] = [UpFile(f"pkg{i}-1.0-py3-none-any.whl", data)]
    up.start()
    with tempfile.TemporaryDirectory() as tmp:
        vestry = start_vestry(Path(tmp) / "data", env={"VESTRY_UPSTREAM_URL": up.url})
        try:
            token = vestry.create_user("bench", admin=True)
            wheels = Path(tmp) / "wheels"
            wheels.mkdir()
            twine_upload(vestry.upload_url, token, make_wheel(wheels, "localpkg", "1.0"))
            direct = httpx.Client(base_url=up.url.removesuffix("/simple/"), timeout=60)
            proxy = httpx.Client(base_url=vestry.base, auth=("__token__", token), timeout=60)
            n = args.projects
            rows = [
                (
                    "page, direct to upstream",
                    _times(lambda i: direct.get(f"/simple/pkg{i}/", headers=JSON), n),
                ),
                (
                    "page, proxied cold",
                    _times(lambda i: proxy.get(f"/simple/pkg{i}/", headers=JSON), n),
                ),
                (
                    "page, proxied warm",
                    _times(lambda i: proxy.get("/simple/pkg0/", headers=JSON), args.warm),
                ),
                (
                    "page, local (uploaded)",
                    _times(lambda i: proxy.get("/simple/localpkg/", headers=JSON), args.warm),
                ),
                (
                    "file, direct to upstream",
                    _times(lambda i: direct.get(f"/files/pkg{i}-1.0-py3-none-any.whl"), n),
                ),
                (
                    "file, proxied cold",
                    _times(lambda i: proxy.get(f"/files/pkg{i}/pkg{i}-1.0-py3-none-any.whl"), n),
                ),
                (
                    "file, proxied warm",
                    _times(
                        lambda i: proxy.get(f"/files/pkg{i % n}/pkg{i % n}-1.0-py3-none-any.whl"),
                        args.warm,
                    ),
                ),
            ]
            print(f"{n} projects, files of {args.size} bytes, {os.cpu_count()} CPUs\n")
            print("| request | median ms | p90 ms | n |\n| --- | --- | --- | --- |")
            for what, ms in rows:
                print(_row(what, ms))
        finally:
            vestry.stop()
            up.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

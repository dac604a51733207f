"""Storage throughput: PutBlob / GetBlob through the real gRPC service, against copying the same
file with `cp` (local disk) and with the MinIO SDK directly (S3 on SeaweedFS).

    .venv/bin/python bench/storage_bench.py [--sizes 20,200] [--chunks 64,256,1024,4096]
        [--backends local,s3] [--repeat 3]

Prints MB/s (best of --repeat) per file size, backend and gRPC chunk size (KiB), so that the
chunk size can be chosen by measurement and the cost of the gRPC hop read off directly.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
from minio import Minio
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from tests.support.seaweedfs import SeaweedS3, start_seaweedfs
from vestry.common.channels import internal_channel
from vestry.services.storage.backends.s3 import PART_SIZE
from vestry.services.storage.server import build_service, create_server
from vestry.services.storage.settings import StorageSettings

MB = 1_000_000


def make_file(path: Path, size: int) -> str:
    sha = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            sha.update(block)
            f.write(block)
            left -= len(block)
    return sha.hexdigest()


def best(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


class Server:
    def __init__(self, settings: StorageSettings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        self.store = build_service(settings)

        async def start() -> tuple[grpc.aio.Server, int]:
            server, port = create_server(settings, "127.0.0.1:0", store=self.store)
            await server.start()
            return server, port

        self.server, port = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        self.address = f"127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


async def put_blob(stub: Any, f: BinaryIO, sha256: str, size: int, chunk: int) -> None:
    async def requests() -> AsyncIterator[storage_pb2.PutBlobRequest]:
        yield storage_pb2.PutBlobRequest(
            header=storage_pb2.PutBlobHeader(expected_sha256=sha256, expected_size=size)
        )
        f.seek(0)
        while data := f.read(chunk):  # as the gateway does: from its spooled upload
            yield storage_pb2.PutBlobRequest(chunk=data)

    info = await stub.PutBlob(requests(), timeout=600)
    assert info.key == sha256


async def get_blob(stub: Any, key: str, size: int) -> None:
    got = 0
    async for message in stub.GetBlob(storage_pb2.GetBlobRequest(key=key), timeout=600):
        got += len(message.chunk)
    assert got == size


def grpc_figures(
    settings: StorageSettings, path: Path, sha256: str, size: int, chunk: int, repeat: int
) -> tuple[float, float]:
    server = Server(settings)
    loop = asyncio.new_event_loop()
    try:

        async def connect() -> Any:
            return internal_channel(server.address, settings.secret_bytes)

        channel = loop.run_until_complete(connect())
        stub = storage_pb2_grpc.StorageServiceStub(channel)
        with open(path, "rb") as f:
            put_s = best(
                repeat, lambda: loop.run_until_complete(put_blob(stub, f, sha256, size, chunk))
            )
        get_s = best(repeat, lambda: loop.run_until_complete(get_blob(stub, sha256, size)))
        server.store.delete(sha256)
        loop.run_until_complete(channel.close())
    finally:
        loop.close()
        server.stop()
    return size / MB / put_s, size / MB / get_s


def cp_figures(path: Path, workdir: Path, size: int, repeat: int) -> tuple[float, float]:
    dst = workdir / "cp-copy"

    def copy_in() -> None:
        subprocess.run(["cp", str(path), str(dst)], check=True)
        subprocess.run(["sync", str(dst)], check=True)  # PutBlob fsyncs; so must the baseline

    def copy_out() -> None:
        subprocess.run(["cp", str(dst), os.devnull], check=True)

    put_s = best(repeat, copy_in)
    get_s = best(repeat, copy_out)
    dst.unlink()
    return size / MB / put_s, size / MB / get_s


def sdk_figures(s3: SeaweedS3, path: Path, size: int, repeat: int) -> tuple[float, float]:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    bucket = "bench-sdk"
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)

    def upload() -> None:
        client.fput_object(bucket, "object", str(path), part_size=PART_SIZE)

    def download() -> None:
        response = client.get_object(bucket, "object")
        try:
            for _ in response.stream(1 << 20):
                pass
        finally:
            response.close()
            response.release_conn()

    put_s = best(repeat, upload)
    get_s = best(repeat, download)
    client.remove_object(bucket, "object")
    return size / MB / put_s, size / MB / get_s


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="20,200", help="file sizes in MB")
    p.add_argument("--chunks", default="64,256,1024,4096", help="gRPC chunk sizes in KiB")
    p.add_argument("--backends", default="local,s3")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    sizes = [int(s) * MB for s in args.sizes.split(",")]
    chunks = [int(c) * 1024 for c in args.chunks.split(",")]
    backends = args.backends.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="vestry-bench-"))
    secret = secrets.token_hex(32)
    s3 = start_seaweedfs(workdir / "weed") if "s3" in backends else None
    print(f"cores: {os.cpu_count()}, repeat: best of {args.repeat}; MB = 10^6 bytes")
    print(f"{'size':>6} {'backend':>7} {'how':>16} {'put MB/s':>9} {'get MB/s':>9}")
    try:
        for size in sizes:
            path = workdir / f"file-{size}"
            sha256 = make_file(path, size)
            for backend in backends:
                if backend == "local":
                    base = cp_figures(path, workdir, size, args.repeat)
                    how = "cp (+sync)"
                else:
                    assert s3 is not None
                    base = sdk_figures(s3, path, size, args.repeat)
                    how = "MinIO SDK"
                label = f"{size // MB}MB"
                print(f"{label:>6} {backend:>7} {how:>16} {base[0]:9.0f} {base[1]:9.0f}")
                for chunk in chunks:
                    values: dict[str, Any] = {
                        "VESTRY_INTERNAL_SECRET": secret,
                        "backend": backend,
                        "path": str(workdir / f"store-{backend}"),
                        "chunk_size": chunk,
                    }
                    if s3 is not None:
                        values.update(
                            s3_endpoint=s3.endpoint,
                            s3_access_key=s3.access_key,
                            s3_secret_key=s3.secret_key,
                            s3_bucket="bench-vestry",
                        )
                    settings = StorageSettings(**values)
                    put_mbs, get_mbs = grpc_figures(
                        settings, path, sha256, size, chunk, args.repeat
                    )
                    how = f"gRPC {chunk // 1024}KiB"
                    print(f"{label:>6} {backend:>7} {how:>16} {put_mbs:9.0f} {get_mbs:9.0f}")
                sys.stdout.flush()
            path.unlink()
    finally:
        if s3 is not None:
            s3.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

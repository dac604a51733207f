"""Real peers to import from, started by the tests: pypiserver and devpi-server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import stop_gracefully
from tests.support.vestry_up import BIN, free_port


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s:\n{log.read_text(errors='replace')}")


@contextmanager
def pypiserver(packages: Path) -> Iterator[str]:
    """pypiserver serving `packages` without authentication; yields its /simple/ URL."""
    port = free_port()
    log = packages.parent / f"pypiserver-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".",
             "-P", ".", "--hash-algo", "sha256", str(packages)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait(f"http://127.0.0.1:{port}/simple/", proc, log)
            yield f"http://127.0.0.1:{port}/simple/"
        finally:
            stop_gracefully(proc)


@contextmanager
def devpi(root: Path, user: str, password: str) -> Iterator[str]:
    """devpi-server (offline) with index USER/dev; yields its base URL."""
    serverdir = root / "devpi"
    subprocess.run(
        [str(BIN / "devpi-init"), "--serverdir", str(serverdir), "--root-passwd", "root"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = root / f"devpi-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "devpi-server"), "--serverdir", str(serverdir), "--host", "127.0.0.1",
             "--port", str(port), "--offline-mode"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait(base + "/", proc, log, timeout=120)
            headers = {"Accept": "application/json"}
            r = httpx.put(f"{base}/{user}", json={"password": password}, headers=headers)
            assert r.is_success, r.text
            r = httpx.put(
                f"{base}/{user}/dev", json={"bases": []}, headers=headers, auth=(user, password)
            )
            assert r.is_success, r.text
            yield base
        finally:
            stop_gracefully(proc)

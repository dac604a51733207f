"""A real `vestry up` in a subprocess, on a free port and a temporary data directory."""

from __future__ import annotations

import os
import random
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

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A port that is free now, for a process this test starts next.

    Chosen below the kernel's ephemeral range (32768-60999 here), where servers binding port 0
    get theirs: a port handed out here can then never be taken meanwhile by a `:0` bind of a
    parallel test. Randomised so parallel workers rarely try the same one; bind-checked.
    """
    low, high = 20000, 32000
    for _ in range(100):
        port = random.randint(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


@dataclass
class RunningVestry:
    proc: subprocess.Popen[str]
    data_dir: Path
    port: int
    log_path: Path
    log_file: IO[str]
    scheme: str = "http"

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def upload_url(self) -> str:
        return f"{self.base}/legacy/"

    def index_url(self, token: str) -> str:
        return f"{self.scheme}://__token__:{token}@127.0.0.1:{self.port}/simple/"

    def create_user(self, name: str, admin: bool = False) -> str:
        args = [str(BIN / "vestry"), "admin", "create-user", name, "--data-dir", str(self.data_dir)]
        if admin:
            args.append("--admin")
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)
        return out.stdout.strip().splitlines()[-1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        """The log once it holds `text` (or after `timeout`): a process's line can follow the
        answer the client already has."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return log

    def stop(self) -> int:
        code = stop_gracefully(self.proc)
        self.log_file.close()
        return code


def start_vestry(
    data_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    args: tuple[str, ...] = (),
) -> RunningVestry:
    """`vestry up` with `args` (e.g. --tls-cert/--tls-key, which make it serve HTTPS).

    One gateway process unless `args` ask for more (--workers): a test's next request then
    meets the caches its last one filled, whichever connection it takes."""
    if "--workers" not in args:
        args = (*args, "--workers", "1")
    port = free_port()
    log_path = data_dir.parent / f"vestry-up-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [str(BIN / "vestry"), "up", "--data-dir", str(data_dir), "--port", str(port), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    tls = "--tls-cert" in args or "--tls" in args
    running = RunningVestry(proc, data_dir, port, log_path, log, "https" if tls else "http")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Vestry is running" in running.log():
            return running
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"vestry up exited {proc.returncode}:\n{running.log()}")
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"vestry up did not start in {timeout}s:\n{running.log()}")


def module_vestry(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> Iterator[RunningVestry]:
    """A module-scoped fixture's body: `vestry up` on a fresh data directory under `name`, with
    `env` added to its environment, which must exit 0 on SIGTERM afterwards."""
    running = start_vestry(tmp_path_factory.mktemp(name) / "data", env)
    yield running
    code = running.stop()
    assert code == 0, f"vestry up exited {code} on SIGTERM:\n{running.log()}"

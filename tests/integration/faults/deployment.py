"""The four processes of `vestry up` (SQLite, local disk, unix sockets in a private run dir, the
data directory's own secret), each started alone with `vestry serve` so that any one of them can
be killed, paused and restarted while the others run — `vestry up` itself stops every child when
one dies. Every process is started, signalled and stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.integration.cluster.cluster import create_user_token, grpc_serving, http_ok
from tests.support.processes import stop_gracefully
from tests.support.vestry_up import free_port
from vestry.common.datadir import DataDir
from vestry.common.epochs import AUTH, INDEX, bump_file_epochs
from vestry.services.auth.server import migrate_database as migrate_auth
from vestry.services.index.server import migrate_database as migrate_index

BIN = Path(sys.executable).parent
SERVICES = ("auth", "index", "storage")
PROCESSES = (*SERVICES, "gateway")
JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class Deployment:
    data: DataDir
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return self.env["VESTRY_INTERNAL_SECRET"]

    def address(self, name: str) -> str:
        return self.base + "/healthz" if name == "gateway" else self.data.socket(name)

    def log_text(self, name: str) -> str:
        self.logs[name].flush()
        return (self.data.root.parent / f"{name}.log").read_text(errors="replace")

    def start(self, name: str, timeout: float = 90) -> None:
        """Start `name` (again, after a kill: same socket or port) and wait until it serves."""
        assert name not in self.procs or self.procs[name].poll() is not None, f"{name} runs"
        if name not in self.logs:
            self.logs[name] = open(self.data.root.parent / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(BIN / "vestry"), "serve", name],
            env=self.env,
            stdout=self.logs[name],
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        self.starts[name] = self.starts.get(name, 0) + 1
        target = self.address(name)
        ready: Callable[[], bool] = (
            (lambda: http_ok(target)) if name == "gateway" else (lambda: grpc_serving(target))
        )
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}:\n{self.log_text(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready in {timeout}s:\n{self.log_text(name)}")
            time.sleep(0.05)

    def kill(self, name: str) -> int:
        """SIGKILL: no shutdown at all, in-flight calls and transactions die with it."""
        proc = self.procs[name]
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(30)

    def pause(self, name: str) -> None:
        os.kill(self.procs[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.kill(self.procs[name].pid, signal.SIGCONT)

    def forget_warm_answers(self) -> None:
        """Move both change epochs, as a write would: the gateway's warm answers (verified
        tokens, access decisions; gateway.warm) are no longer trusted, so the next request of
        each kind reaches the services again.

        While a service is down nothing can change, so a warm answer stays true and is served
        (docs/performance.md); a test of what the outage does to the calls that reach the
        service makes them cold first, or its answers would depend on what was read before.
        """
        bump_file_epochs(self.data.epochs, AUTH, INDEX)

    def stop(self) -> None:
        for name in reversed(PROCESSES):
            proc = self.procs.get(name)
            if proc is not None:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGCONT)  # a paused process cannot stop
                stop_gracefully(proc)
        for log in self.logs.values():
            log.close()

    def user_token(self, name: str) -> str:
        return create_user_token(self.data.socket("auth"), self.secret, name)


def start_deployment(workdir: Path, **env: str) -> Deployment:
    """All four processes on a fresh data directory, with these VESTRY_* overrides."""
    data = DataDir(workdir / "data")
    data.prepare()
    values = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VESTRY_")},
        **data.service_env(),
        "VESTRY_LOG_LEVEL": "WARNING",
        "VESTRY_GATEWAY_ACCESS_LOG": "false",
        "VESTRY_GATEWAY_HOST": "127.0.0.1",
        **env,
    }
    migrate_auth(values["VESTRY_AUTH_DATABASE_URL"])
    migrate_index(values["VESTRY_INDEX_DATABASE_URL"])
    deployment = Deployment(data, values, free_port())
    values["VESTRY_GATEWAY_PORT"] = str(deployment.port)
    try:
        for name in PROCESSES:
            deployment.start(name)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def fsck(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    """`vestry fsck` on the data directory, as an operator runs it after a crash."""
    return subprocess.run(
        [str(BIN / "vestry"), "fsck", "--data-dir", str(deployment.data.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=deployment.env,
    )


def listed_files(client: httpx.Client, base: str, token: str, project: str) -> dict[str, str]:
    """filename -> url of the project's files, from its PEP 691 page."""
    reply = client.get(
        f"{base}/simple/{project}/", auth=("__token__", token), headers={"Accept": JSON}
    )
    assert reply.status_code == 200, (project, reply.status_code, reply.text)
    return {f["filename"]: f["url"] for f in reply.json()["files"]}

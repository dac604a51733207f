"""A Vestry cluster on one machine: `vestry serve` replicas as OS processes, configured with the
very VESTRY_* variables docker-compose.yml gives each container (values adapted to loopback)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import yaml
from twine.package import PackageFile
from twine.repository import Repository
from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from tests.support.processes import stop_gracefully
from tests.support.vestry_up import free_port
from vestry.cli.healthcheck import check
from vestry.common.channels import internal_channel

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
BIN = Path(sys.executable).parent
SERVICES = ("auth", "index", "storage")
DEFAULT_PORTS = {"auth": 50051, "index": 50052, "storage": 50053}


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return services


def compose_env_names(service: str) -> set[str]:
    """The variables docker-compose.yml sets for `service` (merged anchors resolved)."""
    env = compose_services()[service].get("environment") or {}
    return set(env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))


def env_like_compose(service: str, values: dict[str, str]) -> dict[str, str]:
    """`service`'s compose variables, each given its local value; one the test has no value for
    fails loudly, so this test and docker-compose.yml cannot drift apart."""
    names = compose_env_names(service)
    missing = names - values.keys()
    assert not missing, f"no local value for {sorted(missing)} that compose sets on {service}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("VESTRY_")}
    return {**base, **{name: values[name] for name in names}}


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    address: str  # host:port (services) or base URL (gateways)
    log_path: Path
    log: IO[bytes]
    metrics: str  # host:port of its Prometheus endpoint

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def scrape(self) -> str:
        """Its /metrics page, as Prometheus would read it."""
        with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=10) as reply:
            text: str = reply.read().decode()
        return text

    def kill(self) -> int:
        """SIGKILL: no graceful shutdown, in-flight calls die with the process."""
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(30)

    def stop(self) -> int | None:
        code = stop_gracefully(self.popen)
        self.log.close()
        return code


def _wait(proc: Proc, ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited {proc.popen.returncode}:\n{proc.log_text()}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready in {timeout}s:\n{proc.log_text()}")


def grpc_serving(address: str) -> bool:
    return check(address, timeout=1) is None


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 - loopback
            return bool(reply.status == 200)
    except OSError:
        return False


@dataclass
class Cluster:
    workdir: Path
    values: dict[str, str]  # local value of every VESTRY_* variable compose sets
    procs: list[Proc] = field(default_factory=list)

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str], address: str, metrics: str
    ) -> Proc:
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed by Proc.stop
        popen = subprocess.Popen(
            [str(BIN / "vestry"), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        proc = Proc(name, popen, address, log_path, log, metrics)
        self.procs.append(proc)
        return proc

    def migrate(self, times: int = 1) -> list[subprocess.CompletedProcess[str]]:
        """Run `times` copies of `vestry migrate` at once, as racing replicas would."""
        env = env_like_compose("migrate", self.values)
        running = [
            subprocess.Popen(
                [str(BIN / "vestry"), "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(times)
        ]
        results = []
        for p in running:
            out, err = p.communicate(timeout=120)
            results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
        return results

    def start_service(self, service: str, replica: int, address: str = "") -> Proc:
        """Replica `replica` of `service`, on `address` (a free port when empty)."""
        address = address or f"127.0.0.1:{free_port()}"
        metrics = f"127.0.0.1:{free_port()}"
        values = {
            **self.values,
            f"VESTRY_{service.upper()}_LISTEN": address,
            "VESTRY_METRICS_LISTEN": metrics,
        }
        proc = self._spawn(
            f"{service}-{replica}",
            ["serve", service],
            env_like_compose(service, values),
            address,
            metrics,
        )
        _wait(proc, lambda: grpc_serving(address))
        return proc

    def start_gateway(self, name: str, addresses: dict[str, Iterable[Proc]]) -> Proc:
        """A gateway whose VESTRY_<SVC>_ADDRESS lists the given replicas (comma-separated)."""
        port = free_port()
        metrics = f"127.0.0.1:{free_port()}"
        values = {
            **self.values,
            "VESTRY_GATEWAY_HOST": "127.0.0.1",
            "VESTRY_GATEWAY_PORT": str(port),
            "VESTRY_METRICS_LISTEN": metrics,
            **{
                f"VESTRY_{svc.upper()}_ADDRESS": ",".join(p.address for p in procs)
                for svc, procs in addresses.items()
            },
        }
        base = f"http://127.0.0.1:{port}"
        proc = self._spawn(
            name, ["serve", "gateway"], env_like_compose("gateway", values), base, metrics
        )
        _wait(proc, lambda: http_ok(base + "/healthz"))
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def rpc(address: str, secret: str, call: Callable[[Any], Any]) -> Any:
    """One auth call over Vestry's internal channel (the admin path, no HTTP route needed)."""

    async def go() -> Any:
        channel = internal_channel(address, secret.encode())
        try:
            return await call(auth_pb2_grpc.AuthServiceStub(channel))
        finally:
            await channel.close()

    return asyncio.run(go())


def create_user_token(auth_address: str, secret: str, name: str) -> str:
    async def call(stub: Any) -> str:
        await stub.CreateUser(auth_pb2.CreateUserRequest(name=name))
        reply = await stub.MintToken(
            auth_pb2.MintTokenRequest(for_user=name, name=f"cluster test ({name})")
        )
        return str(reply.token)

    token: str = rpc(auth_address, secret, call)
    return token


def twine_form(path: Path) -> tuple[dict[str, list[str]], bytes]:
    """Exactly the multipart fields twine sends for `path` (twine's own code builds them)."""
    package = PackageFile.from_filename(str(path), None)
    fields: dict[str, list[str]] = {}
    for key, value in Repository._convert_metadata_to_list_of_tuples(package.metadata_dictionary()):
        fields.setdefault(key, []).append(value)
    fields[":action"] = ["file_upload"]
    fields["protocol_version"] = ["1"]
    return fields, path.read_bytes()


def upload(client: httpx.Client, base: str, token: str, path: Path) -> httpx.Response:
    fields, content = twine_form(path)
    return client.post(
        f"{base}/legacy/",
        data=fields,
        files={"content": (path.name, content, "application/octet-stream")},
        auth=("__token__", token),
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

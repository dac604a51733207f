"""`vestry up`: the whole index on one machine, as four supervised OS processes.

Children talk gRPC over unix sockets in a private directory. If any child dies, the supervisor
says which and stops the rest; SIGINT/SIGTERM stop every child and exit 0. No orphans: children
also get SIGTERM from the kernel if the supervisor itself is killed (cli.supervised).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

from vestry.cli.healthcheck import check
from vestry.cli.supervised import SUPERVISOR_PID
from vestry.common.datadir import DataDir
from vestry.common.listening import port_taken

SERVICES = ("auth", "index", "storage")


def _spawn(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # No preexec_fn: the child asks for PR_SET_PDEATHSIG itself (cli.supervised says why).
    return subprocess.Popen(
        [sys.executable, "-m", "vestry.cli.main", "serve", name],
        env={**env, SUPERVISOR_PID: str(os.getpid())},
    )


def _migrate(dd: DataDir) -> str | None:
    """Bring both databases up to date in a short-lived child; its output when it failed.

    Not in this process: the migration code (SQLAlchemy, Alembic, both services' models) would
    stay in the supervisor's memory for its whole life, and the supervisor needs none of it.
    """
    done = subprocess.run(
        [sys.executable, "-m", "vestry.cli.main", "migrate", "--data-dir", str(dd.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()


def _ready(target: str, deadline: float, sup: Supervisor, insecure_tls: bool = False) -> bool:
    """Wait for `target` (gRPC address or HTTP URL) to serve; give up early if a child died."""
    context = ssl._create_unverified_context() if insecure_tls else None  # noqa: S323
    while time.monotonic() < deadline and sup.dead_child() is None:
        if check(target, timeout=1, context=context) is None:
            return True
        time.sleep(0.1)
    return False


class Supervisor:
    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.children.values():
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def dead_child(self) -> tuple[str, int] | None:
        for name, proc in self.children.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None


def _metrics(dd: DataDir, listen: str, env: dict[str, str]) -> None:
    """Each process writes its metrics to files in one directory (prometheus_client's
    multiprocess mode); this supervisor serves them all, added up, on `listen`."""
    import shutil

    from vestry.common.metrics import serve_multiprocess_metrics

    directory = dd.root / "metrics"
    shutil.rmtree(directory, ignore_errors=True)  # counters start again with the processes
    directory.mkdir(mode=0o700)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    port = serve_multiprocess_metrics(listen, str(directory))
    host = listen.rpartition(":")[0] or "0.0.0.0"
    print(f"Metrics: http://{host}:{port}/metrics", flush=True)


def up(
    data_dir: Path,
    host: str,
    port: int,
    tls: tuple[Path, Path] | str | None = None,
    upstream: str | None = None,
    metrics: str = "",
    workers: int = 1,
) -> int:
    """Run everything; `tls` is (cert, key), "self-signed", or None for plain HTTP; `upstream`
    the index to proxy (VESTRY_UPSTREAM_URL), None for none; `metrics` a HOST:PORT serving all
    the processes' metrics, "" for none; `workers` how many gateway processes share the port."""
    if port and port_taken(host, port):
        # Said before anything starts; and with --workers the gateways' SO_REUSEPORT would
        # let a second `vestry up` share the port with the first, not fail.
        print(f"vestry: port {port} is in use", file=sys.stderr)
        return 1
    dd = DataDir(data_dir)
    dd.prepare()
    trust = ""
    if tls == "self-signed":
        from vestry.gateway.tls import self_signed

        made = self_signed(dd.root / "tls", host)
        tls, trust = (made.cert, made.key), str(made.ca)
    failed = _migrate(dd)
    if failed is not None:
        print(f"vestry: the databases could not be migrated:\n{failed}", file=sys.stderr)
        return 1
    env = {
        **os.environ,
        **dd.service_env(),
        "VESTRY_GATEWAY_HOST": host,
        "VESTRY_GATEWAY_PORT": str(port),
    }
    if isinstance(tls, tuple):
        env["VESTRY_GATEWAY_TLS_CERT"] = str(Path(tls[0]).resolve())
        env["VESTRY_GATEWAY_TLS_KEY"] = str(Path(tls[1]).resolve())
    if upstream is not None:
        env["VESTRY_UPSTREAM_URL"] = upstream
    # One HOST:PORT cannot serve four processes' metrics each: with --metrics the supervisor
    # serves them all, else none are exported.
    env.pop("VESTRY_METRICS_LISTEN", None)
    if metrics:
        _metrics(dd, metrics, env)
    sup = Supervisor()
    stop_requested = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for name in SERVICES:
            sup.children[name] = _spawn(name, env)
        deadline = time.monotonic() + 60
        for name in SERVICES:
            if not _ready(dd.socket(name), deadline, sup):
                dead = sup.dead_child()
                what = f"exited with status {dead[1]}" if dead else "did not become ready"
                print(
                    f"vestry: the {dead[0] if dead else name} service {what}; stopping",
                    file=sys.stderr,
                )
                return 1
        if workers > 1:
            # Each gateway binds the port with SO_REUSEPORT, the kernel spreads connections
            # over them; what they must share lives on disk: epochs (already), web sessions.
            env["VESTRY_GATEWAY_REUSE_PORT"] = "true"
            env["VESTRY_GATEWAY_SESSION_FILE"] = str(dd.web_sessions.resolve())
        for i in range(1, workers + 1):
            sup.children["gateway" if i == 1 else f"gateway-{i}"] = _spawn("gateway", env)
        url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        base = f"{'https' if tls else 'http'}://{url_host}:{port}"
        # Liveness on loopback, not trust: the certificate may name another host.
        if not _ready(f"{base}/healthz", deadline, sup, insecure_tls=bool(tls)):
            dead = sup.dead_child()
            # Which process, and how (a negative status is the signal that killed it).
            what = (
                f"the {dead[0]} process exited with status {dead[1]}"
                if dead
                else "the gateway did not become ready"
            )
            print(f"vestry: {what}; stopping", file=sys.stderr)
            return 1
        if trust:
            from vestry.gateway.tls import trust_hint

            print(trust_hint(Path(trust), f"{base}/simple/"), flush=True)
        print(
            f"Vestry is running: index URL {base}/simple/ , upload URL {base}/legacy/", flush=True
        )
        print(f"Data directory: {dd.root.resolve()}", flush=True)
        print(
            "First token: vestry admin create-user NAME --admin "
            f"--data-dir {dd.root}  (the token is printed on the last line)",
            flush=True,
        )
        while not stop_requested:
            dead = sup.dead_child()
            if dead is not None:
                print(
                    f"vestry: the {dead[0]} process exited with status {dead[1]}; "
                    "stopping the others",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(0.2)
        print("vestry: stopping", flush=True)
        return 0
    finally:
        sup.stop()

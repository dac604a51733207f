"""`vestry up` as a supervisor: clean stops, no orphans, a dead child stops the rest."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.vestry_up import BIN, free_port, start_vestry
from tests.support.web import sign_in
from vestry.cli import up
from vestry.cli.supervised import SUPERVISOR_PID

pytestmark = pytest.mark.e2e


def _children(pid: int) -> dict[int, str]:
    """{pid: command line} of the direct children of `pid`, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            found[int(entry)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_sigint_stops_every_child_and_exits_zero(tmp_path: Path) -> None:
    # A metrics address in the environment (say, from a compose .env) is not handed to all
    # four children, which could not share one port.
    running = start_vestry(
        tmp_path / "data",
        env={"VESTRY_METRICS_LISTEN": f"127.0.0.1:{free_port()}"},
        args=("--workers", "2"),
    )
    children = _children(running.proc.pid)
    assert sorted(c.split(" serve ")[-1].strip() for c in children.values()) == [
        "auth",
        "gateway",
        "gateway",
        "index",
        "storage",
    ]
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(30) == 0
    running.stop()
    assert _wait_gone(list(children)) == []


def test_a_dead_child_is_named_and_the_rest_are_stopped(tmp_path: Path) -> None:
    running = start_vestry(tmp_path / "data")
    children = _children(running.proc.pid)
    index_pid = next(p for p, c in children.items() if c.rstrip().endswith("serve index"))
    os.kill(index_pid, signal.SIGKILL)
    code = running.proc.wait(30)
    running.stop()
    assert code != 0
    assert "the index process exited" in running.log()
    assert _wait_gone(list(children)) == []


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    # SIGKILL leaves the supervisor no chance to stop anyone: the kernel must (cli.supervised).
    running = start_vestry(tmp_path / "data")
    children = _children(running.proc.pid)
    os.kill(running.proc.pid, signal.SIGKILL)
    running.proc.wait(30)
    running.stop()
    assert _wait_gone(list(children)) == []


def test_a_child_whose_supervisor_is_gone_does_not_start(tmp_path: Path) -> None:
    # Re-parented before it could ask for PR_SET_PDEATHSIG: nobody would ever stop it.
    done = subprocess.run(
        [sys.executable, "-m", "vestry.cli.main", "serve", "storage"],
        env={**os.environ, SUPERVISOR_PID: "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "the supervisor (PID 1) is gone; not starting" in done.stderr


def test_children_are_started_without_a_fork_of_the_supervisor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A preexec_fn forks the supervisor, threads and all; gRPC's fork handlers then sometimes
    # abort the child (SIGABRT, "epoll_wait error: Bad file descriptor"; 24 of 300 starts in a
    # process with a gRPC server and client). Without one, CPython uses vfork/posix_spawn.
    seen: dict[str, object] = {}

    def popen(args: list[str], **kwargs: object) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(up.subprocess, "Popen", popen)
    up._spawn("gateway", {"PATH": "/usr/bin"})
    assert seen.get("preexec_fn") is None
    assert seen["env"] == {"PATH": "/usr/bin", SUPERVISOR_PID: str(os.getpid())}


def test_gateway_workers_share_the_port_and_the_web_sessions(tmp_path: Path) -> None:
    running = start_vestry(tmp_path / "data", args=("--workers", "2"))
    try:
        token = running.create_user("alice", admin=True)
        with httpx.Client(base_url=running.base) as c:
            assert sign_in(c, token).status_code == 303
            cookies = {"vestry_session": c.cookies["vestry_session"]}
        # A connection each: the kernel spreads them over both gateways (SO_REUSEPORT), and
        # each gateway knows the session. Were sessions a process's own, about half would
        # come back anonymous; all 24 landing on the same gateway has odds of 1 in 2**23.
        for _ in range(24):
            home = httpx.get(f"{running.base}/", cookies=cookies)
            assert "Signed in as <strong>alice</strong>" in home.text
        # Another `vestry up` on that port would share it too, were it let: it is refused.
        other = [str(tmp_path / "other"), "--port", str(running.port), "--workers", "2"]
        again = subprocess.run(
            [str(BIN / "vestry"), "up", "--data-dir", *other],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 1
        assert f"port {running.port} is in use" in again.stderr
    finally:
        running.stop()


def test_secrets_and_sockets_are_private(tmp_path: Path) -> None:
    running = start_vestry(tmp_path / "data")
    try:
        data = running.data_dir
        assert stat.S_IMODE((data / "secrets.json").stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "run").stat().st_mode) == 0o700
        for sock in ("auth", "index", "storage"):
            mode = stat.S_IMODE((data / "run" / f"{sock}.sock").stat().st_mode)
            assert mode & 0o077 == 0, f"{sock}.sock is accessible to others: {oct(mode)}"
    finally:
        assert running.stop() == 0

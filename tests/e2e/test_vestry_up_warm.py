"""Warm reads on one machine: `vestry up`, and a second gateway (`vestry serve gateway`) on the
same data directory. A change made through one gateway is refused through the other on the
very next request, while reads keep both gateways' caches hot: the change epochs in the data
directory's run dir are shared by every process of it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import stop_gracefully
from tests.support.vestry_up import BIN, free_port, start_vestry
from tests.support.warm_reads import prove_changes_are_refused_at_once
from vestry.common.datadir import DataDir

pytestmark = pytest.mark.e2e


def _second_gateway(data_dir: Path, port: int, metrics: int, log: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **DataDir(data_dir).service_env(),
        "VESTRY_GATEWAY_PORT": str(port),
        "VESTRY_METRICS_LISTEN": f"127.0.0.1:{metrics}",
        "VESTRY_LOG_LEVEL": "WARNING",
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(BIN / "vestry"), "serve", "gateway"],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop_gracefully(proc)
    raise RuntimeError(f"the second gateway did not start:\n{log.read_text()}")


def test_changes_through_one_gateway_are_refused_through_the_other_at_once(
    tmp_path: Path,
) -> None:
    vestry = start_vestry(tmp_path / "data")
    try:
        owner = vestry.create_user("alice")
        member = vestry.create_user("bob")
        port, metrics = free_port(), free_port()
        second = _second_gateway(vestry.data_dir, port, metrics, tmp_path / "gateway-2.log")
        try:
            dist = tmp_path / "dist"
            dist.mkdir()
            prove_changes_are_refused_at_once(
                vestry.base,
                f"http://127.0.0.1:{port}",
                owner,
                ("bob", member),
                dist,
                lambda: httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).text,
            )
        finally:
            # uvicorn ends by re-raising the SIGTERM it handled.
            assert stop_gracefully(second) in (0, -signal.SIGTERM)
    finally:
        assert vestry.stop() == 0

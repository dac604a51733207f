"""`vestry up --metrics HOST:PORT`: one Prometheus endpoint for all four processes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.vestry_up import free_port, start_vestry

pytestmark = pytest.mark.e2e


def test_up_serves_every_process_metrics_on_one_port(tmp_path: Path) -> None:
    port = free_port()
    vestry = start_vestry(tmp_path / "data", args=("--metrics", f"127.0.0.1:{port}"))
    try:
        assert f"Metrics: http://127.0.0.1:{port}/metrics" in vestry.log()
        token = vestry.create_user("alice")
        assert httpx.get(f"{vestry.base}/simple/", auth=("__token__", token)).status_code == 200
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            if "vestry_http_requests_total" in text and "VerifyToken" in text:
                break
            time.sleep(0.2)
        assert "vestry_http_requests_total" in text  # the gateway's
        assert 'grpc_method="VerifyToken"' in text  # auth's
        assert 'grpc_method="ListProjects"' in text  # the index's
    finally:
        assert vestry.stop() == 0

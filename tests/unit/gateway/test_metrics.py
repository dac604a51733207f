"""The gateway's HTTP metrics: every answer counted by route template, errors included."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from gateway.errors import install_error_handlers
from gateway.metrics import HTTPMetrics


def _count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "vestry_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def test_answers_are_counted_by_route_template_and_status() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(HTTPMetrics)

    @app.get("/things/{name}/")
    async def thing(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    before = {
        "ok": _count("GET", "/things/{name}/", "200"),
        "missing": _count("GET", "unmatched", "404"),
        "broken": _count("GET", "/broken", "500"),
        "head": _count("other", "unmatched", "404"),
    }
    client = TestClient(app, raise_server_exceptions=False)
    for name in ("secret-project", "other-project"):
        assert client.get(f"/things/{name}/").status_code == 200
    assert client.get("/nowhere").status_code == 404
    assert client.get("/broken").status_code == 500
    assert client.request("BREW", "/pot").status_code == 404

    assert _count("GET", "/things/{name}/", "200") - before["ok"] == 2
    assert _count("GET", "unmatched", "404") - before["missing"] == 1
    assert _count("GET", "/broken", "500") - before["broken"] == 1
    assert _count("other", "unmatched", "404") - before["head"] == 1  # methods stay a fixed set
    seconds = REGISTRY.get_sample_value(
        "vestry_http_request_seconds_count", {"method": "GET", "route": "/things/{name}/"}
    )
    assert seconds is not None and seconds >= 2
    exported = "\n".join(
        str(sample.labels) for family in REGISTRY.collect() for sample in family.samples
    )
    assert "secret-project" not in exported  # a path never becomes a label

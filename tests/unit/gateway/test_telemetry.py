"""The gateway's telemetry: every answer counted by route template and logged, errors included."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from vestry.gateway.errors import install_error_handlers
from vestry.gateway.telemetry import RequestTelemetry, note_caller


def _count(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "vestry_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def test_answers_are_counted_by_route_template_and_status() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestTelemetry)

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


def test_one_access_line_per_request_with_the_caller_and_never_a_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_middleware(RequestTelemetry)

    @app.get("/mine/{name}")
    async def mine(request: Request, name: str) -> dict[str, str]:
        note_caller(request, "alice", "token-id-1")
        return {"name": name}

    client = TestClient(app)
    with caplog.at_level(logging.INFO, logger="vestry.access"):
        client.get("/mine/lib?secret=1")
        client.delete("/api/v1/tokens/vestry-AgEGdmVzdHJ5AiQy_-x")
        client.get("/mine/x%0A1.2.3.4 GET /forged 200")
    first, second, third = (r.getMessage() for r in caplog.records if r.name == "vestry.access")
    assert " GET /mine/lib 200 " in first and first.endswith("user=alice token=token-id-1")
    assert "secret" not in first  # no query strings
    assert " DELETE /api/v1/tokens/vestry-<redacted> 404 " in second
    assert "AgEG" not in second and second.endswith("user=- token=-")
    # Logged as sent, percent-encoded: a decoded newline would have forged a second line.
    assert "\n" not in third
    assert " GET /mine/x%0A1.2.3.4%20GET%20/forged%20200 404 " in third


def test_the_access_log_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.add_middleware(RequestTelemetry, access_log_enabled=False)
    with caplog.at_level(logging.INFO, logger="vestry.access"):
        TestClient(app).get("/anything")
    assert not [r for r in caplog.records if r.name == "vestry.access"]


def test_the_access_log_follows_its_logger_s_configuration() -> None:
    """The line is handed to logger `vestry.access` as `info()` would hand it: its level,
    filters, handlers and propagation apply, and the record says where it came from."""
    app = FastAPI()
    app.add_middleware(RequestTelemetry)
    logger = logging.getLogger("vestry.access")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]

    def skip(record: logging.LogRecord) -> bool:
        return "/skip" not in record.getMessage()

    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.addFilter(skip)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        client = TestClient(app)
        client.get("/kept")
        client.get("/skip")
        logger.setLevel(logging.WARNING)
        client.get("/quiet")
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(skip)
        logger.level, logger.propagate = saved
    assert [" GET /kept 404 " in r.getMessage() for r in records] == [True]
    (record,) = records
    assert (record.name, record.levelname, record.funcName) == ("vestry.access", "INFO", "_log")
    assert record.pathname.endswith("telemetry.py")

"""Bad JSON bodies and query values on the management API: a 422 naming the problem, never a
500 (FastAPI's own answer echoes the input, and NaN or Infinity cannot be written back as JSON)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vestry.gateway.app import create_app
from vestry.gateway.settings import GatewaySettings


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Not entered: no lifespan, no backends. Validation answers before any route body runs.
    app = create_app(GatewaySettings(VESTRY_INTERNAL_SECRET="s" * 32))  # type: ignore[call-arg]
    return TestClient(app, raise_server_exceptions=False)


BODIES = [
    '{"visibility": NaN}',
    '{"visibility": Infinity}',
    '{"visibility": -Infinity}',
    '{"visibility": 1e400}',
    '{"visibility": 123456789012345678901234567890}',
    '{"visibility": ["' + "x" * 100_000 + '"]}',
    "[NaN]",
    "NaN",
]
# (method, path, the body's fields)
ROUTES = [
    ("PUT", "/api/v1/projects/p/visibility", ("visibility",)),
    ("PUT", "/api/v1/projects/p/status", ("status", "reason")),
    ("POST", "/api/v1/projects/p/yank", ("version", "filename", "reason")),
    ("POST", "/api/v1/projects/p/unyank", ("version", "filename")),
    ("PUT", "/api/v1/projects/p/members/u", ("role",)),
    ("POST", "/api/v1/orgs", ("name",)),
    ("POST", "/api/v1/orgs/o/teams", ("name",)),
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize(("method", "path", "fields"), ROUTES)
def test_non_finite_and_absurd_json_is_a_422(
    client: TestClient, method: str, path: str, fields: tuple[str, ...], body: str
) -> None:
    # Every field of every body, given a number that JSON cannot hold or cannot echo.
    key = body.split('"')[1] if body.startswith('{"') else ""
    for field in fields:
        sent = body.replace(f'"{key}"', f'"{field}"') if key else body
        r = client.request(method, path, content=sent, headers={"content-type": "application/json"})
        assert r.status_code in (400, 422), (field, r.status_code, r.text)
        assert r.text.startswith(("invalid request: ", "There was an error parsing the body"))
        assert len(r.text) < 2000 and "NaN" not in r.text and "x" * 100 not in r.text


@pytest.mark.parametrize("limit", ["nan", "inf", "1e400", "9" * 5000, "-1"])
def test_absurd_query_numbers_are_a_422(client: TestClient, limit: str) -> None:
    r = client.get("/api/v1/events", params={"limit": limit})
    assert r.status_code == 422
    assert r.text.startswith("invalid request: query.limit: ") and "9" * 100 not in r.text

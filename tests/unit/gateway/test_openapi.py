"""The gateway's OpenAPI description is valid OpenAPI: one operationId per operation."""

from __future__ import annotations

from collections import Counter

from vestry.gateway.app import create_app
from vestry.gateway.settings import GatewaySettings


def test_operation_ids_are_unique() -> None:
    # filterwarnings = error: FastAPI's "Duplicate Operation ID" warning would fail this too.
    app = create_app(GatewaySettings(VESTRY_INTERNAL_SECRET="x" * 64))  # type: ignore[call-arg]
    paths = app.openapi()["paths"]
    ids = Counter(op["operationId"] for ops in paths.values() for op in ops.values())
    assert ids and max(ids.values()) == 1, ids
    assert paths["/simple/"].keys() == {"get"}  # HEAD goes wherever GET does
    assert ids["root_simple__get"] == 1

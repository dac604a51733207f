"""`/api/docs`: Swagger UI from Vestry's own static files, and an OpenAPI description that
declares how to sign in (Basic with `__token__`, or Bearer), so that "Authorize" appears."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

__all__ = ["DOCS_HTML", "SECURITY_SCHEMES", "install_docs"]

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "tokenBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "User name `__token__`, password an API token (`vestry-…`): as pip, "
        "twine and uv send it.",
    },
    "tokenBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "vestry-…",
        "description": "An API token as `Authorization: Bearer vestry-…`.",
    },
}

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vestry API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def describe_sign_in(schema: dict[str, Any]) -> dict[str, Any]:
    """The API's OpenAPI description with its sign-in schemes, so the docs page can Authorize."""
    schema.setdefault("info", {})["description"] = (
        "Vestry's management API. Sign in with an API token: "
        "**Authorize**, then Basic (`__token__` and the token) or Bearer."
    )
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    # Either scheme, or none (public projects are readable anonymously).
    schema["security"] = [{"tokenBasic": []}, {"tokenBearer": []}, {}]
    return schema


def install_docs(app: FastAPI) -> None:
    """Serve the docs page (the app's OpenAPI description goes through `describe_sign_in`).

    The app must be created with `docs_url=None`: this page replaces FastAPI's, which loads
    its scripts from a CDN and runs an inline one."""

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

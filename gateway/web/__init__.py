"""The web UI: server-rendered pages at PyPI's paths, token sign-in, the token page, the API docs.

`install_web(app, settings)` adds all of it to the gateway's app: routes, static files (CSS and
a packaged Swagger UI: nothing comes from elsewhere) and the session store. Its pages carry
their own Content-Security-Policy (security_headers.WEB_PAGE_HEADERS); the gateway's
SecurityHeaders wrapper adds the rest to every answer.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from vestry.gateway.settings import GatewaySettings
from vestry.gateway.web import account, pages
from vestry.gateway.web.docs import install_docs
from vestry.gateway.web.sessions import Signer, session_store

__all__ = ["install_web"]

STATIC = Path(__file__).parent / "static"


def install_web(app: FastAPI, settings: GatewaySettings) -> None:
    app.state.web_signer = Signer(settings.secret_bytes)
    app.state.web_sessions = session_store(settings.session_redis_url, settings.session_file)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(account.router)

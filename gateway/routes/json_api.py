"""`GET /pypi/<project>/json` and `/pypi/<project>/<version>/json`: the same access rules and the
same single GetProjectPage call as the simple API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway import json_api
from gateway.backends import Backends
from gateway.conditional import READ_METHODS, page_response
from gateway.errors import HTTPError
from gateway.identity import identify
from gateway.routes.simple import project_page

router = APIRouter()
_JSON = "application/json"


def _base(request: Request) -> str:
    # Absolute URLs, as PyPI gives: JSON API clients do not resolve relative ones.
    return str(request.base_url).rstrip("/")


@router.api_route("/pypi/{project}/json", methods=READ_METHODS)
async def project_json(request: Request, project: str) -> Response:
    backends: Backends = request.app.state.backends
    who = await identify(request, backends)
    page = await project_page(request, who, project)
    body = json_api.project_document(_base(request), page)
    return page_response(
        request,
        body,
        _JSON,
        serial=page.project.last_serial,
        private=page.project.visibility != "public",
        vary="Authorization",
    )


@router.api_route("/pypi/{project}/{version}/json", methods=READ_METHODS)
async def release_json(request: Request, project: str, version: str) -> Response:
    backends: Backends = request.app.state.backends
    who = await identify(request, backends)
    page = await project_page(request, who, project)
    try:
        body = json_api.release_document(_base(request), page, version)
    except json_api.VersionNotFound as exc:
        raise HTTPError(404, f"{page.project.name} has no release {version[:100]!r}") from exc
    return page_response(
        request,
        body,
        _JSON,
        serial=page.project.last_serial,
        private=page.project.visibility != "public",
        vary="Authorization",
    )

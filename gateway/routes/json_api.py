"""`GET /pypi/<project>/json` and `/pypi/<project>/<version>/json`: the same access rules, the
same GetProjectPage call and the same page cache as the simple API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from packaging.utils import canonicalize_name
from vestry.index.v1 import index_pb2

from vestry.gateway import json_api
from vestry.gateway.backends import backends_of
from vestry.gateway.conditional import READ_METHODS
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import identify
from vestry.gateway.routes.simple import cached_page
from vestry.gateway.upstream import proxy as upstream_proxy

router = APIRouter()
_JSON = "application/json"


def _base(request: Request) -> str:
    # Absolute URLs, as PyPI gives: JSON API clients do not resolve relative ones.
    return str(request.base_url).rstrip("/")


def _key(request: Request, project: str) -> str:
    # The documents carry absolute URLs, so the origin the client used is part of the key.
    return f"pypi-json {_base(request)} {canonicalize_name(project)}"


@router.api_route("/pypi/{project}/json", methods=READ_METHODS)
async def project_json(request: Request, project: str) -> Response:
    who = await identify(request, backends_of(request))
    base = _base(request)
    proxied = await upstream_proxy.json_document(request, who, canonicalize_name(project))
    if proxied is not None:
        return proxied
    return await cached_page(
        request,
        who,
        project,
        key=_key(request, project),
        variant="project",
        content_type=_JSON,
        render=lambda page: json_api.project_document(base, page),
        vary="Accept-Encoding, Authorization",
    )


@router.api_route("/pypi/{project}/{version}/json", methods=READ_METHODS)
async def release_json(request: Request, project: str, version: str) -> Response:
    who = await identify(request, backends_of(request))
    base = _base(request)

    def render(page: index_pb2.ProjectPage) -> bytes:
        try:
            return json_api.release_document(base, page, version)
        except json_api.VersionNotFound as exc:
            name = page.project.name
            raise HTTPError(404, f"{name} has no release {version[:100]!r}") from exc

    return await cached_page(
        request,
        who,
        project,
        key=_key(request, project),
        variant=f"release {version}",
        content_type=_JSON,
        render=render,
        vary="Accept-Encoding, Authorization",
    )

"""The simple repository API: PEP 503 HTML and PEP 691 JSON, negotiated."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from packaging.utils import canonicalize_name
from vestry.index.v1 import index_pb2

from gateway import simple_render
from gateway.backends import Backends
from gateway.conditional import page_response
from gateway.errors import HTTPError
from gateway.identity import Identity, identify
from gateway.negotiation import HTML, JSON, choose

router = APIRouter()


def _backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def _answer(request: Request, body: bytes, media: str, serial: int, private: bool) -> Response:
    content_type = media if media != HTML else "text/html; charset=utf-8"
    return page_response(request, body, content_type, serial=serial, private=private)


def _media(request: Request) -> str:
    media = choose(request.headers.get("accept"))
    if media is None:
        raise HTTPError(406, f"none of the requested types can be served; use {JSON} or {HTML}")
    return media


@router.get("/simple", include_in_schema=False)
async def root_no_slash() -> Response:
    return RedirectResponse("/simple/", status_code=301)


@router.get("/simple/")
async def root(request: Request) -> Response:
    media = _media(request)
    backends = _backends(request)
    who = await identify(request, backends)
    reply = await backends.index.ListProjects(
        index_pb2.ListProjectsRequest(caller=who.caller), timeout=backends.timeout
    )
    projects = list(reply.projects)
    body = (
        simple_render.root_json(projects, reply.global_serial)
        if media == JSON
        else simple_render.root_html(projects)
    )
    return _answer(request, body, media, reply.global_serial, private=who.authenticated)


async def project_page(request: Request, who: Identity, name: str) -> index_pb2.ProjectPage:
    backends = _backends(request)
    page: index_pb2.ProjectPage = await backends.index.GetProjectPage(
        index_pb2.GetProjectPageRequest(caller=who.caller, name=name), timeout=backends.timeout
    )
    return page


@router.get("/simple/{project}/")
async def project(request: Request, project: str) -> Response:
    normalized = canonicalize_name(project)
    if normalized != project:
        return RedirectResponse(f"/simple/{normalized}/", status_code=301)
    media = _media(request)
    who = await identify(request, _backends(request))
    page = await project_page(request, who, normalized)
    body = simple_render.project_json(page) if media == JSON else simple_render.project_html(page)
    private = page.project.visibility != "public"
    return _answer(request, body, media, page.project.last_serial, private)


@router.get("/simple/{project}", include_in_schema=False)
async def project_no_slash(project: str) -> Response:
    return RedirectResponse(f"/simple/{canonicalize_name(project)}/", status_code=301)

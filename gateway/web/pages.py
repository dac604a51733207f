"""The pages a person browses, at PyPI's paths: `/`, `/search/?q=`, `/project/<name>/`,
`/project/<name>/<version>/`, `/org/<name>/`.

Every page asks the index with the viewer's caller, as the simple API does, so the index alone
decides what is shown: anonymous visitors see public projects only, and a project the viewer
may not read is a 404 page, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from packaging.utils import canonicalize_name
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import backends_of
from vestry.gateway.conditional import READ_METHODS
from vestry.gateway.json_api import latest_release
from vestry.gateway.simple_render import listed_files, sorted_versions, yank_state
from vestry.gateway.web.context import Viewer, viewer
from vestry.gateway.web.render import html_page, http_url, readme_html

__all__ = ["PAGE_SIZE", "not_found", "router"]

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
PAGE_SIZE = 50
# What the index answers for a project this viewer may not read: all of them are "not found".
_HIDDEN = (
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
)


async def _unless_hidden(call: Awaitable[T]) -> T | None:
    """The call's answer; None when the index says the viewer may not see it."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() in _HIDDEN:
            return None
        raise


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def not_found(request: Request, v: Viewer, message: str) -> Response:
    return html_page(
        request, v, "not_found.html", {"message": message, "path": request.url.path}, status=404
    )


async def _visible_projects(request: Request, v: Viewer) -> list[index_pb2.ProjectSummary]:
    backends = backends_of(request)
    reply = await backends.index.ListProjects(
        index_pb2.ListProjectsRequest(caller=v.who.caller), timeout=backends.timeout
    )
    return list(reply.projects)


def _listing(projects: list[Any], page: int, query: str) -> dict[str, Any]:
    start = (page - 1) * PAGE_SIZE
    return {
        "projects": projects[start : start + PAGE_SIZE],
        "total": len(projects),
        "page": page,
        "more": start + PAGE_SIZE < len(projects),
        "query": query,
    }


@router.api_route("/", methods=READ_METHODS)
async def home(request: Request, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    v = await viewer(request)
    projects = await _visible_projects(request, v)
    context = {"base": base_url(request), **_listing(projects, page, "")}
    return html_page(request, v, "home.html", context)


def matches(query: str, project: index_pb2.ProjectSummary) -> bool:
    """Substring match on the normalised name (so `my_lib`, `My.Lib` and `my-lib` are one)."""
    wanted = canonicalize_name(query.strip())
    return bool(wanted) and wanted in project.normalized_name


@router.api_route("/search/", methods=READ_METHODS)
async def search(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    v = await viewer(request)
    projects = [p for p in await _visible_projects(request, v) if matches(q, p)]
    # An exact name first, as PyPI does.
    exact = canonicalize_name(q.strip())
    projects.sort(key=lambda p: (p.normalized_name != exact, p.normalized_name))
    return html_page(request, v, "search.html", _listing(projects, page, q))


@router.api_route("/search", methods=READ_METHODS)
async def search_no_slash(request: Request) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/search/{query}", status_code=301)


def _links(release: index_pb2.Release) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if url := http_url(release.home_page):
        links.append(("Homepage", url))
    for label, raw in sorted(release.project_urls.items()):
        if url := http_url(raw):
            links.append((label, url))
    return links


async def _project(request: Request, name: str, version: str | None) -> Response:
    v = await viewer(request)
    backends = backends_of(request)
    try:
        page = await backends.index.GetProjectPage(
            index_pb2.GetProjectPageRequest(caller=v.who.caller, name=name),
            timeout=backends.timeout,
        )
        detail = await backends.index.GetProject(
            index_pb2.ProjectRequest(caller=v.who.caller, name=name), timeout=backends.timeout
        )
        counts = await backends.index.GetDownloadCounts(
            index_pb2.ProjectRequest(caller=v.who.caller, name=name), timeout=backends.timeout
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in _HIDDEN:
            return not_found(request, v, f"There is no project {name!r} that you can see.")
        raise
    latest = latest_release(page)
    release = latest
    if version is not None:
        release = next((r for r in page.releases if r.version == version), None)
        if release is None:
            return not_found(request, v, f"{page.project.name} has no release {version!r}.")
    releases = {r.version: r for r in page.releases}
    files = [f for f in listed_files(page) if release and f.version == release.version]
    yanks = yank_state(page, files)
    context = {
        "base": base_url(request),
        "project": page.project,
        "organization": detail.organization,
        "origin": "",  # an upstream's name, once proxied projects exist
        "release": release,
        "latest": release is latest,
        "versions": [releases[ver] for ver in reversed(sorted_versions(page))],
        "files": [
            {
                "filename": f.filename,
                "size": f.size,
                "sha256": f.sha256,
                "upload_time": f.upload_time if f.HasField("upload_time") else None,
                "yanked": yanks[f.filename][0],
            }
            for f in sorted(files, key=lambda f: f.filename)
        ],
        "downloads": {c.filename: c.count for c in counts.files},
        "downloads_total": counts.total,
        "readme": readme_html(release.description, release.description_content_type)
        if release
        else "",
        "links": _links(release) if release else [],
    }
    return html_page(request, v, "project.html", context)


@router.api_route("/project/{name}/", methods=READ_METHODS)
async def project(request: Request, name: str) -> Response:
    normalized = canonicalize_name(name)
    if normalized != name:
        return RedirectResponse(f"/project/{normalized}/", status_code=301)
    return await _project(request, name, None)


@router.api_route("/project/{name}/{version}/", methods=READ_METHODS)
async def project_version(request: Request, name: str, version: str) -> Response:
    normalized = canonicalize_name(name)
    if normalized != name:
        return RedirectResponse(f"/project/{normalized}/{version}/", status_code=301)
    return await _project(request, name, version)


@router.api_route("/project/{name}", methods=READ_METHODS)
async def project_no_slash(name: str) -> Response:
    return RedirectResponse(f"/project/{canonicalize_name(name)}/", status_code=301)


@router.api_route("/org/{name}/", methods=READ_METHODS)
async def organization(request: Request, name: str) -> Response:
    v = await viewer(request)
    backends = backends_of(request)
    call = backends.index.GetOrganization(
        index_pb2.OrganizationRequest(caller=v.who.caller, name=name), timeout=backends.timeout
    )
    if (org := await _unless_hidden(call)) is None:
        return not_found(request, v, f"There is no organisation {name!r} that you can see.")
    return html_page(request, v, "org.html", {"org": org})

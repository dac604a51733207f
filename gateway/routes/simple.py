"""The simple repository API: PEP 503 HTML and PEP 691 JSON, negotiated."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from packaging.utils import canonicalize_name
from vestry.index.v1 import index_pb2

from vestry.common.vocabulary import Visibility
from vestry.gateway import simple_render
from vestry.gateway.backends import backends_of
from vestry.gateway.compression import encoded_body
from vestry.gateway.conditional import PAGE_VARY, READ_METHODS, page_response
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import Identity, identify
from vestry.gateway.negotiation import HTML, JSON, choose
from vestry.gateway.page_cache import PageCache, body_etag
from vestry.gateway.upstream import proxy as upstream_proxy
from vestry.gateway.warm import index_answer, keep_header

router = APIRouter()


def content_type(media: str) -> str:
    return media if media != HTML else "text/html; charset=utf-8"


def _media(request: Request) -> str:
    media = choose(request.headers.get("accept"))
    if media is None:
        raise HTTPError(406, f"none of the requested types can be served; use {JSON} or {HTML}")
    return media


@router.api_route("/simple", methods=READ_METHODS, include_in_schema=False)
async def root_no_slash() -> Response:
    return RedirectResponse("/simple/", status_code=301)


def listing_key(who: Identity) -> str:
    """Everything a listing depends on besides the index's state (which the serial covers):
    the caller, serialised (gateway.hot keys it the same way)."""
    return who.key.hex()


@router.api_route("/simple/", methods=READ_METHODS)
async def root(request: Request) -> Response:
    media = _media(request)
    backends = backends_of(request)
    cache: PageCache = request.app.state.listing_cache
    who = await identify(request, backends)
    key = listing_key(who)
    known = cache.serial(key)

    def listing() -> Awaitable[index_pb2.ListProjectsResponse]:
        return backends.index.ListProjects(
            index_pb2.ListProjectsRequest(caller=who.caller, known_serial=known),
            timeout=backends.timeout,
        )

    # Only "unchanged" answers are kept: a header-sized reply, while the body is in `cache`.
    reply = await index_answer(
        request, lambda w: w.listings, (who.key, known), listing, keep=lambda r: r.unchanged
    )
    # Held under the global serial, so that no change is missed; shown is the serial of what
    # this caller can see, so that a private project's activity never moves it.
    serial = reply.global_serial
    hit = cache.lookup(key, "", serial, media)
    shown = cache.shown(key)
    if hit is None:
        if reply.unchanged:  # held in the other format only: fetch the listing once
            reply = await backends.index.ListProjects(
                index_pb2.ListProjectsRequest(caller=who.caller), timeout=backends.timeout
            )
            serial = reply.global_serial
        projects = list(reply.projects)
        shown = max((p.last_serial for p in projects), default=0)
        header = index_pb2.ListProjectsResponse(global_serial=serial, unchanged=True)
        await keep_header(request, lambda w: w.listings, (who.key, serial), header)

        def render() -> bytes:
            if media == JSON:
                return simple_render.root_json(projects, shown)
            return simple_render.root_html(projects)

        # 100,000 projects take a while to render: not on the event loop.
        body = await asyncio.to_thread(render) if len(projects) > 5000 else render()
        hit = (body, body_etag(body, content_type(media)))
        cache.store(key, "", serial, media, *hit, shown=shown)
    body, etag, encoding = await encoded_body(request, cache, key, "", serial, media, *hit)
    return page_response(
        request,
        body,
        content_type(media),
        serial=shown,
        private=who.authenticated,
        etag=etag,
        encoding=encoding,
    )


async def project_page(
    request: Request, who: Identity, name: str, known_serial: int = 0
) -> index_pb2.ProjectPage:
    """The project's page, access-checked by the index; only its header when `known_serial` is
    still current (then `unchanged` is set)."""
    backends = backends_of(request)

    def ask() -> Awaitable[index_pb2.ProjectPage]:
        return backends.index.GetProjectPage(
            index_pb2.GetProjectPageRequest(
                caller=who.caller, name=name, known_serial=known_serial
            ),
            timeout=backends.timeout,
        )

    # Kept: refusals, and the header-only "unchanged" replies (whole pages are too big, and
    # their rendering is in the page cache anyway).
    key = (who.key, name, known_serial)
    page = await index_answer(request, lambda w: w.pages, key, ask, keep=lambda p: p.unchanged)
    if not page.unchanged:  # the caller renders it now, under this serial: its header is next
        header = index_pb2.ProjectPage(
            project=page.project, global_serial=page.global_serial, unchanged=True
        )
        await keep_header(
            request, lambda w: w.pages, (who.key, name, page.project.last_serial), header
        )
    return page


async def cached_page(
    request: Request,
    who: Identity,
    name: str,
    *,
    key: str,
    variant: str,
    content_type: str,
    render: Callable[[index_pb2.ProjectPage], bytes],
    vary: str = PAGE_VARY,
) -> Response:
    """A document rendered from the project's page, reused while the project's serial holds.

    Access is checked by the index on every request; only the rendering is reused. `key` names
    the document family in the page cache, `variant` one document of it (a media type, a
    release); the rendering is the same for every caller allowed to read the project.
    """
    cache: PageCache = request.app.state.page_cache
    page = await project_page(request, who, name, cache.serial(key))
    head = page.project
    hit = cache.lookup(key, head.id, head.last_serial, variant)
    if hit is None:
        if page.unchanged:  # only another variant is held: fetch the whole page once
            page = await project_page(request, who, name)
            head = page.project
        body = await asyncio.to_thread(render, page) if len(page.files) > 1000 else render(page)
        hit = (body, body_etag(body, content_type))
        cache.store(key, head.id, head.last_serial, variant, *hit)
    body, etag, encoding = await encoded_body(
        request, cache, key, head.id, head.last_serial, variant, *hit
    )
    return page_response(
        request,
        body,
        content_type,
        serial=head.last_serial,
        private=head.visibility != Visibility.PUBLIC,
        vary=vary,
        etag=etag,
        encoding=encoding,
    )


@router.api_route("/simple/{project}/", methods=READ_METHODS)
async def project(request: Request, project: str) -> Response:
    normalized = canonicalize_name(project)
    if normalized != project:
        return _to_canonical(normalized)
    media = _media(request)
    who = await identify(request, backends_of(request))
    proxied = await upstream_proxy.project_page(request, who, normalized, media)
    if proxied is not None:  # the index says: not local, from this upstream (docs/proxy.md)
        return proxied
    return await cached_page(
        request,
        who,
        normalized,
        key=normalized,
        variant=media,
        content_type=content_type(media),
        render=simple_render.project_json if media == JSON else simple_render.project_html,
    )


@router.api_route("/simple/{project}", methods=READ_METHODS, include_in_schema=False)
async def project_no_slash(project: str) -> Response:
    return _to_canonical(canonicalize_name(project))


def _to_canonical(normalized: str) -> Response:
    # The name arrives percent-decoded: sent back unquoted, a '%', '?' or '#' in it would name
    # another page (`A%2541` became `aa`), a query, or redirect for ever.
    return RedirectResponse(f"/simple/{quote(normalized, safe='')}/", status_code=301)

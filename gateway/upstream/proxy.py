"""The upstream proxy's HTTP answers: what the simple API, the JSON API and downloads serve for
a name the index says may come from an upstream (DecideUpstream). docs/proxy.md."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from google.protobuf.timestamp_pb2 import Timestamp
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from vestry.index.v1 import index_pb2
from vestry.storage.v1 import storage_pb2

from vestry.common.http import content_disposition
from vestry.common.vocabulary import Visibility
from vestry.gateway import simple_render
from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.blobs import put_bytes, read_blob
from vestry.gateway.compression import encoded_body
from vestry.gateway.conditional import etag_matches, page_response
from vestry.gateway.errors import UPSTREAM_FAILED, HTTPError
from vestry.gateway.identity import Identity
from vestry.gateway.negotiation import HTML, JSON
from vestry.gateway.page_cache import PageCache, body_etag
from vestry.gateway.upstream.fetch import UpstreamError, UpstreamFetcher
from vestry.gateway.upstream.page import (
    Held,
    UpstreamPage,
    file_version,
    render_html,
    render_json,
    select_files,
    shown,
    upload_time,
)
from vestry.gateway.warm import index_answer

__all__ = ["download", "json_document", "project_page"]

_D = index_pb2.UpstreamDecision
_STALE = '110 vestry "Response is Stale: the upstream is unavailable"'


def _fetcher(request: Request) -> UpstreamFetcher | None:
    fetcher: UpstreamFetcher | None = getattr(request.app.state, "upstream", None)
    return fetcher


def _ts(msg: Any, name: str) -> datetime | None:
    if not msg.HasField(name):
        return None
    ts: Timestamp = getattr(msg, name)
    return ts.ToDatetime(tzinfo=UTC)


async def _decide(request: Request, who: Identity, name: str) -> index_pb2.UpstreamDecision:
    backends = backends_of(request)

    def ask() -> Awaitable[index_pb2.UpstreamDecision]:
        return backends.index.DecideUpstream(
            index_pb2.DecideUpstreamRequest(caller=who.caller, name=name),
            timeout=backends.timeout,
        )

    # Only "local" is kept, per name: the index answers it before looking at the caller or the
    # clock (rules that lapse can only turn a merge into local, never the other way), so only a
    # change can alter it. Proxied answers carry a cooldown cutoff computed from now, and a
    # refusal (anonymous, proxied) could turn into "local" when a merge rule lapses.
    return await index_answer(
        request,
        lambda w: w.decisions,
        name,
        ask,
        keep=lambda d: d.outcome == _D.LOCAL,
        refusals=False,
    )


class _View:
    """One name's upstream page as Vestry offers it, for one decision."""

    def __init__(
        self,
        name: str,
        decision: index_pb2.UpstreamDecision,
        page: UpstreamPage,
        stale: bool,
        local: index_pb2.ProjectPage | None,
    ) -> None:
        self.name, self.decision, self.page, self.stale, self.local = (
            name,
            decision,
            page,
            stale,
            local,
        )
        local_versions = frozenset(
            str(Version(r.canonical_version or r.version))
            for r in (local.releases if local else [])
        )
        self.files, self.held = select_files(
            page,
            name,
            _ts(decision, "cooldown_cutoff"),
            timedelta(seconds=decision.cooldown_seconds),
            decision.serve_undated,
            local_versions,
            frozenset(decision.cached_files),
        )

    def local_files(self) -> list[dict[str, Any]]:
        if self.local is None:
            return []
        files: list[dict[str, Any]] = json.loads(simple_render.project_json(self.local))["files"]
        return files


async def _view(
    request: Request, who: Identity, name: str, decision: index_pb2.UpstreamDecision
) -> _View | None:
    """None when the upstream has no such project (and no local one is merged)."""
    fetcher = _fetcher(request)
    assert fetcher is not None
    backends = backends_of(request)
    local = None
    if decision.outcome == _D.MERGE:
        from vestry.gateway.routes.simple import project_page as local_page

        local = await local_page(request, who, name)
    try:
        page, stale = await fetcher.page(backends, who.caller, decision, name)
    except UpstreamError:
        if local is None:
            raise
        page, stale = UpstreamPage(name, []), True
    if page is None:
        if local is None:
            return None
        page = UpstreamPage(name, [])
    return _View(name, decision, page, stale, local)


def _headers(response: Response, view: _View) -> Response:
    if view.stale:
        response.headers["Warning"] = _STALE
    response.headers["X-Vestry-Upstream"] = shown(view.decision.upstream_url)
    return response


async def project_page(request: Request, who: Identity, name: str, media: str) -> Response | None:
    """The proxied page of `name`, or None when the index says it is local (or not proxied):
    then the local rules answer, as without a proxy."""
    if _fetcher(request) is None:
        return None
    decision = await _decide(request, who, name)
    if decision.outcome not in (_D.PROXY, _D.MERGE):
        return None
    view = await _view(request, who, name, decision)
    if view is None:
        raise HTTPError(404, f"{name!r} is neither on this index nor on its upstream")
    ctype = JSON if media == JSON else media if media != HTML else "text/html; charset=utf-8"
    serial = view.local.project.last_serial if view.local else 0
    # A rendering is reused while the fetched page, what is held back, the yanks allowed and
    # the merged local page are the same; only the index's decision is asked every time.
    cache: PageCache = request.app.state.page_cache
    key = f"upstream {name}"
    state = (tuple(h.filename for h in view.held), tuple(decision.cached_files))
    variant = f"{decision.upstream_url} {view.page.stamp} {serial} {hash(state)}"
    hit = cache.lookup(key, variant, 0, media)
    if hit is None:
        extra = view.local_files()
        if media == JSON:
            body = render_json(
                name, view.page, view.files, view.held, extra, shown(decision.upstream_url)
            )
        else:
            body = render_html(name, view.page, view.files, extra)
        hit = (body, body_etag(body, ctype))
        cache.store(key, variant, 0, media, *hit)
    body, etag, encoding = await encoded_body(request, cache, key, variant, 0, media, *hit)
    private = not decision.anonymous or bool(
        view.local and view.local.project.visibility != Visibility.PUBLIC
    )
    response = page_response(
        request, body, ctype, serial=serial, private=private, etag=etag, encoding=encoding
    )
    return _headers(response, view)


def _eligible(h: Held) -> str:
    return "never (no upload-time)" if h.eligible.year >= 9999 else h.eligible.isoformat()


async def json_document(request: Request, who: Identity, name: str) -> Response | None:
    """`/pypi/<name>/json` of a proxied project: what the upstream's page tells (files and
    versions), each file marked `upstream`, and the versions the cooldown holds back with the
    date each becomes eligible."""
    if _fetcher(request) is None:
        return None
    decision = await _decide(request, who, name)
    if decision.outcome != _D.PROXY:
        return None
    view = await _view(request, who, name, decision)
    if view is None:
        raise HTTPError(404, f"{name!r} is neither on this index nor on its upstream")
    base = str(request.base_url).rstrip("/")
    releases: dict[str, list[dict[str, Any]]] = {}
    for f in view.files:
        fn = str(f["filename"])
        version = file_version(fn) or ""
        yanked = f.get("yanked", False)
        releases.setdefault(version, []).append(
            {
                "filename": fn,
                "url": base + simple_render.file_url(name, fn),
                "digests": dict(f.get("hashes") or {}),
                "size": f.get("size"),
                "upload_time_iso_8601": f.get("upload-time"),
                "requires_python": f.get("requires-python"),
                "packagetype": "bdist_wheel" if fn.endswith(".whl") else "sdist",
                "yanked": bool(yanked),
                "yanked_reason": yanked if isinstance(yanked, str) else None,
                "upstream": True,
            }
        )

    def key(v: str) -> tuple[int, Version | str]:
        try:
            return (1, Version(v))
        except InvalidVersion:
            return (0, v)

    ordered = sorted(releases, key=key)
    stable = [v for v in ordered if key(v)[0] and not Version(v).is_prerelease] or ordered
    latest = stable[-1] if stable else ""
    held: dict[str, str] = {}
    for h in view.held:
        held.setdefault(h.version, _eligible(h))
    doc = {
        "info": {"name": name, "version": latest, "upstream": shown(decision.upstream_url)},
        "releases": {v: releases[v] for v in ordered},
        "urls": releases.get(latest, []),
        "vestry": {
            "upstream": shown(decision.upstream_url),
            "held_back": [
                {"version": v, "eligible": when, "reason": "cooldown"}
                for v, when in sorted(held.items())
            ],
        },
    }
    response = Response(json.dumps(doc).encode(), media_type="application/json")
    response.headers["Cache-Control"] = "private, no-cache"
    return _headers(response, view)


def _file_headers(digest: str, private: bool) -> dict[str, str]:
    return {
        "ETag": f'"{digest}"',
        "Cache-Control": ("private" if private else "public") + ", max-age=31536000, immutable",
    }


async def _serve_cached(
    request: Request, backends: Backends, cached: index_pb2.UpstreamFile, private: bool
) -> Response:
    headers = _file_headers(cached.sha256, private)
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(cached.size)
    if cached.metadata:
        media = "text/plain; charset=utf-8"
    else:
        media = "application/octet-stream"
        headers["Content-Disposition"] = content_disposition(cached.filename)
    if request.method == "HEAD":
        return Response(status_code=200, media_type=media, headers=headers)
    stream = read_blob(backends, cached.blob_key, 0, cached.size)
    first = await anext(stream, b"") if cached.size else b""

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in stream:
            yield chunk

    return StreamingResponse(body(), media_type=media, headers=headers)


async def download(
    request: Request,
    who: Identity,
    project: str,
    filename: str,
    not_local: grpc.aio.AioRpcError,
) -> Response:
    """A file URL the index has no local file for: a cached upstream file, or one fetched now
    if the index lets this name come from upstream; else the local answer (`not_local`)."""
    fetcher = _fetcher(request)
    if fetcher is None:
        raise not_local
    backends = backends_of(request)
    name = canonicalize_name(project)
    is_metadata = filename.endswith(".metadata")
    dist = filename[: -len(".metadata")] if is_metadata else filename
    try:
        cached = await backends.index.GetUpstreamFile(
            index_pb2.GetUpstreamFileRequest(
                caller=who.caller, project_name=name, filename=dist, metadata=is_metadata
            ),
            timeout=backends.timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        cached = None
    if cached is not None:
        try:
            return await _serve_cached(request, backends, cached, private=who.authenticated)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            # Pruned from the cache (vestry gc --prune-upstream): fetched again below.
    decision = await _decide(request, who, name)
    if decision.outcome not in (_D.PROXY, _D.MERGE):
        raise not_local  # local, a tombstone or reserved: the upstream is never asked
    view = await _view(request, who, name, decision)
    if view is None:
        raise not_local
    entry = next((f for f in view.files if f.get("filename") == dist), None)
    if entry is None:
        held = next((h for h in view.held if h.filename == dist), None)
        if held is not None:
            raise HTTPError(
                403,
                f"{dist} is held back by the upstream cooldown until {_eligible(held)}; an "
                f"administrator can exempt the project: vestry upstream exempt {name}",
            )
        raise not_local
    sha256 = str((entry.get("hashes") or {}).get("sha256", "")).lower()
    if len(sha256) != 64:
        raise HTTPError(
            UPSTREAM_FAILED,
            f"the upstream gives no sha256 for {dist}; Vestry serves only files it can verify",
        )
    uploaded = upload_time(entry)
    private = not decision.anonymous

    async def record(blob_key: str, digest: str, size: int, metadata: bool) -> None:
        up = index_pb2.UpstreamFile(
            project_name=name,
            filename=dist,
            metadata=metadata,
            blob_key=blob_key,
            sha256=digest,
            size=size,
            upstream_url=shown(str(entry["url"])) + (".metadata" if metadata else ""),
        )
        if uploaded is not None:
            up.upload_time.FromDatetime(uploaded)
        await backends.index.RecordUpstreamFile(
            index_pb2.RecordUpstreamFileRequest(caller=who.caller, file=up),
            timeout=backends.timeout,
        )

    if is_metadata:
        meta = entry.get("core-metadata", entry.get("dist-info-metadata"))
        meta_sha = str(meta.get("sha256", "")) if isinstance(meta, dict) else ""
        if len(meta_sha) != 64:
            raise HTTPError(404, "this file has no separate metadata")
        data = await fetcher.fetch_small(str(entry["url"]) + ".metadata", meta_sha, filename)
        info = await put_bytes(backends, data, meta_sha)
        await record(info.key, meta_sha, len(data), True)
        headers = _file_headers(meta_sha, private)
        return Response(data, media_type="text/plain; charset=utf-8", headers=headers)

    size = entry.get("size")
    size = size if isinstance(size, int) and size > 0 else 0

    async def store(info: storage_pb2.BlobInfo) -> None:
        await record(info.key, sha256, info.size, False)

    flight, fd = fetcher.join(dist, str(entry["url"]), sha256, size, store, backends)
    try:
        await flight.first()
    except BaseException:  # the client went away while waiting: the fetch goes on without it
        os.close(fd)
        raise
    if flight.error is not None and not flight.released:
        os.close(fd)
        raise HTTPError(flight.error.status, flight.error.message)
    headers = _file_headers(sha256, private)
    headers["Content-Disposition"] = content_disposition(dist)
    if size:
        headers["Content-Length"] = str(size)
    return StreamingResponse(
        flight.read(fd), media_type="application/octet-stream", headers=headers
    )

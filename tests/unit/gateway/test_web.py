"""The web UI's pieces without a server: signed cookies, sealed session tokens, session stores,
anti-forgery checks, security headers, safe links and README rendering."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.testclient import TestClient
from starlette.requests import Request

from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import ANONYMOUS
from vestry.gateway.security_headers import PAGE_CSP, WEB_PAGE_HEADERS, SecurityHeaders
from vestry.gateway.web.context import PRE_SESSION_COOKIE, Viewer, check_csrf, csrf_token
from vestry.gateway.web.render import http_url, readme_html, templates
from vestry.gateway.web.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    Signer,
    SqliteSessionStore,
    new_session_id,
)

SECRET = b"s" * 32


def test_signed_values_refuse_tampering_and_other_purposes() -> None:
    signer = Signer(SECRET)
    signed = signer.sign("session", "abc")
    assert signer.unsign("session", signed) == "abc"
    assert signer.unsign("pre-session", signed) is None
    assert signer.unsign("session", "abd" + signed[3:]) is None
    assert signer.unsign("session", signed[:-1] + ("A" if signed[-1] != "A" else "B")) is None
    assert Signer(b"t" * 32).unsign("session", signed) is None
    for garbage in (None, "", ".", "abc", "abc."):
        assert signer.unsign("session", garbage) is None


def test_sealed_token_opens_only_with_its_session_id() -> None:
    signer = Signer(SECRET)
    sid = new_session_id()
    sealed = signer.seal(sid, "vestry-secret-token")
    assert "vestry-" not in sealed
    assert signer.open(sid, sealed) == "vestry-secret-token"
    assert signer.open(new_session_id(), sealed) is None
    assert Signer(b"t" * 32).open(sid, sealed) is None
    assert signer.open(sid, "not base64!") is None


def _session(expires_in: float) -> Session:
    return Session("sealed", "alice", "csrf", time.time() + expires_in)


def test_memory_store_expires_and_stays_bounded() -> None:
    async def scenario() -> None:
        store = MemorySessionStore(max_sessions=2)
        await store.put("a", _session(60))
        await store.put("old", _session(-1))
        assert await store.get("a") is not None
        assert await store.get("old") is None
        await store.put("b", _session(60))
        await store.put("c", _session(60))
        assert await store.get("a") is None  # the oldest made room
        await store.delete("b")
        assert await store.get("b") is None and await store.get("c") is not None

    asyncio.run(scenario())


def test_sqlite_store_is_shared_by_processes_private_and_keeps_no_session_id(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.sqlite3"

    async def scenario() -> str:
        one, other = SqliteSessionStore(str(path)), SqliteSessionStore(str(path))
        sid = new_session_id()
        session = _session(60)
        await one.put(sid, session)
        assert await other.get(sid) == session  # what another gateway process sees
        await other.put("old", _session(-1))
        assert await one.get("old") is None
        await other.delete(sid)
        assert await one.get(sid) is None
        await one.put(sid, _session(60))
        await one.close()
        await other.close()
        reopened = SqliteSessionStore(str(path))  # a restart signs nobody out
        assert await reopened.get(sid) is not None
        await reopened.close()
        return sid

    sid = asyncio.run(scenario())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    db = sqlite3.connect(path)
    rows = db.execute("SELECT key, session FROM sessions").fetchall()
    db.close()
    assert len(rows) == 1  # the expired one was swept
    assert all(sid not in key and sid not in session for key, session in rows)


@pytest.mark.redis
def test_redis_store_keeps_no_session_id_in_its_keys(redis_url: str, redis_prefix: str) -> None:
    import redis

    async def scenario() -> None:
        store = RedisSessionStore(redis_url, prefix=redis_prefix)
        sid = new_session_id()
        await store.put(sid, _session(60))
        got = await store.get(sid)
        assert got is not None and got.username == "alice"
        await store.delete(sid)
        assert await store.get(sid) is None
        await store.put(sid, _session(60))
        await store.close()
        client = redis.Redis.from_url(redis_url)
        keys = [k.decode() for k in client.scan_iter(match=redis_prefix + "*")]
        ttls = [client.ttl(k) for k in keys]
        client.close()
        assert keys and all(sid not in k for k in keys)
        assert all(0 < ttl <= 60 for ttl in ttls)  # gone with the session

    asyncio.run(scenario())


def _request(cookies: dict[str, str] | None = None, origin: str | None = None) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(web_signer=Signer(SECRET)))
    headers = [(b"host", b"vestry.test")]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/account/login/",
        "query_string": b"",
        "headers": headers,
        "server": ("vestry.test", 80),
        "app": app,
    }
    return Request(scope)


def test_csrf_before_sign_in_is_bound_to_the_pre_session_cookie() -> None:
    anonymous = Viewer(ANONYMOUS, None, None)
    token, cookie = csrf_token(_request(), anonymous)
    assert cookie is not None
    with_cookie = _request({PRE_SESSION_COOKIE: cookie})
    assert csrf_token(with_cookie, anonymous) == (token, None)  # stable while the cookie lasts
    check_csrf(with_cookie, anonymous, token)
    check_csrf(_request({PRE_SESSION_COOKIE: cookie}, "http://vestry.test"), anonymous, token)
    refusals = [
        (_request(), token),  # no cookie
        (with_cookie, ""),
        (with_cookie, token + "x"),
        (_request({PRE_SESSION_COOKIE: cookie}, "http://evil.test"), token),
        (_request({PRE_SESSION_COOKIE: cookie}, "null"), token),
    ]
    for request, submitted in refusals:
        with pytest.raises(HTTPError) as err:
            check_csrf(request, anonymous, submitted)
        assert err.value.status == 403


def test_csrf_of_a_session_is_the_session_token() -> None:
    session = Session("sealed", "alice", "per-session-secret", time.time() + 60)
    signed_in = Viewer(ANONYMOUS, session, "sid")
    assert csrf_token(_request(), signed_in) == ("per-session-secret", None)
    check_csrf(_request(), signed_in, "per-session-secret")
    with pytest.raises(HTTPError):
        check_csrf(_request(), signed_in, "another")


def test_web_pages_keep_their_own_policy_and_everything_gets_the_rest() -> None:
    app = FastAPI()

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers=WEB_PAGE_HEADERS)

    @app.get("/data")
    async def data() -> JSONResponse:
        return JSONResponse({})

    with TestClient(SecurityHeaders(app)) as client:
        html = client.get("/page")
        csp = html.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "form-action 'self'" in csp and "'unsafe-inline'" not in csp
        assert html.headers.get_list("content-security-policy") == [csp]
        assert html.headers["x-frame-options"] == "DENY"
        # The forms' Origin check needs an origin: `no-referrer` would make it "null".
        assert html.headers.get_list("referrer-policy") == ["same-origin"]
        assert html.headers["x-content-type-options"] == "nosniff"
        data = client.get("/data")
        assert data.headers["x-content-type-options"] == "nosniff"
        assert data.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize(
    ("value", "link"),
    [
        ("https://example.org/x", "https://example.org/x"),
        ("  http://example.org ", "http://example.org"),
        ("HTTPS://EXAMPLE.ORG", "HTTPS://EXAMPLE.ORG"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("mailto:a@example.org", None),
        ("//example.org/x", None),
        ("/relative", None),
        ("http://", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_only_http_urls_become_links(value: str, link: str | None) -> None:
    assert http_url(value) == link


def test_readme_rendering_is_sanitised() -> None:
    html = readme_html(
        "# Title\n\n[x](javascript:alert(1)) [m](mailto:a@b.org) [ok](https://ok.org)\n"
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
        "text/markdown",
    )
    assert "<h1" in html and "Title" in html
    assert "javascript:" not in html and "mailto:" not in html and "<script" not in html
    assert "onerror" not in html
    assert 'href="https://ok.org"' in html
    rst = readme_html("Title\n=====\n\n`x <javascript:alert(1)>`_ *em*", "text/x-rst")
    assert "<em>em</em>" in rst and "javascript:" not in rst
    plain = readme_html("<b>not bold</b>", "text/plain")
    assert "<b>" not in plain and "&lt;b&gt;" in plain
    assert readme_html("", "text/markdown") == ""


def test_templates_escape_what_they_show() -> None:
    project = SimpleNamespace(name="<script>x</script>", normalized_name="x")
    html = (
        templates()
        .get_template("_project_list.html")
        .render(projects=[project], total=1, page=1, more=False, query='"><b>', signed_in=False)
    )
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert '"><b>' not in html

"""The web UI against a running `vestry up`: every page, the access rules, sign-in, the token
page, security headers, and the offline API docs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.support.vestry_up import BIN
from tests.support.web import Site, csrf_of, running_site, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("web")) as built:
        yield built


def client(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.vestry.base, timeout=30)


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"]


def test_home_and_search_show_public_projects_to_the_anonymous(site: Site) -> None:
    with client(site) as c:
        home = c.get("/")
        assert home.status_code == 200, home.text
        assert_security_headers(home)
        assert 'href="/project/pub-lib/"' in home.text
        assert "secret-lib" not in home.text
        assert 'href="/static/vestry.css"' in home.text and "<script" not in home.text
        found = c.get("/search/", params={"q": "LIB"})
        assert found.status_code == 200
        assert "pub-lib" in found.text and "secret-lib" not in found.text
        assert "No project matches" in c.get("/search/", params={"q": "zzz"}).text
        assert c.get("/static/vestry.css").status_code == 200


def test_project_page_renders_readme_safely(site: Site) -> None:
    with client(site) as c:
        page = c.get("/project/pub-lib/")
        assert page.status_code == 200, page.text
        assert_security_headers(page)
        text = page.text
        assert "<em>public</em>" in text
        assert "<script>alert" not in text and "javascript:" not in text
        assert "onerror" not in text
        assert 'href="https://docs.example.org/pub-lib"' in text
        assert 'href="https://git.example.org/pub-lib"' in text  # a Project-URL, http(s) only
        assert f"pip install --index-url {site.vestry.base}/simple/ pub-lib" in text
        assert f"uv add --index vestry={site.vestry.base}/simple/ pub-lib" in text
        assert "pub_lib-2.0-py3-none-any.whl" in text
        assert "yanked" in text  # 1.0, in the versions list
        old = c.get("/project/pub-lib/1.0/")
        assert old.status_code == 200 and "broken" in old.text
        assert "pub_lib-1.0-py3-none-any.whl" in old.text
        assert c.get("/project/pub-lib/9.9/").status_code == 404
        moved = c.get("/project/Pub_Lib/")
        assert moved.status_code == 301 and moved.headers["location"] == "/project/pub-lib/"


def test_private_project_is_a_404_page_like_a_missing_one(site: Site) -> None:
    with client(site) as c:
        hidden = c.get("/project/secret-lib/")
        missing = c.get("/project/no-such-lib/")
        assert hidden.status_code == missing.status_code == 404
        assert "text/html" in hidden.headers["content-type"]
        assert_security_headers(hidden)
        assert "0.1" not in hidden.text
    with client(site) as c:
        assert sign_in(c, site.bob).status_code == 303
        assert c.get("/project/secret-lib/").status_code == 404
        assert "secret-lib" not in c.get("/").text


def test_sign_in_session_cookie_and_sign_out(site: Site) -> None:
    with client(site) as c:
        form = c.get("/account/login/")
        assert form.status_code == 200
        assert_security_headers(form)
        assert '<label for="token">API token</label>' in form.text
        assert 'type="password"' in form.text
        # No anti-forgery token: refused.
        refused = c.post("/account/login/", data={"token": site.admin, "csrf_token": "x"})
        assert refused.status_code == 403
        wrong = c.post(
            "/account/login/", data={"token": "vestry-nope", "csrf_token": csrf_of(form.text)}
        )
        assert wrong.status_code == 401 and "not accepted" in wrong.text
        signed = sign_in(c, site.admin)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "vestry_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        session = c.cookies["vestry_session"]
        assert site.admin not in session and "vestry-" not in session
        # The cookie is worth nothing as a token.
        as_token = httpx.get(f"{site.vestry.base}/simple/", auth=("__token__", session))
        assert as_token.status_code == 401
        home = c.get("/")
        assert "Signed in as <strong>alice</strong>" in home.text
        assert "secret-lib" in home.text
        assert c.get("/project/secret-lib/").status_code == 200
        # Sign-out needs the form's token too.
        assert c.post("/account/logout/", data={"csrf_token": "nope"}).status_code == 403
        out = c.post("/account/logout/", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303
        # The old cookie, replayed, is anonymous now.
        replay = httpx.get(f"{site.vestry.base}/", cookies={"vestry_session": session})
        assert "secret-lib" not in replay.text and "Sign in" in replay.text


def test_token_page_creates_once_and_revocation_is_immediate(site: Site) -> None:
    with client(site) as c:
        assert c.get("/account/tokens/").status_code == 303  # sign in first
        sign_in(c, site.admin)
        page = c.get("/account/tokens/")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        created = c.post(
            "/account/tokens/",
            data={
                "csrf_token": csrf_of(page.text),
                "name": "ui-made",
                "projects": "secret-lib",
                "permissions": ["read"],
                "expires": "86400",
            },
        )
        assert created.status_code == 200, created.text
        token = created.text.split('<code id="new-token">')[1].split("</code>")[0]
        assert token.startswith("vestry-")
        simple = f"{site.vestry.base}/simple/secret-lib/"
        assert httpx.get(simple, auth=("__token__", token)).status_code == 200
        # As wide and as long-lived as asked: not bound to the session's lifetime.
        api = httpx.get(f"{site.vestry.base}/api/v1/tokens", auth=("__token__", site.admin))
        made = next(t for t in api.json()["tokens"] if t["name"] == "ui-made")
        lifetime = datetime.fromisoformat(made["expires"]) - datetime.fromisoformat(made["created"])
        assert abs(lifetime.total_seconds() - 86400) < 60
        assert made["scope"]["projects"] == ["secret-lib"]
        listing = c.get("/account/tokens/")
        assert "ui-made" in listing.text and token not in listing.text  # shown once
        token_id = listing.text.split("ui-made</td>")[1].split("<code>")[1].split("</code>")[0]
        forged = c.post("/account/tokens/revoke/", data={"token_id": token_id})
        assert forged.status_code == 403
        revoked = c.post(
            "/account/tokens/revoke/",
            data={"csrf_token": csrf_of(listing.text), "token_id": token_id},
        )
        assert revoked.status_code == 200 and "revoked" in revoked.text
        assert httpx.get(simple, auth=("__token__", token)).status_code == 401


def test_api_docs_are_local_and_can_authorize(site: Site) -> None:
    with client(site) as c:
        docs = c.get("/api/docs")
        assert docs.status_code == 200
        assert_security_headers(docs)
        assert "cdn" not in docs.text.lower() and "https://" not in docs.text
        for asset in (
            "/static/swagger-ui/swagger-ui-bundle.js",
            "/static/swagger-ui/swagger-ui.css",
        ):
            assert asset in docs.text
            assert c.get(asset).status_code == 200
        spec = c.get("/api/openapi.json").json()
        schemes = spec["components"]["securitySchemes"]
        assert schemes["tokenBasic"]["scheme"] == "basic"
        assert schemes["tokenBearer"]["scheme"] == "bearer"
        assert "/api/v1/users" in spec["paths"]


@pytest.fixture
def admin(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.vestry.base, auth=("__token__", site.admin), timeout=30) as c:
        yield c


@pytest.fixture
def bob(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.vestry.base, auth=("__token__", site.bob), timeout=30) as c:
        yield c


def test_operator_api_users_projects_and_download_counts(
    site: Site, admin: httpx.Client, bob: httpx.Client
) -> None:
    base = site.vestry.base
    assert bob.get("/api/v1/users").status_code == 403
    assert httpx.get(f"{base}/api/v1/users").status_code == 401
    names = [u["name"] for u in admin.get("/api/v1/users").json()]
    assert {"alice", "bob"} <= set(names)
    made = admin.post("/api/v1/users", json={"name": "carol"})
    assert made.status_code == 201 and made.json()["token"].startswith("vestry-")
    carol = made.json()["token"]
    assert httpx.get(f"{base}/simple/", auth=("__token__", carol)).status_code == 200
    assert admin.post("/api/v1/users/carol/disable").json()["active"] is False
    assert httpx.get(f"{base}/simple/", auth=("__token__", carol)).status_code == 401
    # Projects, paged, as the caller sees them.
    first = admin.get("/api/v1/projects", params={"limit": 1}).json()
    assert first["total"] == 2 and len(first["projects"]) == 1 and first["next"]
    second = admin.get("/api/v1/projects", params={"limit": 1, "after": first["next"]}).json()
    assert [p["normalized_name"] for p in first["projects"] + second["projects"]] == [
        "pub-lib",
        "secret-lib",
    ]
    assert second["next"] is None
    anonymous = httpx.get(f"{base}/api/v1/projects").json()
    assert [p["name"] for p in anonymous["projects"]] == ["pub-lib"]
    # Downloads: counted in the gateway, sent in batches, shown in the API and on the page.
    url = f"{base}/files/pub-lib/pub_lib-2.0-py3-none-any.whl"
    for _ in range(3):
        assert httpx.get(url).status_code == 200
    deadline = time.monotonic() + 15
    counts: dict[str, object] = {}
    while time.monotonic() < deadline:
        counts = httpx.get(f"{base}/api/v1/projects/pub-lib/downloads").json()
        if counts["total"] == 3:
            break
        time.sleep(0.2)
    assert counts["files"] == {"pub_lib-1.0-py3-none-any.whl": 0, "pub_lib-2.0-py3-none-any.whl": 3}
    page = httpx.get(f"{base}/project/pub-lib/").text
    assert '<td class="downloads">3</td>' in page
    assert httpx.get(f"{base}/api/v1/projects/secret-lib/downloads").status_code == 401
    assert bob.get("/api/v1/projects/secret-lib/downloads").status_code == 404


def test_admin_sets_upload_time(site: Site, admin: httpx.Client, bob: httpx.Client) -> None:
    base = site.vestry.base
    path = "/api/v1/projects/pub-lib/files/pub_lib-2.0-py3-none-any.whl/upload-time"
    body = {"upload_time": "2020-01-02T03:04:05Z"}
    assert bob.put(path, json=body).status_code == 403
    assert admin.put(path, json=body).status_code == 200
    doc = httpx.get(
        f"{base}/simple/pub-lib/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    times = {f["filename"]: f["upload-time"] for f in doc["files"]}
    assert times["pub_lib-2.0-py3-none-any.whl"].startswith("2020-01-02T03:04:05")
    future = {"upload_time": "2999-01-01T00:00:00Z"}
    assert admin.put(path, json=future).status_code == 400


def test_operator_cli(site: Site) -> None:
    env = {**os.environ, "VESTRY_URL": site.vestry.base, "VESTRY_TOKEN": site.admin}

    def vestry(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "vestry"), *args], capture_output=True, text=True, env=env, timeout=60
        )

    made = vestry("user", "create", "dave")
    assert made.returncode == 0, made.stderr
    dave = made.stdout.strip().splitlines()[-1]
    assert dave.startswith("vestry-")
    listed = vestry("user", "list")
    assert "alice  (admin)" in listed.stdout and "dave" in listed.stdout
    assert vestry("user", "disable", "dave").stdout.strip() == "dave: disabled"
    assert httpx.get(f"{site.vestry.base}/simple/", auth=("__token__", dave)).status_code == 401
    assert "dave  (disabled)" in vestry("user", "list").stdout
    assert vestry("projects", "--limit", "1", "--all").stdout.split() == ["pub-lib", "secret-lib"]
    first = vestry("projects", "--limit", "1").stdout
    assert first.splitlines() == ["pub-lib", "(more: --after pub-lib)"]
    assert "in all" in vestry("downloads", "pub-lib").stdout
    refused = subprocess.run(
        [str(BIN / "vestry"), "user", "list"],
        capture_output=True,
        text=True,
        env={**env, "VESTRY_TOKEN": site.bob},
        timeout=60,
    )
    assert refused.returncode == 1 and "403" in refused.stderr


def test_organisation_page_for_its_members_only(site: Site, admin: httpx.Client) -> None:
    assert admin.post("/api/v1/orgs", json={"name": "acme"}).status_code == 201
    assert admin.post("/api/v1/orgs/acme/teams", json={"name": "builders"}).is_success
    with client(site) as c:
        assert c.get("/org/acme/").status_code == 404  # anonymous
        sign_in(c, site.bob)
        assert c.get("/org/acme/").status_code == 404  # not a member
    with client(site) as c:
        sign_in(c, site.admin)
        page = c.get("/org/acme/")
        assert page.status_code == 200, page.text
        assert_security_headers(page)
        assert "alice" in page.text and "builders" in page.text

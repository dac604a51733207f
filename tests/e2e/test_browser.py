"""The web UI in a real browser: Debian's Chromium driven by Playwright.

Sign in, browse, search, read a README, create and revoke a token, sign out, and the API docs;
a screenshot of each page is kept under test-artifacts/screens/ (VESTRY_TEST_ARTIFACTS
elsewhere). Without Chromium the test is skipped, which CI (VESTRY_TEST_STRICT=1) turns into a
failure; scripts/run-tests.sh installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.web import Site, running_site

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("VESTRY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("VESTRY_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("browser")) as built:
        yield built


@pytest.fixture
def browser_page() -> Iterator[tuple[Any, list[str]]]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []

            def console(msg: Any) -> None:
                # A CSP violation shows up as a console error; failed loads are seen below.
                if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                    problems.append(msg.text)

            def response(r: Any) -> None:
                if r.status >= 400 and r.request.resource_type != "document":
                    problems.append(f"{r.status} {r.url}")

            page.on("console", console)
            page.on("response", response)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            yield page, problems
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    screens = ARTIFACTS / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screens / f"{name}.png"), full_page=True)


def test_a_person_signs_in_browses_manages_tokens_and_signs_out(
    site: Site, browser_page: tuple[Any, list[str]]
) -> None:
    page, problems = browser_page
    base = site.vestry.base

    page.goto(f"{base}/")
    assert page.get_by_role("link", name="pub-lib").is_visible()
    assert page.get_by_role("link", name="secret-lib").count() == 0
    shot(page, "01-home-anonymous")

    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("API token").fill(site.admin)
    shot(page, "02-sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_text("Signed in as").is_visible()
    assert page.get_by_role("link", name="secret-lib").is_visible()
    shot(page, "03-home-signed-in")

    page.get_by_label("Search projects").fill("pub")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{base}/search/?q=pub")
    assert page.get_by_role("link", name="pub-lib").is_visible()
    shot(page, "04-search")

    page.get_by_role("link", name="pub-lib").click()
    page.wait_for_url(f"{base}/project/pub-lib/")
    assert page.get_by_role("heading", name="Pub Lib").is_visible()  # the README's h1
    assert page.locator(".readme em", has_text="public").is_visible()
    assert page.get_by_text("pub_lib-2.0-py3-none-any.whl").is_visible()
    shot(page, "05-project")

    page.get_by_role("link", name="1.0", exact=True).click()
    page.wait_for_url(f"{base}/project/pub-lib/1.0/")
    assert page.get_by_text("yanked: broken").is_visible()
    shot(page, "06-project-version-yanked")

    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(f"{base}/account/tokens/")
    page.get_by_label("Name").fill("from-the-browser")
    page.get_by_label("Projects (comma-separated").fill("pub-lib")
    page.get_by_role("checkbox", name="read").check()
    page.get_by_label("Expires").select_option("604800")
    page.get_by_role("button", name="Create token").click()
    new_token = page.locator("#new-token").inner_text().strip()
    assert new_token.startswith("vestry-")
    shot(page, "07-token-created")
    simple = f"{base}/simple/pub-lib/"
    assert httpx.get(simple, auth=("__token__", new_token)).status_code == 200

    page.get_by_role("button", name="Revoke from-the-browser").click()
    assert page.get_by_text("revoked").is_visible()
    assert page.get_by_text("from-the-browser").count() == 0
    shot(page, "08-token-revoked")
    assert httpx.get(simple, auth=("__token__", new_token)).status_code == 401

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("link", name="Sign in").is_visible()
    assert page.get_by_role("link", name="secret-lib").count() == 0
    shot(page, "09-signed-out")

    page.goto(f"{base}/project/secret-lib/")
    assert page.get_by_role("heading", name="Not found").is_visible()
    shot(page, "10-private-not-found")
    assert not problems, problems


def test_api_docs_work_offline_with_authorize(
    site: Site, browser_page: tuple[Any, list[str]]
) -> None:
    page, problems = browser_page
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{site.vestry.base}/api/docs")
    page.get_by_role("button", name="Authorize").wait_for(timeout=20_000)
    assert page.get_by_text("/api/v1/users").first.is_visible()
    shot(page, "11-api-docs")
    # Everything the page loaded came from Vestry itself.
    assert all(url.startswith(site.vestry.base) for url in requested), requested
    assert not problems, problems

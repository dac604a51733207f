"""Helpers for the web UI tests: packages with READMEs, sign-in through the real form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.factories import make_wheel, metadata_text
from tests.support.clients import twine_upload
from tests.support.vestry_up import RunningVestry, start_vestry

README = """# Pub Lib

A *public* library. [docs](https://docs.example.org/pub-lib)

[bad link](javascript:alert(1)) <script>alert("x")</script>
<img alt="logo" onerror="alert(1)">
"""


def wheel_with_readme(directory: Path, name: str, version: str, readme: str = README) -> Path:
    stem = name.replace("-", "_")
    meta = metadata_text(name, version).rstrip("\n") + "\n"
    meta += "Description-Content-Type: text/markdown\n"
    meta += "Project-URL: Source, https://git.example.org/pub-lib\n\n" + readme
    return make_wheel(
        directory,
        name,
        version,
        extra_files={f"{stem}-{version}.dist-info/METADATA": meta.encode()},
    )


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no anti-forgery token in the form"
    return match.group(1)


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/account/login/")
    return client.post(
        "/account/login/",
        data={"token": token, "csrf_token": csrf_of(form.text), "next": "/"},
    )


@dataclass
class Site:
    vestry: RunningVestry
    admin: str  # alice's token (an administrator)
    bob: str  # a user with no role anywhere


@contextmanager
def running_site(root: Path) -> Iterator[Site]:
    """`vestry up` with a public project (pub-lib 1.0 yanked, 2.0, with a README) and a private
    one (secret-lib), both alice's."""
    vestry = start_vestry(root / "data", env={"VESTRY_GATEWAY_DOWNLOADS_FLUSH_SECONDS": "0.3"})
    try:
        admin = vestry.create_user("alice", admin=True)
        bob = vestry.create_user("bob")
        dist = root / "dist"
        dist.mkdir()
        pub = wheel_with_readme(dist, "pub-lib", "1.0")
        pub2 = wheel_with_readme(dist, "pub-lib", "2.0")
        secret = make_wheel(dist, "secret-lib", "0.1")
        for path in (pub, pub2, secret):
            result = twine_upload(vestry.upload_url, admin, path)
            assert result.returncode == 0, result.stdout + result.stderr
        with httpx.Client(base_url=vestry.base, auth=("__token__", admin)) as api:
            assert api.put(
                "/api/v1/projects/pub-lib/visibility", json={"visibility": "public"}
            ).is_success
            assert api.post(
                "/api/v1/projects/pub-lib/yank", json={"version": "1.0", "reason": "broken"}
            ).is_success
        yield Site(vestry, admin, bob)
    finally:
        vestry.stop()

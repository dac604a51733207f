"""Helpers for the web UI tests: packages with READMEs, sign-in through the real form."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.factories import make_wheel, metadata_text

README = """# Pub Lib

A *public* library. [docs](https://docs.example.org/pub-lib)

[bad link](javascript:alert(1)) <script>alert("x")</script>
<img src="x" onerror="alert(1)">
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

"""Templates (Jinja2, autoescaped), READMEs (readme_renderer) and the values pages show.

Only http(s) URLs become links: metadata URLs are checked here, and README HTML is cleaned a
second time with http and https as the only schemes (readme_renderer also keeps mailto:).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from google.protobuf.timestamp_pb2 import Timestamp
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from vestry.common.http import is_link_url
from vestry.gateway.security_headers import WEB_PAGE_HEADERS
from vestry.gateway.web.context import (
    PRE_SESSION_COOKIE,
    Viewer,
    clear_session_cookie,
    csrf_token,
    set_cookie,
)

__all__ = ["html_page", "http_url", "readme_html", "templates"]

TEMPLATES = Path(__file__).parent / "templates"


def http_url(value: str | None) -> str | None:
    """`value` when it is an absolute http(s) URL with a host; None for anything else
    (javascript:, data:, relative paths...)."""
    if not value:
        return None
    url = value.strip()
    return url if is_link_url(url) else None


def size(value: int) -> str:
    amount = float(value)
    for unit in ("bytes", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{int(amount)} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{value} bytes"


def when(ts: Timestamp | None) -> str:
    if ts is None or not (ts.seconds or ts.nanos):
        return ""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["http_url"] = http_url
    env.filters["size"] = size
    env.filters["when"] = when
    return env


def _readme_markup(description: str, content_type: str) -> str | None:
    from readme_renderer import markdown, rst, txt

    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media == "text/markdown":
        variant = "GFM"
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "variant" and value.strip():
                variant = value.strip()
        return markdown.render(description, variant=variant) or txt.render(description)
    if media == "text/plain":
        return txt.render(description)
    # PyPI's default: reStructuredText, falling back to plain text when it does not parse.
    return rst.render(description) or txt.render(description)


@functools.lru_cache(maxsize=128)
def readme_html(description: str, content_type: str) -> Markup:
    """A release's description as safe HTML (rendered once per text, then reused)."""
    if not description.strip():
        return Markup("")
    rendered = _readme_markup(description, content_type) or ""
    from readme_renderer.clean import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

    cleaned = nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        link_rel="nofollow noopener noreferrer",
        url_schemes={"http", "https"},
        set_tag_attribute_values={"input": {"disabled": ""}},
    )
    return Markup(cleaned)  # noqa: S704 - cleaned by nh3 just above


def html_page(
    request: Request,
    v: Viewer,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    cache: str = "private, no-cache",
) -> HTMLResponse:
    """Render `template` for this viewer: its name, its forms' anti-forgery token, its cookies."""
    csrf, pre_cookie = csrf_token(request, v)
    body = (
        templates()
        .get_template(template)
        .render(
            viewer=v,
            username=v.username,
            signed_in=v.session is not None,
            csrf=csrf,
            now=datetime.now(UTC),
            **context,
        )
    )
    response = HTMLResponse(
        body,
        status_code=status,
        headers={**WEB_PAGE_HEADERS, "Cache-Control": cache, "Vary": "Cookie, Authorization"},
    )
    if pre_cookie is not None:
        set_cookie(request, response, PRE_SESSION_COOKIE, pre_cookie, 3600)
    if v.stale_cookie:
        clear_session_cookie(request, response)
    return response

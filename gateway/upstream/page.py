"""Upstream project pages: parsed from PEP 691 JSON or PEP 503 HTML into one form (PEP 691's),
filtered by the index's decision (cooldown, merge) and rendered with Vestry's file URLs.

Every field a file carries upstream is kept as it came (hashes, requires-python, yanked,
upload-time, size, core-metadata, and any other key); only `url` is rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from vestry.gateway.simple_render import API_VERSION, file_url

__all__ = [
    "Held",
    "UpstreamPage",
    "file_version",
    "parse_html",
    "parse_json",
    "select_files",
    "shown",
    "upload_time",
]


@dataclass
class UpstreamPage:
    """One project's page at an upstream: `files` are PEP 691 file dicts whose `url` is
    absolute (at the upstream)."""

    name: str
    files: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    versions: list[str] | None = None
    status: dict[str, Any] | None = None
    # Which fetch this is, for caching renderings of it (not part of the page).
    stamp: int = field(default=0, compare=False)

    def dumps(self) -> bytes:
        return json.dumps(
            {
                "name": self.name,
                "files": self.files,
                "meta": self.meta,
                "versions": self.versions,
                "project-status": self.status,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def loads(cls, data: bytes) -> UpstreamPage:
        doc = json.loads(data)
        return cls(doc["name"], doc["files"], doc["meta"], doc["versions"], doc["project-status"])

    def find(self, filename: str) -> dict[str, Any] | None:
        return next((f for f in self.files if f.get("filename") == filename), None)


_BAD_FILENAME = re.compile(r'[/\\"\x00-\x1f\x7f]')


def _acceptable(filename: str) -> bool:
    """A filename Vestry can put in a URL path and a header: others are left out."""
    return 0 < len(filename) <= 255 and not _BAD_FILENAME.search(filename)


def parse_json(data: bytes, page_url: str, name: str) -> UpstreamPage:
    """A PEP 691 page; raises ValueError if it is not one."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise ValueError("not a PEP 691 project page")
    files = []
    for f in doc["files"]:
        if not isinstance(f, dict) or not isinstance(f.get("filename"), str) or "url" not in f:
            continue
        if not _acceptable(f["filename"]):
            continue
        f = dict(f)
        f["url"] = urljoin(page_url, str(f["url"]))
        files.append(f)
    versions = doc.get("versions")
    status = doc.get("project-status")
    return UpstreamPage(
        str(doc.get("name") or name),
        files,
        dict(doc.get("meta") or {}),
        [str(v) for v in versions] if isinstance(versions, list) else None,
        status if isinstance(status, dict) else None,
    )


def _hash_attr(value: str | None) -> dict[str, str] | bool:
    """data-core-metadata: "true" or "<hashname>=<hex>" (PEP 658/714)."""
    if value is None:
        return False
    name, sep, digest = value.partition("=")
    if sep and name and digest:
        return {name.lower(): digest.lower()}
    return True


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.meta: dict[str, str] = {}
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self._open = []
            self.anchors.append((a, self._open))
        elif tag == "meta" and a.get("name") and a.get("content") is not None:
            self.meta[str(a["name"])] = str(a["content"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def parse_html(data: bytes, page_url: str, name: str) -> UpstreamPage:
    """A PEP 503 page, with PEP 592/629/658/714/792 attributes, in PEP 691 form."""
    parser = _Anchors()
    parser.feed(data.decode("utf-8", "replace"))
    files = []
    for attrs, text in parser.anchors:
        href = str(attrs["href"])
        url, fragment = urldefrag(urljoin(page_url, href))
        filename = "".join(text).strip() or url.rsplit("/", 1)[-1]
        if not _acceptable(filename):
            continue
        hashes: dict[str, str] = {}
        algo, sep, digest = fragment.partition("=")
        if sep:
            hashes[algo.lower()] = digest.lower()
        f: dict[str, Any] = {"filename": filename, "url": url, "hashes": hashes}
        if attrs.get("data-requires-python"):
            f["requires-python"] = attrs["data-requires-python"]
        if "data-yanked" in attrs:
            f["yanked"] = attrs["data-yanked"] or True
        else:
            f["yanked"] = False
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        f["core-metadata"] = _hash_attr(meta)
        if "data-gpg-sig" in attrs:
            f["gpg-sig"] = attrs["data-gpg-sig"] == "true"
        files.append(f)
    status = None
    if "pypi:project-status" in parser.meta:
        status = {"status": parser.meta["pypi:project-status"]}
        if parser.meta.get("pypi:project-status-reason"):
            status["reason"] = parser.meta["pypi:project-status-reason"]
    page_meta: dict[str, Any] = {"api-version": parser.meta.get("pypi:repository-version", "1.0")}
    return UpstreamPage(name, files, page_meta, None, status)


def shown(url: str) -> str:
    """`url` without credentials (`https://user:token@host/…` for a private upstream), for
    headers, pages and the events log."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _parsed(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return str(name), str(version)


def file_version(filename: str) -> str | None:
    parsed = _parsed(filename)
    return parsed[1] if parsed else None


def upload_time(f: dict[str, Any]) -> datetime | None:
    value = f.get("upload-time")
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Held:
    """A file held back by the cooldown, and when it becomes eligible."""

    filename: str
    version: str
    eligible: datetime


def select_files(
    page: UpstreamPage,
    name: str,
    cutoff: datetime | None,
    cooldown: timedelta,
    serve_undated: bool,
    local_versions: frozenset[str] = frozenset(),
    cached: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], list[Held]]:
    """The files of `page` Vestry offers, and those the cooldown holds back.

    A file uploaded after `cutoff` is held until its upload-time plus the cooldown; a file
    without upload-time is held only when `serve_undated` is off. During a cooldown a yanked
    file is offered only if it is `cached` (served before its yank): a release yanked before
    anyone here took it, during its cooldown or not, never appears. A version the local
    project has (a merge) is never taken from upstream. A file named for another project is
    left out (installers ignore it; it must not take that project's filename here).
    """
    offered: list[dict[str, Any]] = []
    held: list[Held] = []
    for f in page.files:
        parsed = _parsed(str(f["filename"]))
        if parsed is not None and parsed[0] != name:
            continue
        version = parsed[1] if parsed else None
        if local_versions and (version is None or version in local_versions):
            continue
        if cutoff is not None:
            if f.get("yanked") and f["filename"] not in cached:
                continue
            t = upload_time(f)
            if t is None and not serve_undated:
                held.append(
                    Held(str(f["filename"]), version or "", datetime.max.replace(tzinfo=UTC))
                )
                continue
            if t is not None and t > cutoff:
                held.append(Held(str(f["filename"]), version or "", t + cooldown))
                continue
        offered.append(f)
    return offered, held


def _rewritten(name: str, f: dict[str, Any]) -> dict[str, Any]:
    out = dict(f)
    out["url"] = file_url(name, str(f["filename"]))
    meta = f.get("core-metadata", f.get("dist-info-metadata", False))
    out["core-metadata"] = meta
    out["dist-info-metadata"] = meta
    return out


def _held_doc(held: list[Held]) -> list[dict[str, str]]:
    return [
        {
            "filename": h.filename,
            "version": h.version,
            "eligible": h.eligible.strftime("%Y-%m-%dT%H:%M:%SZ")
            if h.eligible.year < 9999
            else "never (no upload-time)",
        }
        for h in held
    ]


def render_json(
    name: str,
    page: UpstreamPage,
    files: list[dict[str, Any]],
    held: list[Held],
    extra_files: list[dict[str, Any]] | None = None,
    upstream_url: str = "",
) -> bytes:
    """PEP 691 JSON. Held-back files are named under the private key `_vestry` (PEP 700
    reserves leading underscores for the index's own use)."""
    out_files = list(extra_files or []) + [_rewritten(name, f) for f in files]
    offered = {file_version(str(f["filename"])) for f in out_files}
    versions = page.versions
    if versions is None:
        versions = sorted({v for v in offered if v})
    else:
        hidden = {h.version for h in held} - offered
        versions = [v for v in versions if v not in hidden]
        versions += sorted({v for v in offered if v and v not in versions})
    meta = dict(page.meta)
    meta["api-version"] = API_VERSION
    doc: dict[str, Any] = {
        "meta": meta,
        "name": name,
        "files": out_files,
        "versions": versions,
        "_vestry": {"upstream": upstream_url, "held-back": _held_doc(held)},
    }
    if page.status is not None:
        doc["project-status"] = page.status
    return json.dumps(doc, separators=(",", ":")).encode()


def render_html(
    name: str,
    page: UpstreamPage,
    files: list[dict[str, Any]],
    extra_files: list[dict[str, Any]] | None = None,
) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
    ]
    if page.status is not None and page.status.get("status"):
        lines.append(
            f'    <meta name="pypi:project-status" content="{escape(str(page.status["status"]))}">'
        )
        if page.status.get("reason"):
            lines.append(
                '    <meta name="pypi:project-status-reason" '
                f'content="{escape(str(page.status["reason"]))}">'
            )
    lines += [
        f"    <title>Links for {escape(name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {escape(name)}</h1>",
    ]
    for f in list(extra_files or []) + [_rewritten(name, f) for f in files]:
        href = str(f["url"])
        hashes = f.get("hashes") or {}
        if "sha256" in hashes:
            href += f"#sha256={hashes['sha256']}"
        attrs = [f'href="{escape(href)}"']
        if f.get("requires-python"):
            attrs.append(f'data-requires-python="{escape(str(f["requires-python"]))}"')
        yanked = f.get("yanked", False)
        if yanked:
            attrs.append(f'data-yanked="{escape(yanked if isinstance(yanked, str) else "")}"')
        meta = f.get("core-metadata")
        if meta:
            value = (
                "true"
                if not isinstance(meta, dict)
                else ("sha256=" + meta["sha256"] if "sha256" in meta else "true")
            )
            attrs.append(f'data-core-metadata="{escape(value)}"')
            attrs.append(f'data-dist-info-metadata="{escape(value)}"')
        lines.append(f"    <a {' '.join(attrs)}>{escape(str(f['filename']))}</a><br>")
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines).encode()

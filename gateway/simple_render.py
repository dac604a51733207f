"""Render a project page or the root listing as PEP 503 HTML or PEP 691 JSON.

Both formats come from the same facts, so they always agree (tests parse both with pypi-simple).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from urllib.parse import quote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import iso_utc
from vestry.common.vocabulary import ProjectStatus

__all__ = [
    "API_VERSION",
    "file_url",
    "listed_files",
    "project_html",
    "project_json",
    "root_html",
    "root_json",
    "sorted_versions",
    "yank_state",
]

# 1.4: PEP 792 project status. 1.1: PEP 700 (size, upload-time, versions).
API_VERSION = "1.4"


def file_url(project: str, filename: str) -> str:
    return f"/files/{quote(project)}/{quote(filename)}"


def yank_state(
    page: index_pb2.ProjectPage, files: Iterable[index_pb2.FileRecord] | None = None
) -> dict[str, tuple[bool, str]]:
    """filename -> (yanked, reason), for the page's files or just `files`. PyPI yanks whole
    releases; a release's yank covers each of its files, and a file's own reason wins over the
    release's."""
    releases = {r.version: r for r in page.releases}
    state: dict[str, tuple[bool, str]] = {}
    for f in page.files if files is None else files:
        release = releases.get(f.version)
        yanked = f.yanked or bool(release and release.yanked)
        reason = f.yanked_reason or (release.yanked_reason if release and release.yanked else "")
        state[f.filename] = (yanked, reason if yanked else "")
    return state


def sorted_versions(page: index_pb2.ProjectPage) -> list[str]:
    def key(v: str) -> tuple[int, Version | str]:
        try:
            return (1, Version(v))
        except InvalidVersion:
            return (0, v)

    return sorted({r.version for r in page.releases}, key=key)


def listed_files(page: index_pb2.ProjectPage) -> list[index_pb2.FileRecord]:
    """The files a page offers: none for a quarantined project (PEP 792: the index MUST NOT offer
    its distributions)."""
    if page.project.status == ProjectStatus.QUARANTINED:
        return []
    return list(page.files)


def project_json(page: index_pb2.ProjectPage) -> bytes:
    name = page.project.normalized_name
    yanks = yank_state(page)
    files = []
    for f in listed_files(page):
        yanked, reason = yanks[f.filename]
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": file_url(name, f.filename),
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python or None,
            "size": f.size,
            "yanked": (reason or True) if yanked else False,
        }
        # A missing time is left out rather than invented: uv --exclude-newer then skips the file.
        if f.HasField("upload_time"):
            entry["upload-time"] = iso_utc(f.upload_time)
        if f.metadata_sha256:
            meta = {"sha256": f.metadata_sha256}
            entry["core-metadata"] = meta
            entry["dist-info-metadata"] = meta
        else:
            entry["core-metadata"] = False
            entry["dist-info-metadata"] = False
        files.append(entry)
    doc: dict[str, object] = {
        "meta": {"api-version": API_VERSION, "_last-serial": page.project.last_serial},
        "name": name,
        "files": files,
        "versions": sorted_versions(page),
        "project-status": _status(page.project),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _status(project: index_pb2.Project) -> dict[str, str]:
    status = {"status": project.status or "active"}
    if project.status_reason:
        status["reason"] = project.status_reason
    return status


def project_html(page: index_pb2.ProjectPage) -> bytes:
    name = page.project.normalized_name
    yanks = yank_state(page)
    status = page.project.status or "active"
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f'    <meta name="pypi:project-status" content="{escape(status)}">',
    ]
    if page.project.status_reason:
        lines.append(
            f'    <meta name="pypi:project-status-reason" '
            f'content="{escape(page.project.status_reason)}">'
        )
    lines += [
        f"    <title>Links for {escape(name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {escape(name)}</h1>",
    ]
    for f in listed_files(page):
        attrs = [f'href="{escape(file_url(name, f.filename))}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        yanked, reason = yanks[f.filename]
        if yanked:
            attrs.append(f'data-yanked="{escape(reason)}"')
        if f.metadata_sha256:
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
        lines.append(f"    <a {' '.join(attrs)}>{escape(f.filename)}</a><br>")
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines).encode()


def root_json(projects: list[index_pb2.ProjectSummary], serial: int) -> bytes:
    doc = {
        "meta": {"api-version": API_VERSION, "_last-serial": serial},
        "projects": [{"name": p.name, "_last-serial": p.last_serial} for p in projects],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def root_html(projects: list[index_pb2.ProjectSummary]) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        "    <title>Simple index</title>",
        "  </head>",
        "  <body>",
    ]
    for p in projects:
        normalized = p.normalized_name or canonicalize_name(p.name)
        lines.append(f'    <a href="/simple/{escape(quote(normalized))}/">{escape(p.name)}</a><br>')
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines).encode()

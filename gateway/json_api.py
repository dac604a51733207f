"""Warehouse's JSON API (`/pypi/<p>/json`, `/pypi/<p>/<v>/json`) from one ProjectPage.

Poetry, pip-audit, Renovate and dependabot read it. Field names and shapes follow PyPI's
answers; values Vestry does not track (downloads, bugtrack_url, docs_url) keep PyPI's
placeholders so strict clients do not choke on a missing key.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from packaging.version import InvalidVersion, Version
from vestry.index.v1 import index_pb2

from vestry.common.http import is_link_url
from vestry.common.protoconv import iso_utc
from vestry.common.versions import MAX_VERSION_LENGTH
from vestry.gateway.simple_render import (
    file_url,
    listed_files,
    sorted_versions,
    yank_state,
)

__all__ = ["VersionNotFound", "latest_release", "project_document", "release_document"]


class VersionNotFound(LookupError):
    """The project exists (and is visible) but has no such release."""


def _parse(version: str) -> Version | None:
    # A version named in a URL can be anything: packaging's int() of more than 4300 digits
    # raises ValueError, not InvalidVersion. No release has a longer version than the index takes.
    if len(version) > MAX_VERSION_LENGTH:
        return None
    try:
        return Version(version)
    except (InvalidVersion, ValueError):
        return None


def latest_release(page: index_pb2.ProjectPage) -> index_pb2.Release | None:
    """PyPI's choice for `info`/`urls`: the highest final release that is not yanked, else the
    highest release of any kind."""
    ranked = sorted(
        ((v, r) for r in page.releases if (v := _parse(r.version)) is not None),
        key=lambda pair: pair[0],
    )
    for version, release in reversed(ranked):
        if not version.is_prerelease and not release.yanked:
            return release
    return ranked[-1][1] if ranked else None


def _find_release(page: index_pb2.ProjectPage, version: str) -> index_pb2.Release:
    for release in page.releases:
        if release.version == version:
            return release
    wanted = _parse(version)
    if wanted is not None:
        for release in page.releases:
            if _parse(release.version) == wanted:
                return release
    raise VersionNotFound(version)


def _file(
    base: str,
    page: index_pb2.ProjectPage,
    f: index_pb2.FileRecord,
    yanks: dict[str, tuple[bool, str]],
) -> dict[str, object]:
    yanked, reason = yanks[f.filename]
    uploaded = iso_utc(f.upload_time) if f.HasField("upload_time") else None
    return {
        "comment_text": "",
        "digests": {"blake2b_256": f.blake2b_256, "md5": f.md5, "sha256": f.sha256},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python or None,
        "size": f.size,
        # PyPI's legacy field has no zone and whole seconds; the _iso_8601 one is exact.
        "upload_time": uploaded[:19] if uploaded else None,
        "upload_time_iso_8601": uploaded,
        "url": base + file_url(page.project.normalized_name, f.filename),
        "yanked": yanked,
        "yanked_reason": reason or None,
    }


def _info(
    base: str, page: index_pb2.ProjectPage, release: index_pb2.Release | None
) -> dict[str, object]:
    project = page.project
    name = project.name or project.normalized_name
    # As on PyPI: the project's page in the web UI (gateway.web.pages).
    quoted = quote(project.normalized_name)
    project_url = f"{base}/project/{quoted}/"
    r = release or index_pb2.Release()
    return {
        "author": r.author,
        "author_email": r.author_email,
        "bugtrack_url": None,
        "classifiers": list(r.classifiers),
        "description": r.description,
        "description_content_type": r.description_content_type or None,
        "docs_url": None,
        "download_url": "",
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "home_page": r.home_page if is_link_url(r.home_page) else "",
        "keywords": r.keywords,
        "license": r.license,
        "maintainer": r.maintainer,
        "maintainer_email": r.maintainer_email,
        "name": name,
        "package_url": project_url,
        "platform": None,
        "project_url": project_url,
        # Stored before uploads were checked, a javascript: URL must still never become a link.
        "project_urls": {k: v for k, v in r.project_urls.items() if is_link_url(v)} or None,
        "release_url": f"{base}/pypi/{quoted}/{quote(r.version)}/json" if release else None,
        "requires_dist": list(r.requires_dist) or None,
        "requires_python": r.requires_python or None,
        "summary": r.summary,
        "version": r.version,
        "yanked": r.yanked,
        "yanked_reason": r.yanked_reason or None,
    }


def _files_by_version(base: str, page: index_pb2.ProjectPage) -> dict[str, list[dict[str, object]]]:
    yanks = yank_state(page)
    out: dict[str, list[dict[str, object]]] = {v: [] for v in sorted_versions(page)}
    for f in listed_files(page):
        out.setdefault(f.version, []).append(_file(base, page, f, yanks))
    return out


def _dump(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def project_document(base: str, page: index_pb2.ProjectPage) -> bytes:
    """`/pypi/<p>/json`. `base` is the absolute origin (scheme://host[:port]) for URLs."""
    releases = _files_by_version(base, page)
    latest = latest_release(page)
    return _dump(
        {
            "info": _info(base, page, latest),
            "last_serial": page.project.last_serial,
            "releases": releases,
            "urls": releases.get(latest.version, []) if latest else [],
            "vulnerabilities": [],
        }
    )


def release_document(base: str, page: index_pb2.ProjectPage, version: str) -> bytes:
    """`/pypi/<p>/<v>/json`; raises VersionNotFound. Like PyPI, it has no `releases` key."""
    release = _find_release(page, version)
    # Only this release's files: a project may have 30,000 others.
    files = [f for f in listed_files(page) if f.version == release.version]
    yanks = yank_state(page, files)
    return _dump(
        {
            "info": _info(base, page, release),
            "last_serial": page.project.last_serial,
            "urls": [_file(base, page, f, yanks) for f in files],
            "vulnerabilities": [],
        }
    )

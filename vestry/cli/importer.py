"""`vestry import SOURCE`: bring distributions over from another index.

SOURCE is a directory of distributions (pypiserver's packages directory: searched recursively,
dot-files skipped) or the URL of a PEP 503/691 simple index (devpi `/USER/INDEX/+simple/`,
Artifactory `/api/pypi/REPO/simple/`, pypiserver, another Vestry), with credentials in the URL,
in --source-user/--source-password, or an API token in --source-token.

Every file is checked before it is sent: its SHA-256 against the one the source advertises
(`#sha256=` or PEP 691 `hashes`), and uploaded with its digest, which the target checks again.
What the target already holds (same filename, same SHA-256) is skipped, so an interrupted import
is resumed by running it again. Upload times are kept where the source has them (PEP 691/700
`upload-time`; a directory's file modification times) when the importing token belongs to an
administrator. `--dry-run` lists what would happen and sends nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urldefrag, urljoin, urlsplit, urlunsplit

import httpx
from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from vestry.cli._command import SubParsers, add_command
from vestry.cli._command import segment as q
from vestry.cli.api import Api, describe_http_error
from vestry.cli.errors import CliError
from vestry.gateway.upload.form import MULTI_META, SINGLE_META

__all__ = ["SourceFile", "add_commands", "directory_files", "index_files", "upload_fields"]

JSON = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass
class SourceFile:
    project: str  # as the source names it
    filename: str
    location: str  # a path, or an absolute URL
    sha256: str = ""  # as advertised by the source ("" when it advertises none)
    upload_time: datetime | None = None
    yanked: bool = False


@dataclass
class Summary:
    imported: int = 0
    skipped: int = 0
    bytes: int = 0
    times_kept: int = 0
    projects: set[str] = field(default_factory=set)
    failures: list[tuple[str, str]] = field(default_factory=list)
    planned: int = 0


# ---- sources -------------------------------------------------------------------------------


def _dist_name(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def directory_files(root: Path) -> list[SourceFile]:
    """The distributions under `root` (pypiserver's layout: flat or one folder per project)."""
    found: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(_SUFFIXES):
                continue
            project = _dist_name(name)
            if project is None:
                continue
            path = Path(dirpath) / name
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            found.append(SourceFile(project, name, str(path), upload_time=mtime))
    return found


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, dict[str, str | None]]] = []
        self._attrs: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._attrs, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._attrs is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._attrs is not None:
            self.links.append(
                ("".join(self._text).strip(), self._attrs.get("href") or "", self._attrs)
            )
            self._attrs = None


def _get(client: httpx.Client, url: str) -> httpx.Response:
    r = client.get(url, headers={"Accept": ACCEPT}, follow_redirects=True)
    if r.status_code in (401, 403):
        raise CliError(f"the source refused {url} ({r.status_code}): check its credentials")
    r.raise_for_status()
    return r


def _is_json(r: httpx.Response) -> bool:
    media: str = r.headers.get("content-type", "")
    return media.split(";")[0].strip() == JSON


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def index_files(
    client: httpx.Client, root_url: str, only: Iterable[str] = ()
) -> Iterator[SourceFile]:
    """Every file of every project of the simple index at `root_url` (JSON when offered)."""
    root_url = root_url if root_url.endswith("/") else root_url + "/"
    wanted = {canonicalize_name(n) for n in only}
    r = _get(client, root_url)
    if _is_json(r):
        pages = [
            (p["name"], urljoin(root_url, quote(canonicalize_name(p["name"])) + "/"))
            for p in r.json().get("projects", [])
        ]
    else:
        parser = _Links()
        parser.feed(r.text)
        pages = [(text, urljoin(str(r.url), href)) for text, href, _ in parser.links if text]
    for name, page_url in pages:
        if wanted and canonicalize_name(name) not in wanted:
            continue
        yield from _project_files(client, name, page_url)


def _project_files(client: httpx.Client, name: str, page_url: str) -> Iterator[SourceFile]:
    r = _get(client, page_url)
    if _is_json(r):
        for f in r.json().get("files", []):
            yield SourceFile(
                name,
                f["filename"],
                urljoin(str(r.url), f["url"]),
                sha256=f.get("hashes", {}).get("sha256", ""),
                upload_time=_time(f.get("upload-time")),
                yanked=bool(f.get("yanked")),
            )
        return
    parser = _Links()
    parser.feed(r.text)
    for text, href, attrs in parser.links:
        url, fragment = urldefrag(urljoin(str(r.url), href))
        algo, _, digest = fragment.partition("=")
        filename = text or url.rsplit("/", 1)[-1]
        if not filename.endswith(_SUFFIXES):
            continue
        yield SourceFile(
            name,
            filename,
            url,
            sha256=digest if algo == "sha256" else "",
            yanked="data-yanked" in attrs,
        )


# ---- the upload form -----------------------------------------------------------------------

# twine's form fields, as the gateway reads them (single ones, and RawMetadata key -> field).
_SINGLE = tuple(SINGLE_META)
_MULTI = {raw_key: form_key for form_key, raw_key in MULTI_META.items()}


def _metadata_bytes(filename: str, data: bytes) -> bytes:
    """The file's core metadata: a wheel's .dist-info/METADATA, an sdist's PKG-INFO."""
    if filename.endswith((".whl", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if filename.endswith(".whl"):
                hits = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            else:
                hits = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            if not hits:
                raise ValueError("no core metadata (METADATA / PKG-INFO) in the archive")
            return zf.read(hits[0])
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for member in tf:
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                extracted = tf.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise ValueError("no PKG-INFO in the sdist")


def upload_fields(filename: str, data: bytes) -> dict[str, Any]:
    """The legacy upload form twine would send for this file."""
    raw, _ = parse_email(_metadata_bytes(filename, data))
    meta: dict[str, Any] = dict(raw)
    wheel = filename.endswith(".whl")
    pyversion = "source"
    if wheel:
        pyversion = filename[:-4].split("-")[-3]
    fields: dict[str, Any] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": meta.get("metadata_version", "1.0"),
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": pyversion,
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    for key in _SINGLE:
        if meta.get(key):
            fields[key] = meta[key]
    if meta.get("keywords"):
        fields["keywords"] = ",".join(meta["keywords"])
    for key, form in _MULTI.items():
        if meta.get(key):
            fields[form] = list(meta[key])
    if meta.get("project_urls"):
        fields["project_urls"] = [f"{k}, {v}" for k, v in meta["project_urls"].items()]
    return fields


# ---- the import ----------------------------------------------------------------------------


class Progress:
    """A one-line bar on a terminal; a line per file elsewhere (CI logs)."""

    def __init__(self, total: int, stream: Any = sys.stderr, enabled: bool = True) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.enabled = enabled

    def step(self, what: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {what[:50]:<50}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {what}\n")
        self.stream.flush()


def _present(target: Api, project: str) -> dict[str, str]:
    """filename -> sha256 of what the target already has of `project`."""
    r = target.send("GET", f"/simple/{q(canonicalize_name(project))}/", headers={"Accept": JSON})
    if r.status_code == 404:
        return {}
    if r.status_code >= 400:
        raise CliError(f"the target's page of {project}: {describe_http_error(r)}")
    return {f["filename"]: f.get("hashes", {}).get("sha256", "") for f in r.json()["files"]}


def _read(source: httpx.Client | None, f: SourceFile) -> bytes:
    if source is None:
        return Path(f.location).read_bytes()
    r = source.get(f.location, follow_redirects=True)
    r.raise_for_status()
    return r.content


def _keep_time(target: Api, f: SourceFile, project: str, summary: Summary) -> str:
    if f.upload_time is None:
        return ""
    path = f"/projects/{q(project)}/files/{q(f.filename)}/upload-time"
    try:
        target.call("PUT", path, {"upload_time": f.upload_time.astimezone(UTC).isoformat()})
    except CliError as exc:
        return f"upload time not kept ({exc.message})"
    summary.times_kept += 1
    return ""


def _one(
    target: Api,
    source: httpx.Client | None,
    f: SourceFile,
    present: dict[str, str],
    summary: Summary,
    dry_run: bool,
) -> str:
    """Import one file; returns what happened, for the progress line."""
    known = present.get(f.filename)
    if known is not None and (not f.sha256 or known == f.sha256):
        summary.skipped += 1
        return f"{f.filename}: already there"
    if dry_run:
        summary.planned += 1
        return f"{f.filename}: would be imported"
    data = _read(source, f)
    digest = hashlib.sha256(data).hexdigest()
    if f.sha256 and digest != f.sha256:
        raise ValueError(f"SHA-256 mismatch: the source advertises {f.sha256}, got {digest}")
    if known is not None:
        if known == digest:
            summary.skipped += 1
            return f"{f.filename}: already there"
        raise ValueError("the target holds different bytes under this filename")
    fields = upload_fields(f.filename, data)
    r = target.send(
        "POST",
        "/legacy/",
        data=fields,
        files={"content": (f.filename, data, "application/octet-stream")},
    )
    if r.status_code >= 400:
        raise ValueError(f"upload refused ({describe_http_error(r)})")
    summary.imported += 1
    summary.bytes += len(data)
    summary.projects.add(canonicalize_name(fields.get("name", f.project)))
    note = _keep_time(target, f, fields.get("name", f.project), summary)
    return f"{f.filename}: imported" + (f"; {note}" if note else "")


def _source_client(args: argparse.Namespace) -> httpx.Client:
    parts = urlsplit(args.source)
    auth: httpx.Auth | tuple[str, str] | None = None
    url = args.source
    if parts.username is not None:  # credentials in the URL: sent as Basic, kept out of logs
        auth = (parts.username, parts.password or "")
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if args.source_user or args.source_password:
        auth = (args.source_user, args.source_password)
    if args.source_token:
        auth = ("__token__", args.source_token)
    args.source_url = url
    return httpx.Client(auth=auth, timeout=args.timeout)


def run_import(args: argparse.Namespace) -> int:
    started = time.monotonic()
    source: httpx.Client | None = None
    if urlsplit(args.source).scheme in ("http", "https"):
        source = _source_client(args)
        try:
            files = list(index_files(source, args.source_url, args.project))
        except httpx.HTTPError as exc:
            raise CliError(f"cannot read the source index: {exc}") from exc
    else:
        root = Path(args.source)
        if not root.is_dir():
            raise CliError(f"{args.source} is neither a directory nor an http(s) URL")
        files = directory_files(root)
        if args.project:
            wanted = {canonicalize_name(p) for p in args.project}
            files = [f for f in files if canonicalize_name(f.project) in wanted]
    summary = Summary()
    progress = Progress(len(files), enabled=not args.quiet)
    target = Api.from_args(args)
    target.call("GET", "/projects?limit=1")  # reachable, token good
    present_by_project: dict[str, dict[str, str]] = {}
    for f in files:
        key = canonicalize_name(f.project)
        if key not in present_by_project:
            present_by_project[key] = _present(target, f.project)
        try:
            what = _one(target, source, f, present_by_project[key], summary, args.dry_run)
        except CliError as exc:  # the target unreachable mid-way: this file failed
            summary.failures.append((f.filename, exc.message))
            what = f"{f.filename}: FAILED ({exc.message})"
        except (ValueError, httpx.HTTPError, zipfile.BadZipFile, tarfile.TarError) as exc:
            summary.failures.append((f.filename, str(exc)))
            what = f"{f.filename}: FAILED ({exc})"
        progress.step(what)
    if source is not None:
        source.close()
    _print_summary(summary, len(files), args.dry_run, time.monotonic() - started)
    return 1 if summary.failures else 0


def _print_summary(summary: Summary, found: int, dry_run: bool, seconds: float) -> None:
    print(f"found {found} file(s) at the source")
    if dry_run:
        print(
            f"dry run: {summary.planned} to import, {summary.skipped} already there; nothing sent"
        )
    else:
        print(
            f"imported {summary.imported} file(s) ({summary.bytes / 1e6:.1f} MB) into "
            f"{len(summary.projects)} project(s), kept {summary.times_kept} upload time(s); "
            f"{summary.skipped} already there; {len(summary.failures)} failed; "
            f"{seconds:.1f} s"
        )
    for filename, reason in summary.failures:
        print(f"  failed: {filename}: {reason}")


def add_commands(sub: SubParsers) -> None:
    """Register `vestry import SOURCE`."""
    p = add_command(
        sub,
        "import",
        run_import,
        "import distributions from a directory (pypiserver) or a simple index (devpi, ...)",
    )
    p.description = __doc__.split("\n\n")[1] if __doc__ else None
    p.add_argument("source", help="a directory, or the URL of a simple index (…/simple/)")
    p.add_argument("--source-user", default="", help="Basic auth user for the source")
    p.add_argument("--source-password", default="", help="Basic auth password for the source")
    p.add_argument("--source-token", default="", help="an API token for the source (Vestry)")
    p.add_argument("--project", action="append", default=[], help="only this project (repeat)")
    p.add_argument("--dry-run", action="store_true", help="list what would happen; send nothing")
    p.add_argument("--quiet", action="store_true", help="no progress, only the summary")

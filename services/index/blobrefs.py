"""Every blob the index references: what `vestry fsck` checks and what `vestry gc` keeps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from vestry.services.index import models as m
from vestry.services.index.txn import keyset_pages
from vestry.services.index.upstream import upstream_blob_references

__all__ = ["BlobReference", "blob_references"]

PAGE = 1000


@dataclass(frozen=True)
class BlobReference:
    blob_key: str
    kind: Literal["file", "metadata"]
    project_name: str
    filename: str  # of the distribution; for metadata, the file it belongs to
    expected_sha256: str
    expected_size: int  # 0: not recorded (metadata blobs)
    upstream_cache: bool = False  # a cached upstream blob: `vestry gc --prune-upstream` may go


def blob_references(
    source: Engine | sessionmaker[Session], page: int = PAGE
) -> Iterator[list[BlobReference]]:
    """Every file's blob and PEP 658 metadata blob, then the upstream proxy's cached blobs
    (`upstream_cache`), in pages of about `page` files.

    Each page is read in its own short transaction (keyset on the file id), so a long listing
    never holds a database snapshot open. A file committed during the listing may be missed;
    gc's grace period covers that, because its blob was written moments before.
    """
    sessions = source if isinstance(source, sessionmaker) else sessionmaker(source)
    files = select(
        m.File.id,
        m.File.filename,
        m.File.blob_key,
        m.File.sha256,
        m.File.size,
        m.File.metadata_blob_key,
        m.File.metadata_sha256,
        m.Project.name,
    ).join(m.Project, m.Project.id == m.File.project_id)
    for rows in keyset_pages(sessions, files, m.File.id, "", page):
        refs: list[BlobReference] = []
        for _, filename, key, sha256, size, md_key, md_sha256, project in rows:
            refs.append(BlobReference(key, "file", project, filename, sha256, size))
            if md_key:
                refs.append(BlobReference(md_key, "metadata", project, filename, md_sha256, 0))
        yield refs
    # Then the upstream proxy's cache (docs/proxy.md): kept and checked like uploads.
    for cached in upstream_blob_references(sessions, page):
        yield [
            BlobReference(key, "file" if size else "metadata", name, fn, sha, size, True)
            for key, name, fn, sha, size in cached
        ]

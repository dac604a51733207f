"""The index's data for tests: callers, file records for the index service, and rows written
with the index's own models (for storage maintenance, which reads them)."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from vestry.common.db import make_engine, migrate
from vestry.services.index import models as m
from vestry.services.index.access import Caller
from vestry.services.index.records import CommitResult, FileData
from vestry.services.index.server import MIGRATIONS, VERSION_TABLE

_counter = itertools.count()


def user(name: str, **kwargs: object) -> Caller:
    """An authenticated caller whose id is derived from the name (stable within a test)."""
    return Caller(
        authenticated=True,
        user_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        username=name,
        **kwargs,  # type: ignore[arg-type]
    )


ADMIN = user("root", admin=True)

# What the index tests' `upload` fixture is: (caller, project, version="1.0", tag=...) -> result.
Upload = Callable[..., CommitResult]


def file_for(
    project: str, version: str, tag: str = "py3-none-any", content: bytes = b""
) -> FileData:
    """A wheel's record as the gateway sends it to the index; unique content unless given."""
    stem = project.replace("-", "_")
    filename = f"{stem}-{version}-{tag}.whl"
    data = content or f"{filename}:{next(_counter)}".encode()
    sha = hashlib.sha256(data).hexdigest()
    return FileData(
        filename=filename,
        version=version,
        packagetype="bdist_wheel",
        python_version="py3",
        requires_python=">=3.9",
        size=len(data),
        sha256=sha,
        blake2b_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - a legacy digest clients ask for
        blob_key=f"sha256/{sha}",
    )


def index_engine(url: str) -> Engine:
    """A migrated index database; the caller disposes of the engine."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


def add_file(
    engine: Engine,
    project: str,
    filename: str,
    data: bytes,
    metadata: bytes | None = None,
    *,
    blob_key: str | None = None,
) -> tuple[str, str]:
    """Record `filename` with `data` (and PEP 658 `metadata`); return (blob key, metadata key)."""
    now = datetime.now(UTC)
    sha256 = hashlib.sha256(data).hexdigest()
    md_key = hashlib.sha256(metadata).hexdigest() if metadata is not None else ""
    with Session(engine) as s, s.begin():
        proj = s.scalar(select(m.Project).where(m.Project.normalized_name == project))
        if proj is None:
            proj = m.Project(
                id=str(uuid.uuid4()),
                name=project,
                normalized_name=project,
                ultranormalized_name=project,
                created=now,
            )
            s.add(proj)
            s.flush()
        rel = m.Release(
            id=str(uuid.uuid4()),
            project_id=proj.id,
            version=filename,
            canonical_version=filename,
            created=now,
        )
        s.add(rel)
        s.flush()
        s.add(
            m.File(
                id=str(uuid.uuid4()),
                project_id=proj.id,
                release_id=rel.id,
                filename=filename,
                packagetype="bdist_wheel",
                size=len(data),
                sha256=sha256,
                blake2b_256=hashlib.blake2b(data, digest_size=32).hexdigest(),
                md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                blob_key=blob_key if blob_key is not None else sha256,
                metadata_blob_key=md_key,
                metadata_sha256=md_key,
                upload_time=now,
            )
        )
    return (blob_key if blob_key is not None else sha256), md_key

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from vestry.common.db import make_engine, migrate
from vestry.services.index.access import Caller
from vestry.services.index.records import CommitResult, FileData, ReleaseData
from vestry.services.index.server import MIGRATIONS, VERSION_TABLE
from vestry.services.index.service import IndexService

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


def file_for(
    project: str, version: str, tag: str = "py3-none-any", content: bytes = b""
) -> FileData:
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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate(eng, MIGRATIONS, VERSION_TABLE)
    yield eng
    eng.dispose()


@pytest.fixture
def index(engine: Engine) -> IndexService:
    return IndexService(engine)


Upload = Callable[..., CommitResult]


@pytest.fixture
def upload(index: IndexService) -> Upload:
    def _upload(
        caller: Caller, project: str, version: str = "1.0", tag: str = "py3-none-any"
    ) -> CommitResult:
        f = file_for(project, version, tag)
        return index.uploads.commit_file(caller, project, ReleaseData(version=version), f)

    return _upload

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.factories.index import Upload, file_for, index_engine
from vestry.services.index.access import Caller
from vestry.services.index.records import CommitResult, ReleaseData
from vestry.services.index.service import IndexService


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = index_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def index(engine: Engine) -> IndexService:
    return IndexService(engine)


@pytest.fixture
def upload(index: IndexService) -> Upload:
    def _upload(
        caller: Caller, project: str, version: str = "1.0", tag: str = "py3-none-any"
    ) -> CommitResult:
        f = file_for(project, version, tag)
        return index.uploads.commit_file(caller, project, ReleaseData(version=version), f)

    return _upload

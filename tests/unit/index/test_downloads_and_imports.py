"""Download counts (batches from the gateways) and upload times set by an import, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories.index import ADMIN, Upload, user
from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied
from vestry.services.index.service import IndexService

ALICE = user("alice")


def test_batches_add_up_per_file_and_skip_what_is_not_there(
    index: IndexService, upload: Upload
) -> None:
    first = upload(ALICE, "my-lib", "1.0").file.filename
    second = upload(ALICE, "my-lib", "2.0").file.filename
    other = upload(ALICE, "other", "1.0").file.filename
    downloads = index.downloads
    assert downloads.record([("My_Lib", first, 2), ("my-lib", second, 1)]) == 2
    # Another gateway's batch, a file of another project named wrongly, and an unknown file.
    applied = downloads.record(
        [("my-lib", first, 3), ("my-lib", other, 5), ("my-lib", "gone.whl", 1), ("x", first, 1)]
    )
    assert applied == 1
    counts = downloads.counts(ADMIN, "my-lib")
    assert counts.files == {first: 5, second: 1} and counts.total == 6
    assert downloads.counts(ADMIN, "other").total == 0
    serial = index.pages.global_serial()
    downloads.record([("my-lib", first, 1)])
    assert index.pages.global_serial() == serial  # counts move no serial: no cached page changes


def test_only_administrators_set_a_past_upload_time(index: IndexService, upload: Upload) -> None:
    filename = upload(ALICE, "my-lib", "1.0").file.filename
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(PermissionDenied):
        index.downloads.set_upload_time(ALICE, "my-lib", filename, when)
    before = index.pages.project_page(ADMIN, "my-lib").project.last_serial
    serial = index.downloads.set_upload_time(ADMIN, "My.Lib", filename, when)
    page = index.pages.project_page(ADMIN, "my-lib")
    assert page.project.last_serial == serial > before
    stored = page.files[0].upload_time
    assert stored is not None and stored.replace(tzinfo=UTC) == when
    kinds = [e.kind for e in index.management.list_events(ADMIN, "my-lib", 10, 0)]
    assert "file.upload-time" in kinds
    with pytest.raises(InvalidArgument):
        future = datetime.now(UTC) + timedelta(days=1)
        index.downloads.set_upload_time(ADMIN, "my-lib", filename, future)
    with pytest.raises(NotFound):
        index.downloads.set_upload_time(ADMIN, "other", filename, when)

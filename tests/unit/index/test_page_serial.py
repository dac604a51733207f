"""GetProjectPage's known_serial: a current copy gets only the header, access still checked."""

from __future__ import annotations

import pytest

from services.index.access import Caller
from services.index.service import IndexService
from tests.unit.index.conftest import Upload, user
from vestry.common.errors import NotFound, Unauthenticated

OWNER = user("serial-owner")


def test_current_serial_answers_unchanged_and_a_stale_one_the_whole_page(
    index: IndexService, upload: Upload
) -> None:
    upload(OWNER, "serial-proj", "1.0")
    full = index.project_page(OWNER, "serial-proj")
    assert not full.unchanged and len(full.files) == 1
    serial = full.project.last_serial

    same = index.project_page(OWNER, "serial-proj", known_serial=serial)
    assert same.unchanged and same.files == [] and same.project.last_serial == serial

    upload(OWNER, "serial-proj", "2.0")
    newer = index.project_page(OWNER, "serial-proj", known_serial=serial)
    assert not newer.unchanged
    assert newer.project.last_serial > serial
    assert len(newer.files) == 2


def test_known_serial_does_not_bypass_access(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-private", "1.0")
    serial = index.project_page(OWNER, "serial-private").project.last_serial
    with pytest.raises(NotFound):
        index.project_page(user("serial-stranger"), "serial-private", known_serial=serial)
    with pytest.raises(Unauthenticated):
        index.project_page(Caller(), "serial-private", known_serial=serial)


def test_every_write_moves_the_global_serial(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-roles", "1.0")
    before = index.global_serial()
    index.set_role(OWNER, "serial-roles", "reader-id", "serial-reader", "reader")
    after_grant = index.global_serial()
    assert after_grant > before
    index.remove_role(OWNER, "serial-roles", "serial-reader")
    assert index.global_serial() > after_grant


def test_a_listing_is_read_after_its_serial(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-listing", "1.0")
    projects, serial = index.list_projects(OWNER)
    assert serial == index.global_serial()
    assert "serial-listing" in {p.normalized_name for p in projects}

"""GetProjectPage's known_serial and held pages: a current copy gets only the header, access
still checked; the servicer builds a page once per (project, serial)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from vestry.index.v1 import index_pb2

from tests.factories.index import Upload, user
from vestry.common.errors import NotFound, Unauthenticated
from vestry.services.index.access import Caller
from vestry.services.index.service import IndexService
from vestry.services.index.servicer import IndexServicer

OWNER = user("serial-owner")


def test_current_serial_answers_unchanged_and_a_stale_one_the_whole_page(
    index: IndexService, upload: Upload
) -> None:
    upload(OWNER, "serial-proj", "1.0")
    full = index.pages.project_page(OWNER, "serial-proj")
    assert not full.unchanged and len(full.files) == 1
    serial = full.project.last_serial

    same = index.pages.project_page(OWNER, "serial-proj", known_serial=serial)
    assert same.unchanged and same.files == [] and same.project.last_serial == serial

    upload(OWNER, "serial-proj", "2.0")
    newer = index.pages.project_page(OWNER, "serial-proj", known_serial=serial)
    assert not newer.unchanged
    assert newer.project.last_serial > serial
    assert len(newer.files) == 2


def test_known_serial_does_not_bypass_access(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-private", "1.0")
    serial = index.pages.project_page(OWNER, "serial-private").project.last_serial
    with pytest.raises(NotFound):
        index.pages.project_page(user("serial-stranger"), "serial-private", known_serial=serial)
    with pytest.raises(Unauthenticated):
        index.pages.project_page(Caller(), "serial-private", known_serial=serial)


def test_every_write_moves_the_global_serial(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-roles", "1.0")
    before = index.pages.global_serial()
    index.management.set_role(OWNER, "serial-roles", "reader-id", "serial-reader", "reader")
    after_grant = index.pages.global_serial()
    assert after_grant > before
    index.management.remove_role(OWNER, "serial-roles", "serial-reader")
    assert index.pages.global_serial() > after_grant


def test_a_listing_is_read_after_its_serial(index: IndexService, upload: Upload) -> None:
    upload(OWNER, "serial-listing", "1.0")
    projects, serial = index.pages.list_projects(OWNER)
    assert serial == index.pages.global_serial()
    assert "serial-listing" in {p.normalized_name for p in projects}


def test_a_held_page_gets_only_the_header_until_its_serial_moves(
    index: IndexService, upload: Upload
) -> None:
    upload(OWNER, "held-proj", "1.0")
    full = index.pages.project_page(OWNER, "held-proj")
    key = (full.project.id, full.project.last_serial)
    asked: list[tuple[str, int]] = []

    def held(project_id: str, serial: int) -> bool:
        asked.append((project_id, serial))
        return (project_id, serial) == key

    same = index.pages.project_page(OWNER, "held-proj", held=held)
    assert same.unchanged and same.files == [] and asked == [key]
    upload(OWNER, "held-proj", "2.0")
    newer = index.pages.project_page(OWNER, "held-proj", held=held)
    assert not newer.unchanged and len(newer.files) == 2
    with pytest.raises(NotFound):  # holding a page is no licence to read it
        index.pages.project_page(user("held-stranger"), "held-proj", held=lambda *_: True)


def _caller(name: str) -> index_pb2.Caller:
    c = user(name)
    return index_pb2.Caller(authenticated=True, user_id=c.user_id, username=c.username)


def test_the_servicer_builds_each_page_once_and_answers_known_serials_with_the_header(
    index: IndexService, upload: Upload
) -> None:
    servicer = IndexServicer(index)
    context: Any = None  # no call here reaches the context

    def get(known_serial: int = 0, who: str = "serial-owner") -> index_pb2.ProjectPage:
        request = index_pb2.GetProjectPageRequest(
            caller=_caller(who), name="built-proj", known_serial=known_serial
        )
        return asyncio.run(servicer.GetProjectPage(request, context))

    upload(OWNER, "built-proj", "1.0")
    first = get()
    assert not first.unchanged and len(first.files) == 1
    assert get() is first  # built once for this serial, shared
    header = get(known_serial=first.project.last_serial)
    assert header.unchanged and not header.files
    upload(OWNER, "built-proj", "2.0")
    second = get(known_serial=first.project.last_serial)
    assert second is not first and not second.unchanged and len(second.files) == 2
    with pytest.raises(NotFound):
        get(who="serial-stranger")

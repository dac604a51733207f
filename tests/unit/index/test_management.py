"""Yank, delete, visibility, status, roles and events, as the project page shows them."""

from __future__ import annotations

import pytest

from tests.factories.index import ADMIN, Upload, file_for, user
from vestry.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from vestry.services.index.records import ReleaseData
from vestry.services.index.service import IndexService

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def yanks(index: IndexService) -> dict[str, tuple[bool, str]]:
    return {
        f.filename: (f.yanked, f.yanked_reason)
        for f in index.pages.project_page(ALICE, "lib").files
    }


def test_yank_file_and_release(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib", "1.0")
    upload(ALICE, "lib", "1.0", tag="py2-none-any")
    upload(ALICE, "lib", "2.0")
    serial = index.pages.project_page(ALICE, "lib").project.last_serial
    new = index.management.set_yanked(
        ALICE, "lib", filename="lib-1.0-py2-none-any.whl", reason="py2 is dead"
    )
    assert new > serial
    assert yanks(index) == {
        "lib-1.0-py2-none-any.whl": (True, "py2 is dead"),
        "lib-1.0-py3-none-any.whl": (False, ""),
        "lib-2.0-py3-none-any.whl": (False, ""),
    }
    index.management.set_yanked(ALICE, "lib", version="2.0", reason="broken import")
    page = index.pages.project_page(ALICE, "lib")
    assert {r.version: (r.yanked, r.yanked_reason) for r in page.releases} == {
        "1.0": (False, ""),
        "2.0": (True, "broken import"),
    }
    assert yanks(index)["lib-2.0-py3-none-any.whl"] == (True, "broken import")
    # A file added to a yanked release is yanked with it.
    upload(ALICE, "lib", "2.0", tag="py2-none-any")
    assert yanks(index)["lib-2.0-py2-none-any.whl"] == (True, "broken import")
    index.management.set_yanked(ALICE, "lib", version="2.0", yanked=False)
    index.management.set_yanked(ALICE, "lib", filename="lib-1.0-py2-none-any.whl", yanked=False)
    assert all(y == (False, "") for y in yanks(index).values())


@pytest.mark.parametrize(
    ("role", "may_yank", "may_delete"),
    [("reader", False, False), ("maintainer", True, False), ("owner", True, True)],
)
def test_who_may_yank_and_delete(
    index: IndexService, upload: Upload, role: str, may_yank: bool, may_delete: bool
) -> None:
    upload(ALICE, "lib")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", role)
    if may_yank:
        index.management.set_yanked(BOB, "lib", version="1.0", reason="x")
    else:
        with pytest.raises(PermissionDenied):
            index.management.set_yanked(BOB, "lib", version="1.0", reason="x")
    if may_delete:
        index.management.delete(BOB, "lib", version="1.0")
    else:
        with pytest.raises(PermissionDenied):
            index.management.delete(BOB, "lib", version="1.0")
    with pytest.raises(NotFound):
        index.management.delete(CAROL, "lib", version="1.0")


def test_deleted_filenames_are_never_reused(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib", "1.0")
    upload(ALICE, "lib", "1.0", tag="py2-none-any")
    upload(ALICE, "lib", "2.0")
    index.management.delete(ALICE, "lib", filename="lib-1.0-py2-none-any.whl")
    page = index.pages.project_page(ALICE, "lib")
    assert [f.filename for f in page.files] == [
        "lib-1.0-py3-none-any.whl",
        "lib-2.0-py3-none-any.whl",
    ]
    index.management.delete(ALICE, "lib", version="2.0")
    page = index.pages.project_page(ALICE, "lib")
    assert [r.version for r in page.releases] == ["1.0"]
    assert [f.filename for f in page.files] == ["lib-1.0-py3-none-any.whl"]
    with pytest.raises(NotFound):
        index.pages.get_file(ALICE, "lib", "lib-2.0-py3-none-any.whl")
    # Different bytes under a used filename: refused, at check time and at commit time.
    for version, tag in (("1.0", "py2-none-any"), ("2.0", "py3-none-any")):
        f = file_for("lib", version, tag)
        with pytest.raises(InvalidArgument, match="already been used"):
            index.uploads.check_upload(ALICE, "lib", version, f.filename, f.sha256, f.blake2b_256)
        with pytest.raises(InvalidArgument, match="already been used"):
            index.uploads.commit_file(ALICE, "lib", ReleaseData(version=version), f)
    # Deleting the last file of a release removes the release.
    index.management.delete(ALICE, "lib", filename="lib-1.0-py3-none-any.whl")
    page = index.pages.project_page(ALICE, "lib")
    assert page.releases == [] and page.files == []


def test_deleting_a_whole_project(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib", "1.0")
    upload(ALICE, "lib", "2.0")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", "maintainer")
    with pytest.raises(PermissionDenied):
        index.management.delete(BOB, "lib", whole_project=True)  # maintainers may not
    with pytest.raises(InvalidArgument, match="one of"):
        index.management.delete(ALICE, "lib", version="1.0", whole_project=True)
    old_id = index.pages.project_page(ALICE, "lib").project.id
    before = index.pages.global_serial()

    assert index.management.delete(ALICE, "lib", whole_project=True) > before
    with pytest.raises(NotFound):
        index.pages.project_page(ALICE, "lib")
    with pytest.raises(NotFound):
        index.pages.get_file(ALICE, "lib", "lib-1.0-py3-none-any.whl")
    assert "lib" not in {p.normalized_name for p in index.pages.list_projects(ALICE)[0]}
    assert "lib" not in {p.normalized_name for p in index.pages.list_projects(BOB)[0]}  # roles gone
    # The history stays, for administrators; the name is free again, the filenames are not.
    deleted = [e for e in index.management.list_events(ADMIN) if e.kind == "project.delete"]
    assert deleted[0].detail == {
        "name": "lib",
        "filenames": ["lib-1.0-py3-none-any.whl", "lib-2.0-py3-none-any.whl"],
    }
    upload(CAROL, "lib", "3.0")
    page = index.pages.project_page(CAROL, "lib")
    assert page.project.id != old_id and [r.version for r in page.releases] == ["3.0"]
    f = file_for("lib", "1.0")
    with pytest.raises(InvalidArgument, match="already been used"):
        index.uploads.commit_file(CAROL, "lib", ReleaseData(version="1.0"), f)


def test_visibility_and_anonymous_reads(index: IndexService, upload: Upload) -> None:
    from vestry.services.index.access import ANONYMOUS

    upload(ALICE, "lib")
    index.management.set_visibility(ALICE, "lib", "public")
    assert index.pages.project_page(ANONYMOUS, "lib").project.visibility == "public"
    assert (
        index.pages.get_file(BOB, "lib", "lib-1.0-py3-none-any.whl").project_visibility == "public"
    )
    index.management.set_visibility(ALICE, "lib", "private")
    with pytest.raises(NotFound):
        index.pages.project_page(BOB, "lib")


def test_project_status(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    index.management.set_status(ALICE, "lib", "archived", "moved to lib2")
    project = index.pages.project_page(ALICE, "lib").project
    assert (project.status, project.status_reason) == ("archived", "moved to lib2")
    with pytest.raises(FailedPrecondition, match="archived"):
        upload(ALICE, "lib", "2.0")
    f = file_for("lib", "2.0")
    with pytest.raises(FailedPrecondition, match="archived"):
        index.uploads.check_upload(ALICE, "lib", "2.0", f.filename, f.sha256, f.blake2b_256)
    index.management.set_status(ALICE, "lib", "deprecated")
    upload(ALICE, "lib", "2.0")
    with pytest.raises(PermissionDenied, match="administrators"):
        index.management.set_status(ALICE, "lib", "quarantined")
    with pytest.raises(InvalidArgument):
        index.management.set_status(ALICE, "lib", "deleted")
    index.management.set_status(ADMIN, "lib", "quarantined", "malware report #12")
    # Quarantined: listed with its status, but nothing to install or download.
    page = index.pages.project_page(ALICE, "lib")
    assert page.project.status == "quarantined" and page.files == []
    with pytest.raises(NotFound, match="quarantined"):
        index.pages.get_file(ALICE, "lib", "lib-1.0-py3-none-any.whl")
    with pytest.raises(PermissionDenied, match="administrators"):
        index.management.set_status(ALICE, "lib", "active")
    index.management.set_status(ADMIN, "lib", "active")
    assert len(index.pages.project_page(ALICE, "lib").files) == 2


def test_roles_keep_an_owner(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    with pytest.raises(FailedPrecondition, match="at least one owner"):
        index.management.remove_role(ALICE, "lib", "alice")
    with pytest.raises(FailedPrecondition, match="at least one owner"):
        index.management.set_role(ALICE, "lib", ALICE.user_id, "alice", "maintainer")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", "owner")
    index.management.remove_role(ALICE, "lib", "alice")
    detail = index.management.get_project(BOB, "lib")
    assert [(r.username, r.role) for r in detail.roles] == [("bob", "owner")]
    with pytest.raises(NotFound):
        index.management.get_project(ALICE, "lib")


def test_get_project_lists_roles_and_what_the_caller_may_do(
    index: IndexService, upload: Upload
) -> None:
    upload(ALICE, "lib")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", "reader")
    detail = index.management.get_project(BOB, "lib")
    assert detail.allowed_actions == ["read"]
    assert [(r.username, r.role) for r in detail.roles] == [("alice", "owner"), ("bob", "reader")]
    assert detail.organization == ""


def test_events(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    index.management.set_yanked(ALICE, "lib", version="1.0", reason="oops")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", "maintainer")
    index.management.set_visibility(ALICE, "lib", "public")
    upload(ALICE, "other")
    events = index.management.list_events(ALICE, "lib")
    assert [e.kind for e in events] == [
        "project.visibility",
        "role.set",
        "release.yank",
        "file.upload",
        "project.create",
    ]
    assert events[2].detail == {"version": "1.0", "reason": "oops"}
    assert all(e.user == "alice" for e in events)
    older = index.management.list_events(ALICE, "lib", limit=2, before_id=events[1].id)
    assert [e.kind for e in older] == ["release.yank", "file.upload"]
    # A maintainer may not read the project's audit log; only admins read everything.
    with pytest.raises(PermissionDenied):
        index.management.list_events(BOB, "lib")
    with pytest.raises(PermissionDenied, match="administrators"):
        index.management.list_events(ALICE)
    assert len(index.management.list_events(ADMIN)) == 7

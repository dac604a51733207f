"""Input the index must refuse, with a message that says what to fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories.index import Upload, file_for, user
from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from vestry.services.index.access import ANONYMOUS
from vestry.services.index.records import ReleaseData
from vestry.services.index.service import IndexService

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


@pytest.mark.parametrize(
    ("project", "version", "filename", "message"),
    [
        ("a/b", "1.0", None, "not a valid project name"),
        ("..\\evil", "1.0", None, "not a valid project name"),
        ("bad\x00name", "1.0", None, "not a valid project name"),
        ("bad\x1bname", "1.0", None, "not a valid project name"),
        ("n" * 201, "1.0", None, "not a valid project name"),
        ("ok", "1" * 101, None, "version must be"),
        ("ok", "", None, "version must be"),
        ("ok", "not-a-version", None, "not a valid version"),
        ("ok", "1.0-beta_x", None, "not a valid version"),
        ("ok", "1.0+local", None, "local versions"),
        ("ok", "1.0\n", None, "whitespace"),
        ("ok", " 1.0", None, "whitespace"),
        ("foo\n", "1.0", None, "not a valid project name"),
        ("ok", "1.0", "../ok-1.0.tar.gz", "invalid filename"),
        ("ok", "1.0", "dir\\ok-1.0.tar.gz", "invalid filename"),
        ("ok", "1.0", "ok-1.0\n.tar.gz", "invalid filename"),
        ("ok", "1.0", "o" * 250 + ".tar.gz", "invalid filename"),
    ],
)
def test_bad_uploads_are_refused(
    index: IndexService, project: str, version: str, filename: str | None, message: str
) -> None:
    f = file_for("ok", "1.0")
    if filename is not None:
        f = replace(f, filename=filename)
    with pytest.raises(InvalidArgument, match=message):
        index.uploads.commit_file(ALICE, project, ReleaseData(version=version), f)
    with pytest.raises(InvalidArgument, match=message):
        index.uploads.check_upload(ALICE, project, version, f.filename, f.sha256, f.blake2b_256)
    assert index.pages.list_projects(ALICE)[0] == []


@pytest.mark.parametrize(
    ("user_id", "username", "role", "message"),
    [
        ("", "ghost", "reader", "user's id and name"),
        ("id", "", "reader", "user's id and name"),
        ("id", "bob", "god", "role is one of"),
        ("id", "bob", "", "role is one of"),
    ],
)
def test_bad_roles(
    index: IndexService, upload: Upload, user_id: str, username: str, role: str, message: str
) -> None:
    upload(ALICE, "lib")
    with pytest.raises(InvalidArgument, match=message):
        index.management.set_role(ALICE, "lib", user_id, username, role)


def test_removing_a_role_nobody_has(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    with pytest.raises(NotFound, match="no role"):
        index.management.remove_role(ALICE, "lib", "nobody")


def test_visibility_changes_by_non_owners(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", "maintainer")
    with pytest.raises(PermissionDenied, match="may not set-visibility"):
        index.management.set_visibility(BOB, "lib", "public")
    with pytest.raises(NotFound):
        index.management.set_visibility(CAROL, "lib", "public")
    with pytest.raises(Unauthenticated):
        index.management.set_visibility(ANONYMOUS, "lib", "public")
    with pytest.raises(InvalidArgument, match="'private' or 'public'"):
        index.management.set_visibility(ALICE, "lib", "internal")
    assert index.pages.project_page(ALICE, "lib").project.visibility == "private"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either a version"),
        ({"version": "1.0", "filename": "x"}, "either a version"),
        ({"version": "nope!"}, "not a valid version"),
        ({"version": "9.9"}, "not found"),
        ({"filename": "lib-9.9.tar.gz"}, "not found"),
        ({"version": "1.0", "reason": "bad\x07bell"}, "control characters"),
        ({"version": "1.0", "reason": "r" * 1001}, "at most 1000"),
    ],
)
def test_bad_yanks(
    index: IndexService, upload: Upload, kwargs: dict[str, str], message: str
) -> None:
    upload(ALICE, "lib")
    with pytest.raises((InvalidArgument, NotFound), match=message):
        index.management.set_yanked(ALICE, "lib", **kwargs)  # type: ignore[arg-type]

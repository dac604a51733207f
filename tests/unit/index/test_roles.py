"""Effective roles from the database: direct, team and organisation, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.factories.index import ADMIN, Upload, user
from vestry.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from vestry.services.index.access import Action, Caller
from vestry.services.index.service import IndexService

ALICE, BOB, CAROL, DAVE = user("alice"), user("bob"), user("carol"), user("dave")


def allowed(index: IndexService, caller: Caller, project: str) -> set[str]:
    return {a.value for a in Action if index.roles.can(caller, project, a)}


OWNER = {"read", "upload", "yank", "delete", "set-visibility", "manage-roles", "set-status"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("reader", {"read"}),
        ("maintainer", {"read", "upload", "yank"}),
        ("owner", OWNER),
    ],
)
def test_direct_roles(index: IndexService, upload: Upload, role: str, expected: set[str]) -> None:
    upload(ALICE, "lib")
    assert allowed(index, BOB, "lib") == set()
    index.management.set_role(ALICE, "lib", BOB.user_id, "bob", role)
    assert allowed(index, BOB, "lib") == expected
    index.management.remove_role(ALICE, "lib", "bob")
    assert allowed(index, BOB, "lib") == set()


def test_uploader_owns_new_project_and_admin_sees_all(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "lib")
    assert allowed(index, ALICE, "lib") == OWNER
    assert allowed(index, ADMIN, "lib") == OWNER
    with pytest.raises(NotFound):
        index.pages.project_page(BOB, "lib")
    with pytest.raises(Unauthenticated):
        index.pages.project_page(Caller(), "lib")


def test_org_and_team_access_and_immediate_removal(index: IndexService, upload: Upload) -> None:
    index.orgs.create(ALICE, "acme")
    upload(ALICE, "acme-lib")
    index.management.transfer_to_organization(ALICE, "acme-lib", "acme")
    # Organisation owners own every project of the organisation.
    index.orgs.set_member(ALICE, "acme", CAROL.user_id, "carol", "owner")
    assert allowed(index, CAROL, "acme-lib") == OWNER
    # A plain member gets nothing without a team.
    index.orgs.set_member(ALICE, "acme", BOB.user_id, "bob", "member")
    assert allowed(index, BOB, "acme-lib") == set()
    index.orgs.create_team(ALICE, "acme", "devs")
    index.orgs.add_team_member(ALICE, "acme", "devs", BOB.user_id, "bob")
    index.orgs.set_team_role(ALICE, "acme", "devs", "acme-lib", "maintainer")
    assert allowed(index, BOB, "acme-lib") == {"read", "upload", "yank"}
    assert [p.normalized_name for p in index.pages.list_projects(BOB)[0]] == ["acme-lib"]
    upload(BOB, "acme-lib", "2.0")

    # Out of the team: access is gone with the same commit.
    index.orgs.remove_team_member(ALICE, "acme", "devs", "bob")
    assert allowed(index, BOB, "acme-lib") == set()
    assert index.pages.list_projects(BOB)[0] == []
    # Refused as a name he may not register: nothing tells him the project exists.
    with pytest.raises(InvalidArgument, match="not available"):
        upload(BOB, "acme-lib", "3.0")

    # Back in the team, then out of the organisation: team memberships go too.
    index.orgs.add_team_member(ALICE, "acme", "devs", BOB.user_id, "bob")
    assert "upload" in allowed(index, BOB, "acme-lib")
    index.orgs.remove_member(ALICE, "acme", "bob")
    assert allowed(index, BOB, "acme-lib") == set()
    assert index.orgs.get(ALICE, "acme").teams[0].members == []

    # An owner demoted to member loses the owner role at once.
    index.orgs.set_member(ALICE, "acme", CAROL.user_id, "carol", "member")
    assert allowed(index, CAROL, "acme-lib") == set()


def test_team_rules(index: IndexService, upload: Upload) -> None:
    index.orgs.create(ALICE, "acme")
    index.orgs.create_team(ALICE, "acme", "devs")
    upload(ALICE, "outside")
    # A team gets roles only on its organisation's projects.
    with pytest.raises(NotFound):
        index.orgs.set_team_role(ALICE, "acme", "devs", "outside", "reader")
    # Only organisation members join teams.
    with pytest.raises(FailedPrecondition, match="not a member"):
        index.orgs.add_team_member(ALICE, "acme", "devs", DAVE.user_id, "dave")
    # Members may look, not manage; strangers are told it does not exist.
    index.orgs.set_member(ALICE, "acme", BOB.user_id, "bob", "member")
    assert index.orgs.get(BOB, "acme").name == "acme"
    with pytest.raises(PermissionDenied):
        index.orgs.create_team(BOB, "acme", "mine")
    with pytest.raises(NotFound):
        index.orgs.get(DAVE, "acme")
    # The last owner stays.
    with pytest.raises(FailedPrecondition, match="at least one owner"):
        index.orgs.remove_member(ALICE, "acme", "alice")


def test_moving_a_project_to_another_org_drops_old_team_roles(
    index: IndexService, upload: Upload
) -> None:
    for org in ("one", "two"):
        index.orgs.create(ALICE, org)
    index.orgs.set_member(ALICE, "one", BOB.user_id, "bob", "member")
    index.orgs.create_team(ALICE, "one", "t")
    index.orgs.add_team_member(ALICE, "one", "t", BOB.user_id, "bob")
    upload(ALICE, "moving")
    index.management.transfer_to_organization(ALICE, "moving", "one")
    index.orgs.set_team_role(ALICE, "one", "t", "moving", "reader")
    assert allowed(index, BOB, "moving") == {"read"}
    index.management.transfer_to_organization(ALICE, "moving", "two")
    assert allowed(index, BOB, "moving") == set()
    # Only someone who owns both may move a project.
    with pytest.raises(NotFound):
        index.management.transfer_to_organization(BOB, "moving", "one")


def test_listing_follows_visibility_roles_and_token(index: IndexService, upload: Upload) -> None:
    upload(ALICE, "a-private")
    upload(ALICE, "a-public")
    index.management.set_visibility(ALICE, "a-public", "public")
    upload(BOB, "b-private")

    def names(caller: Caller) -> list[str]:
        return [p.normalized_name for p in index.pages.list_projects(caller)[0]]

    assert names(Caller()) == ["a-public"]
    assert names(ALICE) == ["a-private", "a-public"]
    assert names(BOB) == ["a-public", "b-private"]
    assert names(ADMIN) == ["a-private", "a-public", "b-private"]
    narrowed = Caller(**{**ALICE.__dict__, "token_project_names": frozenset({"other"})})
    assert names(narrowed) == ["a-public"]
    no_read = Caller(**{**ADMIN.__dict__, "token_permissions": frozenset({"upload"})})
    assert names(no_read) == ["a-public"]
    assert (
        index.pages.list_projects(ALICE)[1] >= 4
    )  # global serial: 3 uploads + 1 visibility change

"""Trusted publishers in the index: who manages them, what a token's claims must match, and
that a publisher's tokens stop at its removal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories.index import Upload, file_for, user
from tests.support.oidc_issuer import github_claims
from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied
from vestry.services.index.access import Caller
from vestry.services.index.publishers import match_reason, validate_publisher
from vestry.services.index.service import IndexService

ALICE, BOB = user("alice"), user("bob")
GITHUB = {"repository": "acme/widgets", "workflow": "publish.yml", "environment": "release"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (github_claims(), ""),
        (github_claims(repository="ACME/Widgets"), ""),
        (github_claims(repository="acme/gadgets"), "repository 'acme/gadgets'"),
        (github_claims(workflow="other.yml"), "workflow 'other.yml' is not trusted"),
        (github_claims(environment="staging"), "environment 'staging' is not trusted"),
        (github_claims(environment=None), "environment '' is not trusted"),
        (
            {**github_claims(), "job_workflow_ref": "evil/x/.github/workflows/publish.yml@main"},
            "workflow 'evil/x/.github/workflows/publish.yml@main' is not trusted",
        ),
    ],
    ids=[
        "match",
        "case-insensitive-repo",
        "wrong-repository",
        "wrong-workflow",
        "environment-mismatch",
        "no-environment",
        "reusable-workflow-elsewhere",
    ],
)
def test_github_claim_matching(claims: dict[str, str], reason: str) -> None:
    got = match_reason("github", GITHUB, claims)
    assert (reason in got and bool(got)) if reason else got == ""


def test_without_an_environment_any_environment_matches() -> None:
    publisher = {"repository": "acme/widgets", "workflow": "publish.yml"}
    assert match_reason("github", publisher, github_claims(environment="anything")) == ""


def test_gitlab_and_generic_matching() -> None:
    gitlab = {"project": "group/sub/proj", "workflow": ".gitlab-ci.yml"}
    claims = {
        "project_path": "group/sub/proj",
        "ci_config_ref_uri": "gitlab.com/group/sub/proj//.gitlab-ci.yml@refs/heads/main",
    }
    assert match_reason("gitlab", gitlab, claims) == ""
    assert "CI file" in match_reason(
        "gitlab", gitlab, {**claims, "ci_config_ref_uri": "gitlab.com/group/sub/proj//x.yml@r"}
    )
    protected = {"project": "group/sub/proj", "ref": "main"}
    assert match_reason("gitlab", protected, {**claims, "ref": "main"}) == ""
    assert "ref 'refs/heads/dev'" in match_reason(
        "gitlab", protected, {**claims, "ref": "dev", "ref_path": "refs/heads/dev"}
    )
    generic = {"repository": "org/app", "ref": "refs/heads/main"}
    assert match_reason("gitea", generic, {"repository": "org/app", "ref": "refs/heads/main"}) == ""
    assert "'ref'" in match_reason("gitea", generic, {"repository": "org/app", "ref": "dev"})


@pytest.mark.parametrize(
    ("issuer", "claims", "message"),
    [
        ("github", {"repository": "acme/widgets"}, "takes repository, workflow"),
        ("github", {**GITHUB, "ref": "main"}, "takes repository, workflow"),
        ("github", {**GITHUB, "repository": "not a repo"}, "OWNER/REPO"),
        ("github", {**GITHUB, "workflow": "../x.yml"}, "workflow"),
        ("gitlab", {"project": "lonely"}, "GROUP/PROJECT"),
        ("Bad Issuer", {"sub": "x"}, "issuer"),
        ("gitea", {}, "1-20 claims"),
    ],
)
def test_bad_publishers_are_refused(issuer: str, claims: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_publisher(issuer, claims)


def _publisher_caller(ids: set[str]) -> Caller:
    # What the gateway builds from a minted token: upload only, this project's ID, publishers.
    return replace(
        ALICE,
        token_permissions=frozenset({"upload"}),
        token_publisher_ids=frozenset(ids),
    )


def test_owners_manage_publishers_and_the_exchange_finds_them(
    index: IndexService, upload: Upload
) -> None:
    upload(ALICE, "widgets", "1.0")
    index.management.set_role(ALICE, "widgets", BOB.user_id, BOB.username, "maintainer")
    with pytest.raises(PermissionDenied):
        index.publishers.add(BOB, "widgets", "github", GITHUB)
    added = index.publishers.add(ALICE, "widgets", "github", GITHUB)
    assert [p.id for p in index.publishers.of_project(ALICE, "widgets")] == [added.id]
    with pytest.raises(InvalidArgument, match="already configured"):
        index.publishers.add(ALICE, "widgets", "github", GITHUB)

    matches = index.publishers.match("github", github_claims())
    assert [(m.publisher_id, m.project_name) for m in matches] == [(added.id, "widgets")]
    with pytest.raises(NotFound, match=r"workflow .other\.yml. is not trusted"):
        index.publishers.match("github", github_claims(workflow="other.yml"))
    with pytest.raises(NotFound, match="for 'acme/gadgets'"):
        index.publishers.match("github", github_claims(repository="acme/gadgets"))
    kinds = [e.kind for e in index.management.list_events(ALICE, "widgets")]
    assert {"trusted-publisher.add", "trusted-publisher.exchange"} <= set(kinds)


def test_a_publishers_token_uploads_until_the_publisher_is_removed(
    index: IndexService, upload: Upload
) -> None:
    upload(ALICE, "widgets", "1.0")
    project_id = index.management.get_project(ALICE, "widgets").project.id
    added = index.publishers.add(ALICE, "widgets", "github", GITHUB)
    caller = replace(_publisher_caller({added.id}), token_project_ids=frozenset({project_id}))
    f = file_for("widgets", "2.0")
    index.uploads.check_upload(caller, "widgets", "2.0", f.filename, f.sha256, f.blake2b_256)
    # The token acts only as the publisher: not on another project its user owns.
    upload(ALICE, "other", "1.0")
    g = file_for("other", "2.0")
    with pytest.raises((NotFound, PermissionDenied)):
        index.uploads.check_upload(caller, "other", "2.0", g.filename, g.sha256, g.blake2b_256)
    index.publishers.remove(ALICE, "widgets", added.id)
    with pytest.raises((NotFound, PermissionDenied)):
        index.uploads.check_upload(caller, "widgets", "2.0", f.filename, f.sha256, f.blake2b_256)
    with pytest.raises(NotFound, match="no such trusted publisher"):
        index.publishers.remove(ALICE, "widgets", added.id)

"""Project names: validity, PEP 503 collisions, look-alikes, reserved names and prefixes."""

from __future__ import annotations

import pytest

from tests.factories.index import ADMIN, Upload, user
from tests.support.tables import maps
from vestry.common.errors import InvalidArgument, PermissionDenied
from vestry.services.index.names import ultranormalize, validate_project_name
from vestry.services.index.reserved import normalize_pattern
from vestry.services.index.service import IndexService

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("a", "a"),
        ("My_Project", "my-project"),
        ("my.project", "my-project"),
        ("A.b_c--D", "a-b-c-d"),
        ("x" * 200, "x" * 200),
    ],
)
def test_valid_names(name: str, normalized: str) -> None:
    assert validate_project_name(name) == normalized


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b",
        "a\\b",
        "../etc",
        "a\x00b",
        "a\nb",
        "a\tb",
        "-a",
        "a-",
        ".a",
        "x" * 201,
        "päckage",
        "foo\n",  # a trailing newline slips past a `$` anchor
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="not a valid project name"):
        validate_project_name(name)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("flask", "f1ask"),
        ("requests", "reque-sts"),
        ("foo.bar", "foobar"),
        ("Boto", "b0t0"),
        ("pil", "p1l"),
        ("django", "DJANG0"),
    ],
)
def test_look_alikes_fold_together(a: str, b: str) -> None:
    assert ultranormalize(a) == ultranormalize(b)


def test_distinct_names_stay_distinct() -> None:
    assert ultranormalize("flask") != ultranormalize("flash")


test_reserved_patterns = maps(
    normalize_pattern,
    [
        ("acme-*", "acme-*"),
        ("Acme_*", "acme-*"),
        ("acme*", "acme*"),
        ("Secret.Sauce", "secret-sauce"),
    ],
)


@pytest.mark.parametrize("pattern", ["*", "-*", "a/b*", "a\x00", ""])
def test_bad_reserved_patterns(pattern: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_pattern(pattern)


def test_pep503_collision_lands_in_the_existing_project(
    index: IndexService, upload: Upload
) -> None:
    upload(ALICE, "My_Project")
    # Another user's spelling variant is the same project, which they cannot see: refused
    # like a free name that may not be registered, never "not found".
    with pytest.raises(InvalidArgument, match="not available"):
        upload(BOB, "my.project", "2.0")
    # The owner's variant adds to the same project, whose display name stays the first one.
    upload(ALICE, "MY-PROJECT", "2.0")
    page = index.pages.project_page(ALICE, "my-project")
    assert page.project.name == "My_Project"
    assert {f.version for f in page.files} == {"1.0", "2.0"}


@pytest.mark.parametrize("lookalike", ["f1ask-utils", "flask_uti1s", "flaskutils", "F1ASK.UT1LS"])
def test_look_alike_of_another_owners_project_is_refused(
    index: IndexService, upload: Upload, lookalike: str
) -> None:
    upload(ALICE, "flask-utils")
    with pytest.raises(InvalidArgument, match="too similar"):
        upload(BOB, lookalike)
    with pytest.raises(InvalidArgument, match="too similar"):
        index.uploads.check_upload(BOB, lookalike, "1.0", "f-1.0.tar.gz", "0" * 64, "0" * 64)
    # The owner of the original may register a look-alike of their own project.
    upload(ALICE, lookalike)
    assert index.pages.project_page(ALICE, lookalike).project.name == lookalike


def test_reserved_prefix_only_for_its_organisation(index: IndexService, upload: Upload) -> None:
    index.orgs.create(ALICE, "acme")
    index.orgs.set_member(ALICE, "acme", CAROL.user_id, "carol", "member")
    index.reserved.reserve(ADMIN, "acme-*", "acme")
    index.reserved.reserve(ADMIN, "secret.sauce", "acme")
    for name in (
        "acme-tools",
        "Acme_Tools2",
        "acme.x",
        "acmetools",  # look-alikes of the prefix
        "acme-t0ols",
        "secret-sauce",
        "Secret_Sauce",
        "secretsauce",
    ):
        with pytest.raises(PermissionDenied, match="reserved"):
            upload(BOB, name)
        with pytest.raises(PermissionDenied, match="reserved"):
            index.uploads.check_upload(BOB, name, "1.0", "x-1.0.tar.gz", "0" * 64, "0" * 64)
    upload(BOB, "acne-tools")  # merely close
    upload(CAROL, "acme-tools")
    # A project created under a reservation belongs to the organisation.
    assert index.management.get_project(CAROL, "acme-tools").organization == "acme"
    assert index.orgs.get(ALICE, "acme").projects == ["acme-tools"]
    with pytest.raises(PermissionDenied, match="administrators"):
        index.reserved.reserve(ALICE, "acme2-*", "acme")
    assert [r.pattern for r in index.reserved.list_reserved(ADMIN)] == ["acme-*", "secret-sauce"]
    index.reserved.unreserve(ADMIN, "secret-sauce")
    upload(BOB, "secret-sauce")

"""Answers that leak nothing: for every upload and management answer, a project or file the
caller cannot see is indistinguishable from one that does not exist (the error's type and its
text, with the name the caller typed put aside); a refused name never names a private project."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.factories.index import ADMIN, Upload, file_for, user
from vestry.common.errors import AlreadyExists, DomainError
from vestry.services.index.access import ANONYMOUS, Caller
from vestry.services.index.records import ReleaseData
from vestry.services.index.service import IndexService

ALICE, BOB = user("alice"), user("bob")
# Bob's token bound to one project of his own: it may create nothing else.
BOB_NARROW = user("bob", token_project_names=frozenset({"bob-own"}))


def _answer(call: Callable[[], object], name: str) -> tuple[type[DomainError], str]:
    with pytest.raises(DomainError) as err:
        call()
    text = str(err.value)
    return type(err.value), text.replace(name, "NAME") if name else text


@pytest.fixture
def hidden(index: IndexService, upload: Upload) -> IndexService:
    """Alice's private projects (one of them with a public look-alike of hers), and a
    reservation made after one of them existed."""
    for name in ("hidden-a", "resv-x", "sh0wn-lib", "flask-x"):
        upload(ALICE, name)
    upload(ALICE, "shown-lib")
    index.management.set_visibility(ALICE, "shown-lib", "public")
    index.orgs.create(ADMIN, "acme")
    index.reserved.reserve(ADMIN, "resv-*", "acme")
    upload(BOB, "bob-own")
    return index


def _check(index: IndexService, caller: Caller, name: str) -> Callable[[], object]:
    f = file_for(name, "1.0")
    return lambda: index.uploads.check_upload(
        caller, name, "1.0", f.filename, f.sha256, f.blake2b_256
    )


def _commit(index: IndexService, caller: Caller, name: str) -> Callable[[], object]:
    return lambda: index.uploads.commit_file(
        caller, name, ReleaseData(version="1.0"), file_for(name, "1.0")
    )


# (case, caller, a name taken by a project the caller cannot see, a free name the caller may
# not register either)
TAKEN_VS_FREE = [
    ("stranger, look-alike of an unseen project", BOB, "hidden-a", "h1dden-a"),
    ("stranger, spelling variant", BOB, "Hidden.A", "h1dden-a"),
    ("narrow token", BOB_NARROW, "hidden-a", "free-name"),
    ("reserved prefix", BOB, "resv-x", "resv-y"),
    ("also like a visible project", BOB, "sh0wn-lib", "shown-1ib"),
]


@pytest.mark.parametrize("entry", [_check, _commit], ids=["check", "commit"])
@pytest.mark.parametrize(
    ("caller", "taken", "free"), [c[1:] for c in TAKEN_VS_FREE], ids=[c[0] for c in TAKEN_VS_FREE]
)
def test_an_unseen_name_is_refused_like_a_free_one(
    hidden: IndexService,
    entry: Callable[[IndexService, Caller, str], Callable[[], object]],
    caller: Caller,
    taken: str,
    free: str,
) -> None:
    from vestry.services.index.names import normalize

    a = _answer(entry(hidden, caller, taken), normalize(taken))
    b = _answer(entry(hidden, caller, free), normalize(free))
    assert a == b
    assert "not found" not in a[1]
    assert "flask-x" not in a[1] and "hidden-a" not in a[1]


@pytest.mark.parametrize(
    ("caller", "name", "named"),
    [
        (BOB, "f1ask-x", None),  # Alice's private flask-x: not named
        (BOB, "shown-1ib", "shown-lib"),  # public: named, as PyPI does
    ],
)
def test_a_look_alike_is_named_only_if_the_caller_can_read_it(
    hidden: IndexService, caller: Caller, name: str, named: str | None
) -> None:
    _kind, text = _answer(_check(hidden, caller, name), "")
    if named:
        assert f"too similar to an existing project ({named!r})" in text
    else:
        assert "not available" in text and "flask-x" not in text and "sh0wn" not in text


@pytest.mark.parametrize(
    ("caller", "project", "shows_other"),
    [
        (BOB, "bob-own", False),  # the clash is Alice's private file
        (ALICE, "alice-too", True),  # her own: named, as before
    ],
)
@pytest.mark.parametrize("entry", ["check", "commit"])
def test_same_bytes_name_the_other_file_only_if_readable(
    hidden: IndexService,
    upload: Upload,
    caller: Caller,
    project: str,
    shows_other: bool,
    entry: str,
) -> None:
    if project == "alice-too":
        upload(ALICE, project)
    content = b"the same bytes"
    theirs = file_for("hidden-a", "2.0", content=content)
    hidden.uploads.commit_file(ALICE, "hidden-a", ReleaseData(version="2.0"), theirs)
    mine = file_for(project, "3.0", content=content)
    with pytest.raises(AlreadyExists) as err:
        if entry == "check":
            hidden.uploads.check_upload(
                caller, project, "3.0", mine.filename, mine.sha256, mine.blake2b_256
            )
        else:
            hidden.uploads.commit_file(caller, project, ReleaseData(version="3.0"), mine)
    text = str(err.value)
    assert text.startswith("File already exists (")
    assert (theirs.filename in text) is shows_other
    assert (mine.filename in text) is not shows_other


def _management(index: IndexService) -> dict[str, Callable[[Caller, str], object]]:
    m = index.management
    return {
        "get": lambda c, p: m.get_project(c, p),
        "page": lambda c, p: index.pages.project_page(c, p),
        "file": lambda c, p: index.pages.get_file(c, p, f"{p}-1.0-py3-none-any.whl"),
        "events": lambda c, p: m.list_events(c, p),
        "yank release": lambda c, p: m.set_yanked(c, p, version="1.0", reason="r"),
        "yank bad version": lambda c, p: m.set_yanked(c, p, version="9" * 5000),
        "yank file": lambda c, p: m.set_yanked(c, p, filename=f"{p}-1.0-py3-none-any.whl"),
        "delete release": lambda c, p: m.delete(c, p, version="1.0"),
        "delete file": lambda c, p: m.delete(c, p, filename="x-1.0.tar.gz"),
        "delete project": lambda c, p: m.delete(c, p, whole_project=True),
        "visibility": lambda c, p: m.set_visibility(c, p, "public"),
        "status": lambda c, p: m.set_status(c, p, "archived"),
        "set role": lambda c, p: m.set_role(c, p, BOB.user_id, "bob", "owner"),
        "remove role": lambda c, p: m.remove_role(c, p, "alice"),
        "transfer": lambda c, p: m.transfer_to_organization(c, p, "acme"),
    }


OPS = [
    "get", "page", "file", "events", "yank release", "yank bad version", "yank file",
    "delete release", "delete file", "delete project", "visibility", "status", "set role",
    "remove role", "transfer",
]  # fmt: skip


@pytest.mark.parametrize("caller", [BOB, BOB_NARROW, ANONYMOUS], ids=["stranger", "narrow", "anon"])
@pytest.mark.parametrize("op", OPS)
def test_management_of_an_unseen_project_answers_like_a_missing_one(
    hidden: IndexService, caller: Caller, op: str
) -> None:
    call = _management(hidden)[op]
    unseen = _answer(lambda: call(caller, "hidden-a"), "hidden-a")
    missing = _answer(lambda: call(caller, "no-such"), "no-such")
    assert unseen == missing


@pytest.mark.parametrize(
    "op",
    ["get", "member", "remove member", "team", "team member", "transfer"],
)
def test_an_unseen_organisation_answers_like_a_missing_one(hidden: IndexService, op: str) -> None:
    o = hidden.orgs
    calls: dict[str, Callable[[str], object]] = {
        "get": lambda org: o.get(BOB, org),
        "member": lambda org: o.set_member(BOB, org, BOB.user_id, "bob", "owner"),
        "remove member": lambda org: o.remove_member(BOB, org, "root"),
        "team": lambda org: o.create_team(BOB, org, "t"),
        "team member": lambda org: o.add_team_member(BOB, org, "t", BOB.user_id, "bob"),
        "transfer": lambda org: hidden.management.transfer_to_organization(BOB, "bob-own", org),
    }
    assert _answer(lambda: calls[op]("acme"), "acme") == _answer(
        lambda: calls[op]("no-org"), "no-org"
    )

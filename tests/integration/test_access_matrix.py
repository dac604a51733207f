"""The access matrix against a running `vestry up`: every caller x token kind x action x
project, each cell one HTTP call asserted against a table of expected answers.

The table is written from the rules as ARCHITECTURE.md and the docstring of
services/index/access.py state them, not computed from the code under test:

- roles: owner may do everything; maintainer read, upload, yank; reader read. Organisation
  members get project roles only through a team; a plain member gets nothing. An index
  administrator may do everything a role could, and no token restriction is lifted for them.
- token permissions: read needs `read`, upload `upload`, yank `yank`; delete, visibility and
  members need `admin`. A token bound to projects acts on nothing else.
- both must hold. Public projects are readable by anyone, whatever the token says.
- answers: anonymous and not public -> 401 (403 on upload, as PyPI); authenticated but the
  project is invisible -> 404, the same status and body as for a project that does not exist
  (an upload to it is refused as a name the caller may not register: 403 when the token may not
  create it, 400 "not available" otherwise, naming nothing); visible but not allowed -> 403.
  A caller sees a project it may read, or do the action on.
- a new token is never wider than the one that asks; a narrow token never lists or revokes
  anything wider than itself.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import raw_upload
from tests.support.vestry_up import RunningVestry, module_vestry
from vestry.cli.main import main as cli_main

PRIVATE, PUBLIC, ABSENT = "matrix-private", "matrix-public", "matrix-absent"
PROJECTS = (PRIVATE, PUBLIC)
ORG, TEAM = "matrix-org", "matrix-team"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

# Every caller and the role it holds on both projects (None: no role at all).
CALLERS: dict[str, str | None] = {
    "reader": "reader",
    "maintainer": "maintainer",
    "owner": "owner",
    "other-user": None,
    "org-member-in-team": "maintainer",  # through the team's role on the organisation's projects
    "org-member": None,  # in the organisation, in no team: nothing on its projects
    "admin": None,  # no role; admin rights instead
}
ROLE_GRANTS: dict[str | None, frozenset[str]] = {
    "owner": frozenset({"read", "upload", "yank", "delete", "visibility", "members"}),
    "maintainer": frozenset({"read", "upload", "yank"}),
    "reader": frozenset({"read"}),
    None: frozenset(),
}
ADMIN_GRANTS = ROLE_GRANTS["owner"]
ALL_PERMISSIONS = frozenset({"read", "upload", "yank", "manage-tokens", "admin"})
NEEDS = {
    "read-simple": "read",
    "read-file": "read",
    "read-json": "read",
    "upload": "upload",
    "yank": "yank",
    "delete": "admin",
    "visibility": "admin",
    "members": "admin",
}
PROJECT_ACTIONS = tuple(NEEDS)
SUCCESS = {action: 200 for action in PROJECT_ACTIONS}


@dataclass(frozen=True)
class Kind:
    """A token kind: which projects (relative to the cell's) and permissions it is bound to."""

    projects: str  # "all", "this" or "other"
    permissions: frozenset[str]


KINDS = {
    "user": Kind("all", ALL_PERMISSIONS),  # as `vestry admin create-user` prints it
    "project": Kind("this", ALL_PERMISSIONS),  # minted by POST /api/v1/tokens, projects=[P]
    # offline: `vestry token attenuate --project P --perm read --perm upload`
    "attenuated": Kind("this", frozenset({"read", "upload"})),
    "elsewhere": Kind("other", ALL_PERMISSIONS),  # the project token of the *other* project
}


def expected(caller: str, kind: str, project: str, action: str) -> int:
    """The status the rules above give for one cell."""
    public = project == PUBLIC
    reads = NEEDS[action] == "read"
    if caller == "anonymous":
        if public and reads:
            return 200
        return 403 if action == "upload" else 401
    k = KINDS[kind]
    grants = ADMIN_GRANTS if caller == "admin" else ROLE_GRANTS[CALLERS[caller]]

    def token_allows(permission: str) -> bool:
        return permission in k.permissions and k.projects != "other"

    # A caller sees a project it may read, or do the action on (an upload-only token).
    may_act = token_allows(NEEDS[action]) and action in grants
    visible = public or (token_allows("read") and "read" in grants) or may_act
    if not visible:
        if action == "upload":
            # Refused as a name the caller may not register, saying nothing of the project:
            # 403 when the token may not create projects of this name, else 400 "not
            # available" (a token minted by someone who cannot see the project is bound to its
            # name alone, so it could create one of that name).
            return 400 if token_allows("upload") else 403
        return 404
    if reads:
        return 200
    if token_allows(NEEDS[action]) and action in grants:
        return SUCCESS[action]
    return 403


# ---- the running index and its people ---------------------------------------------------------


@dataclass
class World:
    vestry: RunningVestry
    http: httpx.Client
    workdir: Path
    tokens: dict[tuple[str, str, str], str]  # (caller, kind, project) -> token
    versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def token(self, caller: str, kind: str, project: str) -> str:
        if kind == "elsewhere":
            other = PUBLIC if project == PRIVATE else PRIVATE
            return self.tokens[(caller, "project", other)]
        return self.tokens[(caller, kind, project if kind != "user" else "")]

    def call(self, method: str, path: str, token: str = "", **kw: object) -> httpx.Response:
        auth = ("__token__", token) if token else None
        return self.http.request(method, path, auth=auth, **kw)  # type: ignore[arg-type]

    def upload(self, token: str, project: str, version: str) -> httpx.Response:
        wheel = make_wheel(self.workdir, project, version)
        return raw_upload(self.vestry.upload_url, token, wheel, project, version)

    def fresh_version(self) -> str:
        return f"2.{next(self.versions)}"


def wheel_name(project: str, version: str) -> str:
    return f"{project.replace('-', '_')}-{version}-py3-none-any.whl"


def _ok(r: httpx.Response) -> httpx.Response:
    assert r.is_success, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r


def vestry_cli(*args: str) -> str:
    """`vestry ARGS...` run in this process (no interpreter to start per call): its last line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(list(args)) == 0
    return out.getvalue().strip().splitlines()[-1]


def attenuated(token: str, project: str) -> str:
    """`vestry token attenuate`, offline: bound to `project`, read and upload only, one day."""
    perms = ("--perm", "read", "--perm", "upload")
    return vestry_cli("token", "attenuate", token, "--project", project, *perms, "--expires", "1d")


def populate(w: World, users: dict[str, str]) -> None:
    """The organisation, its team, both projects and every caller's roles and tokens, set up
    through the API as their users would."""
    owner = users["owner"]

    def manage(method: str, path: str, body: object = None) -> None:
        _ok(w.call(method, f"/api/v1{path}", owner, json=body))

    manage("POST", "/orgs", {"name": ORG})
    for name in ("org-member-in-team", "org-member"):
        manage("PUT", f"/orgs/{ORG}/members/{name}", {"role": "member"})
    manage("POST", f"/orgs/{ORG}/teams", {"name": TEAM})
    manage("PUT", f"/orgs/{ORG}/teams/{TEAM}/members/org-member-in-team")
    for project in PROJECTS:
        _ok(w.upload(owner, project, "1.0"))
        manage("PUT", f"/orgs/{ORG}/projects/{project}")
        manage("PUT", f"/orgs/{ORG}/teams/{TEAM}/projects/{project}", {"role": "maintainer"})
        for name in ("reader", "maintainer"):
            manage("PUT", f"/projects/{project}/members/{name}", {"role": name})
    manage("PUT", f"/projects/{PUBLIC}/visibility", {"visibility": "public"})
    for caller in CALLERS:
        w.tokens[(caller, "user", "")] = users[caller]
        for project in PROJECTS:
            minted = w.call("POST", "/api/v1/tokens", users[caller], json={"projects": [project]})
            w.tokens[(caller, "project", project)] = _ok(minted).json()["token"]
            w.tokens[(caller, "attenuated", project)] = attenuated(users[caller], project)


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    yield from module_vestry(tmp_path_factory, "access-matrix")


@pytest.fixture(scope="module")
def world(vestry: RunningVestry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = str(vestry.data_dir)
    users = {
        name: vestry_cli(
            "admin", "create-user", name, "--data-dir", data, *(["--admin"] * (name == "admin"))
        )
        for name in (*CALLERS, "bystander")
    }
    with httpx.Client(base_url=vestry.base, timeout=60) as http:
        w = World(vestry, http, tmp_path_factory.mktemp("matrix-dists"), {})
        populate(w, users)
        yield w


# ---- the cells -----------------------------------------------------------------------------------


def request_for(
    w: World, action: str, project: str, token: str, target: str = "0.404"
) -> httpx.Response:
    """One HTTP call doing `action` on `project` (which may not exist). A delete deletes the
    release `target`: one of its own where it is expected to succeed, so it takes nothing
    another cell reads; elsewhere one that does not exist, so a delete wrongly let through
    answers 404 "no such release", not the 403 or the "no such project" expected."""
    if action == "read-simple":
        return w.call("GET", f"/simple/{project}/", token)
    if action == "read-file":
        return w.call("GET", f"/files/{project}/{wheel_name(project, '1.0')}", token)
    if action == "read-json":
        return w.call("GET", f"/pypi/{project}/json", token)
    if action == "upload":
        return w.upload(token, project, w.fresh_version())
    if action == "yank":
        body = {"version": "1.0", "reason": "matrix"}
        return w.call("POST", f"/api/v1/projects/{project}/yank", token, json=body)
    if action == "delete":
        return w.call("DELETE", f"/api/v1/projects/{project}/releases/{target}", token)
    if action == "visibility":
        same = "public" if project == PUBLIC else "private"  # a change of nothing
        return w.call(
            "PUT", f"/api/v1/projects/{project}/visibility", token, json={"visibility": same}
        )
    assert action == "members"
    return w.call(
        "PUT", f"/api/v1/projects/{project}/members/bystander", token, json={"role": "reader"}
    )


CELLS = [
    pytest.param(caller, kind, project, action, id=f"{caller}-{kind}-{project[7:]}-{action}")
    for caller in CALLERS
    for kind in KINDS
    for project in PROJECTS
    for action in PROJECT_ACTIONS
] + [
    pytest.param("anonymous", "", project, action, id=f"anonymous-{project[7:]}-{action}")
    for project in PROJECTS
    for action in PROJECT_ACTIONS
]


@pytest.mark.parametrize(("caller", "kind", "project", "action"), CELLS)
def test_cell(world: World, caller: str, kind: str, project: str, action: str) -> None:
    token = world.token(caller, kind, project) if caller != "anonymous" else ""
    want = expected(caller, kind, project, action)
    target = "0.404"
    if action == "delete" and want == SUCCESS["delete"]:
        target = world.fresh_version()
        _ok(world.upload(world.token("owner", "user", project), project, target))
    got = request_for(world, action, project, token, target)
    assert got.status_code == want, f"{got.status_code} {got.text[:300]}"
    if want == 401:
        assert got.headers.get("www-authenticate", "").startswith("Basic")
    # Invisible answers exactly as nonexistent does (an upload to a free name creates it).
    if want in (401, 404) and action != "upload":
        absent = request_for(world, action, ABSENT, token)
        assert absent.status_code == got.status_code
        assert absent.text.replace(ABSENT, project) == got.text


# ---- managing tokens: never wider than the token that asks ---------------------------------------


def _scope(kind: str, project: str) -> tuple[set[str] | None, set[str] | None]:
    """(projects, permissions) a token of `kind` for `project` may hold at most; None: any."""
    k = KINDS[kind]
    other = PUBLIC if project == PRIVATE else PRIVATE
    projects = None if k.projects == "all" else {project if k.projects == "this" else other}
    return projects, None if k.permissions == ALL_PERMISSIONS else set(k.permissions)


def _within(scope: dict[str, object], bound: tuple[set[str] | None, set[str] | None]) -> bool:
    projects, permissions = bound
    got_projects, got_perms = scope["projects"], scope["permissions"]
    return (projects is None or (got_projects is not None and set(got_projects) <= projects)) and (  # type: ignore[arg-type]
        permissions is None or (got_perms is not None and set(got_perms) <= permissions)  # type: ignore[arg-type]
    )


def token_cells() -> list[object]:
    out: list[object] = [pytest.param("anonymous", "", id="anonymous")]
    for caller in CALLERS:
        for kind in KINDS:
            out.append(pytest.param(caller, kind, id=f"{caller}-{kind}"))
    return out


def _caller_token(world: World, caller: str, kind: str) -> str:
    return "" if caller == "anonymous" else world.token(caller, kind, PRIVATE)


def refused(got: httpx.Response, caller: str, kind: str) -> bool:
    """Assert the answer to a caller who may not manage tokens at all; False for the others."""
    if caller == "anonymous":
        assert got.status_code == 401, got.text
        return True
    if "manage-tokens" not in KINDS[kind].permissions:
        assert got.status_code == 403, got.text
        return True
    return False


@pytest.mark.parametrize(("caller", "kind"), token_cells())
def test_list_tokens(world: World, caller: str, kind: str) -> None:
    got = world.call("GET", "/api/v1/tokens", _caller_token(world, caller, kind))
    if refused(got, caller, kind):
        return
    if KINDS[kind].projects == "all":
        assert got.status_code == 200, got.text
        return
    # A narrow token may be refused, or shown only tokens no wider than itself.
    assert got.status_code in (200, 403), got.text
    if got.status_code == 200:
        bound = _scope(kind, PRIVATE)
        assert all(_within(t["scope"], bound) for t in got.json()["tokens"]), got.text


@pytest.mark.parametrize(("caller", "kind"), token_cells())
def test_mint_token(world: World, caller: str, kind: str) -> None:
    """Asking for an unrestricted token gives one no wider than the asking token."""
    got = world.call("POST", "/api/v1/tokens", _caller_token(world, caller, kind), json={})
    if refused(got, caller, kind):
        return
    assert got.status_code == 201, got.text
    assert _within(got.json()["scope"], _scope(kind, PRIVATE)), got.text


@pytest.mark.parametrize(("caller", "kind"), token_cells())
def test_mint_token_for_another_project(world: World, caller: str, kind: str) -> None:
    """A token bound to a project cannot mint one for another project."""
    body = {"projects": [PUBLIC]}
    got = world.call("POST", "/api/v1/tokens", _caller_token(world, caller, kind), json=body)
    if refused(got, caller, kind):
        return
    bound = _scope(kind, PRIVATE)
    if bound[0] is not None and PUBLIC not in bound[0]:
        assert got.status_code == 400, got.text  # the intersection leaves nothing to do
        return
    assert got.status_code == 201, got.text
    assert got.json()["scope"]["projects"] == [PUBLIC]


@pytest.mark.parametrize(("caller", "kind"), token_cells())
def test_revoke_wider_token(world: World, caller: str, kind: str) -> None:
    """Revoking an unrestricted token of the same user: only an unrestricted token may."""
    user = world.token("owner" if caller == "anonymous" else caller, "user", "")
    victim = _ok(world.call("POST", "/api/v1/tokens", user, json={}))
    victim_id = victim.json()["id"]
    got = world.call("DELETE", f"/api/v1/tokens/{victim_id}", _caller_token(world, caller, kind))
    if refused(got, caller, kind):
        pass
    elif KINDS[kind].projects == "all":
        assert got.status_code == 200, got.text
        return
    else:
        assert got.status_code in (403, 404), got.text
    # Still alive.
    assert world.call("GET", "/simple/", victim.json()["token"]).status_code == 200


@pytest.mark.parametrize("caller", list(CALLERS))
def test_revoke_another_users_token(world: World, caller: str) -> None:
    """Only the token's owner (and an administrator) may revoke it; to anyone else it does not
    exist: the same 404 as an ID never issued."""
    victim = _ok(world.call("POST", "/api/v1/tokens", world.token("owner", "user", ""), json={}))
    token = world.token(caller, "user", "")
    got = world.call("DELETE", f"/api/v1/tokens/{victim.json()['id']}", token)
    if caller in ("owner", "admin"):
        assert got.status_code == 200, got.text
        return
    assert got.status_code == 404, got.text
    never = world.call("DELETE", "/api/v1/tokens/00000000-0000-0000-0000-000000000000", token)
    assert (never.status_code, never.text) == (got.status_code, got.text)


def test_table_is_complete() -> None:
    """The figures docs/security.md quotes."""
    assert len(CELLS) == len(CALLERS) * len(KINDS) * len(PROJECTS) * len(PROJECT_ACTIONS) + 16


def test_anonymous_root_serial_ignores_private_changes(world: World) -> None:
    def serial() -> tuple[object, str | None]:
        r = _ok(world.call("GET", "/simple/", headers={"Accept": SIMPLE_JSON}))
        return r.json()["meta"].get("_last-serial"), r.headers.get("x-pypi-last-serial")

    before = serial()
    _ok(world.upload(world.token("owner", "user", ""), PRIVATE, world.fresh_version()))
    assert serial() == before

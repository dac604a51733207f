"""The management API and the `vestry project|org|events|admin reserve` CLI against `vestry up`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import BIN, clean_env, raw_upload, twine_upload
from tests.support.vestry_up import RunningVestry

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


def cli(
    vestry: RunningVestry, token: str, *args: str, url: str = ""
) -> subprocess.CompletedProcess[str]:
    env = clean_env(VESTRY_URL=url or vestry.base, VESTRY_TOKEN=token)
    return subprocess.run(
        [str(BIN / "vestry"), *args], capture_output=True, text=True, env=env, timeout=60
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def page(vestry: RunningVestry, token: str, project: str) -> httpx.Response:
    return httpx.get(
        f"{vestry.base}/simple/{project}/", auth=("__token__", token), headers={"Accept": JSON}
    )


@pytest.fixture(scope="module")
def users(vestry: RunningVestry) -> dict[str, str]:
    return {
        name: vestry.create_user(name, admin=name == "root")
        for name in ("alice", "bob", "carol", "root")
    }


def test_project_lifecycle(vestry: RunningVestry, users: dict[str, str], tmp_path: Path) -> None:
    alice, bob = users["alice"], users["bob"]
    w1 = make_wheel(tmp_path, "mgmt-lib", "1.0")
    w2 = make_wheel(tmp_path, "mgmt-lib", "2.0")
    assert twine_upload(vestry.upload_url, alice, w1, w2).returncode == 0

    shown = json.loads(ok(cli(vestry, alice, "project", "show", "mgmt-lib", "--json")))
    assert shown["visibility"] == "private"
    assert sorted(r["version"] for r in shown["releases"]) == ["1.0", "2.0"]
    assert shown["roles"] == [{"username": "alice", "role": "owner"}]
    assert "manage-roles" in shown["your_permissions"]
    assert "mgmt-lib" in ok(cli(vestry, alice, "project", "show", "mgmt-lib"))
    # The index URL pip and twine are configured with names the gateway too.
    as_index = cli(vestry, alice, "project", "show", "mgmt-lib", url=vestry.base + "/simple/")
    assert ok(as_index).startswith("mgmt-lib  [")

    # Bob cannot see it until he has a role; an unknown user gets a clear 404.
    assert page(vestry, bob, "mgmt-lib").status_code == 404
    ghost = cli(vestry, alice, "project", "add-member", "mgmt-lib", "ghost", "--role", "reader")
    assert ghost.returncode == 1 and "404" in ghost.stderr and "ghost" in ghost.stderr
    ok(cli(vestry, alice, "project", "add-member", "mgmt-lib", "bob", "--role", "reader"))
    assert page(vestry, bob, "mgmt-lib").status_code == 200
    # A reader may not change visibility: 403, and nothing changes.
    refused = cli(vestry, bob, "project", "set-visibility", "mgmt-lib", "public")
    assert refused.returncode == 1 and "403" in refused.stderr
    assert httpx.get(f"{vestry.base}/simple/mgmt-lib/").status_code == 401

    # Yank with a reason: the simple API shows it; un-yank clears it.
    ok(cli(vestry, alice, "project", "yank", "mgmt-lib", "--version", "2.0", "--reason", "bad"))
    files = {f["filename"]: f["yanked"] for f in page(vestry, bob, "mgmt-lib").json()["files"]}
    assert files == {"mgmt_lib-1.0-py3-none-any.whl": False, "mgmt_lib-2.0-py3-none-any.whl": "bad"}
    ok(cli(vestry, alice, "project", "unyank", "mgmt-lib", "--version", "2.0"))
    assert all(f["yanked"] is False for f in page(vestry, bob, "mgmt-lib").json()["files"])

    # Delete needs --yes; afterwards the filename can never be uploaded again.
    assert cli(vestry, alice, "project", "delete", "mgmt-lib", "--version", "2.0").returncode == 1
    ok(cli(vestry, alice, "project", "delete", "mgmt-lib", "--version", "2.0", "--yes"))
    assert page(vestry, bob, "mgmt-lib").json()["versions"] == ["1.0"]
    (tmp_path / "again").mkdir()
    again = make_wheel(tmp_path / "again", "mgmt-lib", "2.0", extra_files={"x.txt": b"new"})
    assert twine_upload(vestry.upload_url, alice, again).returncode != 0
    result = raw_upload(vestry.upload_url, alice, again, "mgmt-lib", "2.0")
    assert result.status_code == 400 and "already been used" in result.text

    # Public: anonymous reads work.
    ok(cli(vestry, alice, "project", "set-visibility", "mgmt-lib", "public"))
    assert httpx.get(f"{vestry.base}/simple/mgmt-lib/").status_code == 200

    # The audit log: owners see their project's, admins see everything, others are refused.
    events = json.loads(ok(cli(vestry, alice, "events", "--project", "mgmt-lib", "--json")))
    kinds = [e["kind"] for e in events]
    assert kinds[:6] == [
        "project.visibility",
        "release.delete",
        "release.unyank",
        "release.yank",
        "role.set",
        "file.upload",
    ]
    assert all(e["token_id"] for e in events)
    assert cli(vestry, bob, "events", "--project", "mgmt-lib").returncode == 1
    assert cli(vestry, alice, "events").returncode == 1
    assert "project.create" in ok(cli(vestry, users["root"], "events", "--limit", "100"))

    ok(cli(vestry, alice, "project", "remove-member", "mgmt-lib", "bob"))
    last_owner = cli(vestry, alice, "project", "remove-member", "mgmt-lib", "alice")
    assert last_owner.returncode == 1 and "at least one owner" in last_owner.stderr

    # The whole project: confirmed only by naming it again; then gone from every view, and the
    # cached pages with it.
    assert httpx.get(f"{vestry.base}/pypi/mgmt-lib/json").status_code == 200  # now cached
    unconfirmed = cli(vestry, alice, "project", "delete", "mgmt-lib", "--yes")
    assert unconfirmed.returncode == 1 and "--confirm mgmt-lib" in unconfirmed.stderr
    wrong = cli(vestry, alice, "project", "delete", "mgmt-lib", "--confirm", "other")
    assert wrong.returncode == 1
    assert page(vestry, alice, "mgmt-lib").status_code == 200
    ok(cli(vestry, alice, "project", "delete", "mgmt-lib", "--confirm", "mgmt-lib"))
    for path in ("/simple/mgmt-lib/", "/pypi/mgmt-lib/json", f"/files/mgmt-lib/{w1.name}"):
        assert httpx.get(vestry.base + path).status_code == 401, path  # as if it never existed
        assert httpx.get(vestry.base + path, auth=("__token__", alice)).status_code == 404, path
    listing = httpx.get(
        f"{vestry.base}/simple/", auth=("__token__", alice), headers={"Accept": "text/html"}
    )
    assert "mgmt-lib" not in listing.text
    assert "project.delete" in ok(cli(vestry, users["root"], "events", "--limit", "100"))


def test_organisation_teams_and_reserved_names(
    vestry: RunningVestry, users: dict[str, str], tmp_path: Path
) -> None:
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    assert (
        twine_upload(vestry.upload_url, alice, make_wheel(tmp_path, "org-lib", "1.0")).returncode
        == 0
    )
    ok(cli(vestry, alice, "org", "create", "acme"))
    ok(cli(vestry, alice, "org", "add-member", "acme", "bob"))
    ok(cli(vestry, alice, "org", "add-team", "acme", "devs"))
    ok(cli(vestry, alice, "org", "team-add", "acme", "devs", "bob"))
    ok(cli(vestry, alice, "org", "transfer", "acme", "org-lib"))
    ok(cli(vestry, alice, "org", "team-role", "acme", "devs", "org-lib", "--role", "maintainer"))
    org = json.loads(ok(cli(vestry, bob, "org", "show", "acme", "--json")))
    assert org["projects"] == ["org-lib"]
    assert org["teams"] == [
        {"name": "devs", "members": ["bob"], "project_roles": {"org-lib": "maintainer"}}
    ]
    assert cli(vestry, carol, "org", "show", "acme").returncode == 1  # 404 for non-members

    # Bob uploads through his team; removed from the organisation, he loses access at once.
    assert page(vestry, bob, "org-lib").status_code == 200
    wheel = make_wheel(tmp_path, "org-lib", "2.0")
    assert twine_upload(vestry.upload_url, bob, wheel).returncode == 0
    ok(cli(vestry, alice, "org", "remove-member", "acme", "bob"))
    assert page(vestry, bob, "org-lib").status_code == 404
    assert (
        twine_upload(vestry.upload_url, bob, make_wheel(tmp_path, "org-lib", "3.0")).returncode != 0
    )

    # Reserved prefix, set on the data dir while the index runs: only acme's members may use it.
    reserve = subprocess.run(
        [
            str(BIN / "vestry"),
            "admin",
            "reserve",
            "acme-*",
            "--org",
            "acme",
            "--data-dir",
            str(vestry.data_dir),
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert reserve.returncode == 0, reserve.stderr
    internal = make_wheel(tmp_path, "acme-internal", "1.0")
    assert twine_upload(vestry.upload_url, carol, internal).returncode != 0
    squat = raw_upload(vestry.upload_url, carol, internal, "acme-internal", "1.0")
    assert squat.status_code == 403 and "reserved" in squat.text
    assert (
        twine_upload(
            vestry.upload_url, alice, make_wheel(tmp_path, "acme-internal", "1.0")
        ).returncode
        == 0
    )
    shown = json.loads(ok(cli(vestry, alice, "project", "show", "acme-internal", "--json")))
    assert shown["organization"] == "acme"
    reserved = httpx.get(f"{vestry.base}/api/v1/reserved", auth=("__token__", users["root"]))
    assert reserved.json() == [{"pattern": "acme-*", "organization": "acme"}]
    assert httpx.get(f"{vestry.base}/api/v1/reserved", auth=("__token__", alice)).status_code == 403


def test_management_api_needs_a_token_and_is_documented(vestry: RunningVestry) -> None:
    for method, path in (
        ("GET", "/api/v1/projects/anything"),
        ("PUT", "/api/v1/projects/anything/members/bob"),
        ("GET", "/api/v1/events"),
        ("POST", "/api/v1/orgs"),
    ):
        r = httpx.request(method, vestry.base + path, json={"role": "reader", "name": "x"})
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == 'Basic realm="vestry"'
    spec = httpx.get(vestry.base + "/api/openapi.json").json()
    for path in (
        "/api/v1/projects/{project}",
        "/api/v1/projects/{project}/yank",
        "/api/v1/projects/{project}/members/{username}",
        "/api/v1/orgs/{org}/teams/{team}/members/{username}",
        "/api/v1/events",
        "/api/v1/reserved",
    ):
        assert path in spec["paths"], path


def test_cli_without_server_settings_says_what_is_missing(tmp_path: Path) -> None:
    env = clean_env()
    env.pop("VESTRY_URL", None)
    env.pop("VESTRY_TOKEN", None)
    r = subprocess.run(
        [str(BIN / "vestry"), "project", "show", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1 and "VESTRY_URL" in r.stderr

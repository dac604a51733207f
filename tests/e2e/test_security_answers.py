"""Against `vestry up`: the anonymous listing's serial does not move with private activity, the
members route checks the project before the user, and every page carries security headers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import raw_upload
from tests.support.vestry_up import RunningVestry
from vestry.gateway.security_headers import PAGE_CSP

pytestmark = pytest.mark.e2e
JSON = "application/vnd.pypi.simple.v1+json"


def _listing(vestry: RunningVestry, token: str = "") -> tuple[int, str]:
    auth = ("__token__", token) if token else None
    r = httpx.get(f"{vestry.base}/simple/", headers={"Accept": JSON}, auth=auth)
    assert r.status_code == 200
    assert r.json()["meta"]["_last-serial"] == int(r.headers["x-pypi-last-serial"])
    return int(r.headers["x-pypi-last-serial"]), ",".join(p["name"] for p in r.json()["projects"])


def test_the_serial_shown_depends_only_on_what_the_caller_sees(
    vestry: RunningVestry, tmp_path: Path
) -> None:
    alice = vestry.create_user("serial-alice")
    for v, name in enumerate(("pub-lib", "priv-lib"), start=1):
        w = make_wheel(tmp_path, name, f"{v}.0")
        assert raw_upload(vestry.upload_url, alice, w, name, f"{v}.0").status_code == 200
    r = httpx.put(
        f"{vestry.base}/api/v1/projects/pub-lib/visibility",
        json={"visibility": "public"},
        auth=("__token__", alice),
    )
    assert r.status_code == 200
    before = _listing(vestry)
    assert before[1] == "pub-lib"
    mine = _listing(vestry, alice)
    # Private activity: an upload, a yank, a status change. Anonymous sees nothing move.
    w = make_wheel(tmp_path, "priv-lib", "9.0")
    assert raw_upload(vestry.upload_url, alice, w, "priv-lib", "9.0").status_code == 200
    httpx.post(
        f"{vestry.base}/api/v1/projects/priv-lib/yank",
        json={"version": "9.0"},
        auth=("__token__", alice),
    ).raise_for_status()
    assert _listing(vestry) == before
    # Alice sees her private project move; the cache never serves her a stale listing.
    assert _listing(vestry, alice)[0] > mine[0]
    # A public change moves everyone's.
    w = make_wheel(tmp_path, "pub-lib", "9.0")
    assert raw_upload(vestry.upload_url, alice, w, "pub-lib", "9.0").status_code == 200
    after = _listing(vestry)
    assert after[0] > before[0] and after[1] == "pub-lib"


@pytest.mark.parametrize("project", ["members-private", "no-such-project"])
@pytest.mark.parametrize("user", ["member-bob", "no-such-user"])
def test_set_member_answers_for_the_project_before_the_user(
    vestry: RunningVestry, tmp_path: Path, project: str, user: str
) -> None:
    owner = vestry.create_user(f"owner-{project}-{user}")
    stranger = vestry.create_user(f"stranger-{project}-{user}")
    if user == "member-bob":
        vestry.create_user(f"{user}-{project}")
    if project == "members-private":
        name = f"{project}-{len(user)}"
        w = make_wheel(tmp_path, name, "1.0")
        assert raw_upload(vestry.upload_url, owner, w, name, "1.0").status_code == 200
    else:
        name = project
    r = httpx.put(
        f"{vestry.base}/api/v1/projects/{name}/members/{user}-{project}",
        json={"role": "reader"},
        auth=("__token__", stranger),
    )
    assert (r.status_code, r.text) == (404, "project not found\n")


@pytest.mark.parametrize(
    ("path", "accept"),
    [("/simple/", "text/html"), ("/simple/", JSON), ("/simple/no-such/", "text/html")],
)
def test_pages_carry_security_headers(vestry: RunningVestry, path: str, accept: str) -> None:
    r = httpx.get(f"{vestry.base}{path}", headers={"Accept": accept})
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"

"""Self-service tokens through a real `vestry up`: the HTTP API, the CLI, real twine and pip,
audit events, and a grep of the complete log output for every token the run used."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import clean_env, pip_install, twine_upload
from tests.support.vestry_up import RunningVestry, start_vestry
from vestry.services.auth import tokens

pytestmark = pytest.mark.e2e
VESTRY = str(Path(sys.executable).parent / "vestry")


@pytest.fixture
def vestry(tmp_path: Path) -> Iterator[RunningVestry]:
    # DEBUG: every log line any process can write is in the file the test greps.
    running = start_vestry(tmp_path / "data", env={"VESTRY_LOG_LEVEL": "DEBUG"})
    yield running
    running.stop()


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VESTRY, "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(**env),
        check=False,
    )


def api(v: RunningVestry, method: str, token: str, path: str = "", **kw: object) -> httpx.Response:
    return httpx.request(
        method,
        f"{v.base}/api/v1/tokens{path}",
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )


def test_self_service_tokens_end_to_end(vestry: RunningVestry, tmp_path: Path) -> None:
    used: list[str] = []
    alice = vestry.create_user("alice")
    bob = vestry.create_user("bob")
    used += [alice, bob]
    dist = tmp_path / "dist"
    dist.mkdir()
    assert twine_upload(vestry.upload_url, alice, make_wheel(dist, "foo", "1.0")).returncode == 0

    # --- create through the CLI: the token alone on the last stdout line -------------------
    r = cli(
        "create",
        "--project",
        "Foo",
        "--perm",
        "read",
        "--expires",
        "1d",
        "--name",
        "ci",
        "--url",
        vestry.base + "/simple/",
        "--token",
        alice,
    )
    assert r.returncode == 0, r.stderr
    reader = r.stdout.strip().splitlines()[-1]
    used.append(reader)
    assert reader.startswith("vestry-") and " " not in reader
    assert "bound to project ids" in r.stdout  # foo exists: the token dies with it

    # It reads foo with pip, and cannot upload (403 with a reason, not 500).
    result = pip_install(vestry.index_url(reader), tmp_path / "t", "foo")
    assert result.returncode == 0, result.stdout + result.stderr
    result = twine_upload(vestry.upload_url, reader, make_wheel(dist, "foo", "1.1"))
    assert result.returncode != 0
    assert "403" in result.stdout + result.stderr

    # --- minting is never wider than the calling token --------------------------------------
    parent = tokens.attenuate(alice, projects=["foo"], permissions=["read", "manage-tokens"])
    used.append(parent)
    wider = api(
        vestry, "POST", parent, json={"permissions": ["read", "upload"], "projects": ["foo", "bar"]}
    )
    assert wider.status_code == 201, wider.text
    assert wider.headers["cache-control"] == "no-store"
    child = wider.json()
    used.append(child["token"])
    assert child["scope"]["permissions"] == ["read"]
    assert child["scope"]["projects"] == ["foo"]
    nothing = api(vestry, "POST", parent, json={"permissions": ["upload"]})
    assert nothing.status_code == 400 and "nothing" in nothing.text
    no_manage = api(vestry, "POST", reader, json={})
    assert no_manage.status_code == 403 and "manage-tokens" in no_manage.text
    bad = api(vestry, "POST", "vestry-garbage", json={})
    assert bad.status_code == 401 and bad.text.strip()
    assert api(vestry, "POST", "", json={}).status_code == 401
    assert api(vestry, "POST", alice, json={"permissions": ["everything"]}).status_code == 400

    # --- list: own tokens, never a secret -----------------------------------------------------
    listed = api(vestry, "GET", alice)
    assert listed.status_code == 200
    names = [t["name"] for t in listed.json()["tokens"]]
    assert "ci" in names and len(names) == 3  # admin-created root, ci, the child
    assert "vestry-" not in listed.text
    r = cli("list", VESTRY_URL=vestry.base, VESTRY_TOKEN=alice)
    assert r.returncode == 0 and "ci" in r.stdout and "vestry-" not in r.stdout
    assert len(api(vestry, "GET", bob).json()["tokens"]) == 1

    # --- revoke: B cannot touch A's token; A can, by token or ID; it dies everywhere ----------
    reader_id = tokens.token_id(tokens.load(reader))
    # A token pasted into the URL is refused, and the access log must not keep it either.
    in_url = api(vestry, "DELETE", alice, path=f"/{reader}")
    assert in_url.status_code == 400 and "token ID" in in_url.text
    r = cli("revoke", reader, "--url", vestry.base, "--token", bob)
    assert r.returncode == 1 and "404" in r.stderr
    assert httpx.get(vestry.base + "/simple/foo/", auth=("__token__", reader)).status_code == 200
    assert api(vestry, "DELETE", alice, "/" + reader).status_code == 400  # no secrets in URLs
    r = cli("revoke", reader, "--url", vestry.base, "--token", alice)
    assert r.returncode == 0, r.stderr
    assert reader_id in r.stdout
    denied = httpx.get(vestry.base + "/simple/foo/", auth=("__token__", reader))
    assert denied.status_code == 401 and "revoked" in denied.text
    assert api(vestry, "DELETE", alice, "/" + reader_id).status_code == 404

    # --- a wrong-project token, an expired one, garbage: 401/403 with a reason, never 500 --
    for token, statuses in (
        (tokens.attenuate(alice, projects=["other"]), {403, 404}),
        (tokens.attenuate(alice, expires_in=1, now=1_000_000), {401}),
        (alice[:-6], {401}),
        ("pypi-" + alice[7:], {401}),
    ):
        used.append(token)
        r2 = httpx.get(vestry.base + "/simple/foo/", auth=("__token__", token))
        assert r2.status_code in statuses and r2.text.strip(), (r2.status_code, r2.text)

    # --- audit events and the complete logs ---------------------------------------------------
    assert vestry.stop() == 0
    db = sqlite3.connect(vestry.data_dir / "auth.sqlite3")
    try:
        events = db.execute("SELECT kind, detail FROM auth_events").fetchall()
    finally:
        db.close()
    kinds = [k for k, _ in events]
    assert kinds.count("token.mint") == 4  # alice, bob, ci, child
    assert kinds.count("token.revoke") == 1
    log = vestry.log()
    assert "DEBUG" in log  # the run really logged at its most verbose
    assert "vestry.access" in log and "/api/v1/tokens/vestry-<redacted> 400" in log
    for token in used:
        body = token[len("vestry-") :] if token.startswith("vestry-") else token
        for needle in (token, body[:24], body[-24:]):
            assert needle not in log, "a token appears in the logs"
            assert all(needle not in d for _, d in events), "a token appears in an event"
    assert json.dumps(used)  # the list is what was checked


def test_failure_bursts_are_audited(vestry: RunningVestry) -> None:
    token = vestry.create_user("carol")
    for _ in range(10):
        r = httpx.get(vestry.base + "/simple/", auth=("__token__", token[:-8]))
        assert r.status_code == 401
    assert vestry.stop() == 0
    db = sqlite3.connect(vestry.data_dir / "auth.sqlite3")
    try:
        rows = db.execute(
            "SELECT detail FROM auth_events WHERE kind = 'token.verify-failures'"
        ).fetchall()
    finally:
        db.close()
    assert len(rows) == 1 and json.loads(rows[0][0])["count"] == 10
    assert "burst of failed token verifications" in vestry.log()
    assert token[7:40] not in vestry.log()

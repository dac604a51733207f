"""Trusted publishing end to end: `uv publish --trusted-publishing always` in a faked GitHub
Actions job, against `vestry up --tls-cert … --tls-key …` over HTTPS, with a local OIDC issuer
standing in for GitHub's; then pip and uv install what it published, local versions included."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.support.clients import BIN, clean_env, run
from tests.support.oidc_issuer import LocalIssuer, github_claims
from tests.support.vestry_up import RunningVestry, start_vestry
from vestry.gateway.tls import self_signed

pytestmark = pytest.mark.e2e


@dataclass
class Setup:
    vestry: RunningVestry
    issuer: LocalIssuer
    ca: Path
    owner: str  # the project owner's token

    @property
    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("trusted")
    issuer = LocalIssuer()
    # A test CA and a server certificate for 127.0.0.1, given to `vestry up` as files.
    tls = self_signed(root / "test-ca")
    vestry = start_vestry(
        root / "data",
        env={"VESTRY_OIDC_GITHUB_ISSUER": issuer.url, "VESTRY_OIDC_GITLAB_ISSUER": ""},
        args=("--tls-cert", str(tls.cert), "--tls-key", str(tls.key)),
    )
    try:
        owner = vestry.create_user("owner")
        # The project exists (its owner published it once) before it trusts a CI job.
        context = ssl.create_default_context(cafile=tls.ca)
        for name in ("widgets", "gadgets"):
            r = _upload(vestry.upload_url, owner, make_wheel(root, name, "0.1"), context)
            assert r.status_code == 200, r.text
        s = Setup(vestry, issuer, tls.ca, owner)
        out = _vestry_cli(
            s,
            "project",
            "trusted-publisher",
            "add",
            "widgets",
            "--github",
            "acme/widgets",
            "--workflow",
            "publish.yml",
            "--environment",
            "release",
        )
        assert "github" in out and "repository=acme/widgets" in out
        yield s
    finally:
        code = vestry.stop()
        issuer.close()
    assert code == 0, vestry.log()


def _upload(url: str, token: str, wheel: Path, context: ssl.SSLContext) -> httpx.Response:
    """A legacy upload with no pyversion: the index takes it from the wheel's filename."""
    data = wheel.read_bytes()
    version = wheel.name.split("-")[1]
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": wheel.name.split("-")[0],
        "version": version,
        "filetype": "bdist_wheel",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    return httpx.post(
        url,
        data=fields,
        files={"content": (wheel.name, data)},
        auth=("__token__", token),
        verify=context,
    )


def _vestry_cli(s: Setup, *args: str) -> str:
    result = run(
        [str(BIN / "vestry"), *args, "--url", s.vestry.base, "--token", s.owner],
        SSL_CERT_FILE=str(s.ca),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _pip_install(
    s: Setup, index: str, target: Path, requirement: str
) -> subprocess.CompletedProcess[str]:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over pip's --cert: the machine's
    # bundle must not hide the test CA.
    env = {
        k: v for k, v in clean_env().items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    args = ["--no-cache-dir", "--cert", str(s.ca), "--target", str(target)]
    return subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", *args, "--index-url", index, requirement],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def _uv_publish(s: Setup, *files: Path) -> tuple[int, str]:
    result = run(
        [
            str(BIN / "uv"),
            "publish",
            "--trusted-publishing",
            "always",
            "--publish-url",
            s.vestry.upload_url,
            *map(str, files),
        ],
        timeout=180,
        GITHUB_ACTIONS="true",
        ACTIONS_ID_TOKEN_REQUEST_URL=s.issuer.token_url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=s.issuer.REQUEST_TOKEN,
        SSL_CERT_FILE=str(s.ca),
    )
    return result.returncode, result.stdout + result.stderr


def test_the_audience_endpoint(setup: Setup) -> None:
    r = httpx.get(f"{setup.vestry.base}/_/oidc/audience", verify=setup.ssl)
    assert r.json() == {"audience": "vestry"}


def test_uv_publishes_from_a_trusted_workflow_and_pip_installs_it(
    setup: Setup, tmp_path: Path
) -> None:
    assert "workflow=publish.yml" in _vestry_cli(
        setup, "project", "trusted-publisher", "list", "widgets"
    )

    setup.issuer.claims = github_claims("acme/widgets", "publish.yml", "release")
    wheels = [make_wheel(tmp_path, "widgets", v) for v in ("1.0", "1.2.3", "1.2.3+cu121")]
    code, out = _uv_publish(setup, *wheels)
    assert code == 0, out
    # uv asked the local issuer with the index's audience and the job's request token.
    asked = setup.issuer.requests[-1]
    assert asked["authorization"].lower() == f"bearer {setup.issuer.REQUEST_TOKEN}"
    assert asked["audience"] == "vestry"
    events = httpx.get(
        f"{setup.vestry.base}/api/v1/events",
        params={"project": "widgets"},
        headers={"Authorization": f"Bearer {setup.owner}"},
        verify=setup.ssl,
    ).json()
    assert "trusted-publisher.exchange" in {e["kind"] for e in events}
    # uv burns the upload token once it is done with it.
    assert "/_/oidc/burn-token" in setup.vestry.wait_for_log("/_/oidc/burn-token")

    index = setup.vestry.index_url(setup.owner)
    for requirement, version in (("widgets==1.0", "1.0"), ("widgets==1.2.3+cu121", "1.2.3+cu121")):
        target = tmp_path / f"pip-{version}"
        result = _pip_install(setup, index, target, requirement)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (target / f"widgets-{version}.dist-info").is_dir()
    target = tmp_path / "uv-local"
    result = run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--no-cache",
            "--target",
            str(target),
            "--index-url",
            index,
            "widgets==1.2.3+cu121",
        ],
        SSL_CERT_FILE=str(setup.ca),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "widgets-1.2.3+cu121.dist-info").is_dir()


def test_a_job_of_another_workflow_is_refused_with_the_reason(setup: Setup, tmp_path: Path) -> None:
    setup.issuer.claims = github_claims("acme/widgets", "other.yml", "release")
    code, out = _uv_publish(setup, make_wheel(tmp_path, "widgets", "9.0"))
    assert code != 0
    assert "invalid-publisher" in out
    # uv wraps its message at the terminal's width.
    assert "workflow 'other.yml' is not trusted" in " ".join(out.split()), out


def test_mint_token_speaks_pypis_error_shape(setup: Setup) -> None:
    url = f"{setup.vestry.base}/_/oidc/mint-token"
    r = httpx.post(url, content=b"{}", verify=setup.ssl)
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "invalid-payload"
    r = httpx.post(url, json={"token": setup.issuer.token(aud="pypi")}, verify=setup.ssl)
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == "Token request failed"
    assert body["errors"][0]["code"] == "invalid-token"
    assert "audience" in body["errors"][0]["description"]


def test_an_oidc_token_is_exchanged_once_and_a_burnt_token_is_dead(
    setup: Setup, tmp_path: Path
) -> None:
    jwt_token = setup.issuer.token(**github_claims("acme/widgets", "publish.yml", "release"))
    url = f"{setup.vestry.base}/_/oidc"
    minted = httpx.post(f"{url}/mint-token", json={"token": jwt_token}, verify=setup.ssl)
    assert minted.status_code == 200, minted.text
    again = httpx.post(f"{url}/mint-token", json={"token": jwt_token}, verify=setup.ssl)
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "invalid-reuse-token"

    token = minted.json()["token"]
    burnt = httpx.post(f"{url}/burn-token", json={"token": token}, verify=setup.ssl)
    assert burnt.status_code == 202
    wheel = make_wheel(tmp_path, "widgets", "4.0")
    r = _upload(setup.vestry.upload_url, token, wheel, setup.ssl)
    assert r.status_code == 403 and "revoked" in r.text, r.text


def test_removing_the_publisher_kills_its_tokens(setup: Setup, tmp_path: Path) -> None:
    claims = github_claims("acme/gadgets", "release.yml", None)
    added = _vestry_cli(
        setup,
        "project",
        "trusted-publisher",
        "add",
        "gadgets",
        "--github",
        "acme/gadgets",
        "--workflow",
        "release.yml",
    )
    publisher_id = added.split()[0]
    minted = httpx.post(
        f"{setup.vestry.base}/_/oidc/mint-token",
        json={"token": setup.issuer.token(**claims)},
        verify=setup.ssl,
    ).json()
    assert minted["success"] is True and minted["token"].startswith("vestry-")
    wheel = make_wheel(tmp_path, "gadgets", "3.0")
    r = _upload(setup.vestry.upload_url, minted["token"], wheel, setup.ssl)
    assert r.status_code == 200, r.text
    _vestry_cli(setup, "project", "trusted-publisher", "remove", "gadgets", publisher_id)
    wheel = make_wheel(tmp_path, "gadgets", "3.1")
    r = _upload(setup.vestry.upload_url, minted["token"], wheel, setup.ssl)
    assert r.status_code in (403, 404), r.text


def test_vestry_up_makes_a_local_ca_and_says_how_to_trust_it(tmp_path: Path) -> None:
    vestry = start_vestry(tmp_path / "data", args=("--tls", "self-signed"))
    try:
        ca = tmp_path / "data" / "tls" / "ca.pem"
        log = vestry.log()
        assert f"SSL_CERT_FILE={ca}" in log and f"--cert {ca}" in log
        r = httpx.get(f"{vestry.base}/healthz", verify=ssl.create_default_context(cafile=ca))
        assert r.status_code == 200
        with pytest.raises(httpx.ConnectError):  # not trusted without the CA
            httpx.get(f"{vestry.base}/healthz", verify=ssl.create_default_context(cafile=None))
    finally:
        assert vestry.stop() == 0, vestry.log()

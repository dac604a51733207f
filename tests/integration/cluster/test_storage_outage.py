"""A storage outage seen through a real gateway: uploads are refused with 503 + Retry-After and
leave nothing behind; when storage is back, the same uploads go through and nothing was lost."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.integration.cluster.cluster import SERVICES, Cluster, create_user_token, sha256, upload
from vestry.gateway.errors import RETRY_AFTER_SECONDS

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

JSON = "application/vnd.pypi.simple.v1+json"


def test_uploads_during_a_storage_outage_fail_cleanly_and_succeed_after_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    for result in cluster.migrate():
        assert result.returncode == 0, result.stderr
    replicas = {svc: [cluster.start_service(svc, 1)] for svc in SERVICES}
    gateway = cluster.start_gateway("gateway", replicas)
    base = gateway.address
    token = create_user_token(
        replicas["auth"][0].address, cluster.values["VESTRY_INTERNAL_SECRET"], "alice"
    )
    dist = tmp_path / "dist"
    dist.mkdir()
    before = make_wheel(dist, "outage-lib", "1.0")
    during = make_wheel(dist, "outage-lib", "2.0")

    def listed(client: httpx.Client) -> dict[str, str]:
        reply = client.get(
            f"{base}/simple/outage-lib/", auth=("__token__", token), headers={"Accept": JSON}
        )
        assert reply.status_code == 200, reply.text
        return {f["filename"]: f["hashes"]["sha256"] for f in reply.json()["files"]}

    with httpx.Client(timeout=60) as client:
        assert upload(client, base, token, before).status_code == 200

        storage = replicas["storage"][0]
        storage.kill()
        refused = upload(client, base, token, during)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert refused.text == "a Vestry service is unavailable; try again shortly\n"
        # The index still answers, and shows nothing of the refused upload.
        assert listed(client) == {before.name: sha256(before.read_bytes())}

        # Storage comes back where the gateway expects it. The gateway reconnects within its
        # (capped) reconnect backoff, so a client retrying as Retry-After says gets through.
        cluster.start_service("storage", 2, address=storage.address)
        deadline = time.monotonic() + 3 * RETRY_AFTER_SECONDS
        while (retried := upload(client, base, token, during)).status_code == 503:
            assert retried.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
            assert time.monotonic() < deadline, "the gateway never reconnected to storage"
            time.sleep(0.2)
        assert retried.status_code == 200, retried.text
        files = listed(client)
        assert files == {p.name: sha256(p.read_bytes()) for p in (before, during)}
        for wheel in (before, during):
            body = client.get(f"{base}/files/outage-lib/{wheel.name}", auth=("__token__", token))
            assert body.status_code == 200
            assert body.content == wheel.read_bytes()
            metadata = client.get(
                f"{base}/files/outage-lib/{wheel.name}.metadata", auth=("__token__", token)
            )
            assert metadata.status_code == 200
            assert b"Name: outage-lib" in metadata.content

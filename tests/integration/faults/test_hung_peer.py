"""A hung peer: a service process stopped with SIGSTOP (its socket still accepts, nothing
answers). Every call the gateway makes has a deadline, so each request answers 504 within the
gateway's rpc timeout (2 s here) plus a margin for a loaded machine; after SIGCONT the very same
requests succeed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_wheel
from tests.integration.cluster.cluster import upload
from tests.integration.faults.deployment import SERVICES, Deployment, start_deployment

RPC_TIMEOUT = 2.0
MARGIN = 8.0  # the answer is due at RPC_TIMEOUT; the rest is a loaded machine's scheduling
SLOW = "a Vestry service took too long to answer; try again"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    running = start_deployment(
        tmp_path_factory.mktemp("hung"), VESTRY_GATEWAY_RPC_TIMEOUT=str(RPC_TIMEOUT)
    )
    try:
        yield running
    finally:
        running.stop()


# What each request needs from the stopped service (once the gateway's warm answers are made
# cold: Deployment.forget_warm_answers): auth verifies the token of every request,
# the index answers pages and checks uploads, storage holds the bytes.
@pytest.mark.parametrize("victim", SERVICES)
def test_a_hung_service_answers_504_within_the_deadline_and_recovers(
    deployment: Deployment, victim: str, tmp_path: Path
) -> None:
    token = deployment.user_token(f"hung-{victim}")
    project = f"hung-{victim}"
    stored = make_wheel(tmp_path, project, "1.0")
    during = make_wheel(tmp_path, project, "2.0")
    base = deployment.base
    auth = ("__token__", token)
    with httpx.Client(timeout=60) as client:
        assert upload(client, base, token, stored).status_code == 200
        requests = {
            "page": lambda: client.get(f"{base}/simple/{project}/", auth=auth),
            "file": lambda: client.get(f"{base}/files/{project}/{stored.name}", auth=auth),
            "upload": lambda: upload(client, base, token, during),
        }
        if victim == "storage":
            del requests["page"]  # pages need no bytes: served while storage hangs
            assert client.get(f"{base}/simple/{project}/", auth=auth).status_code == 200

        deployment.forget_warm_answers()
        deployment.pause(victim)
        seen: dict[str, tuple[int, float]] = {}
        try:
            for what, request in requests.items():
                started = time.monotonic()
                reply = request()
                seen[what] = (reply.status_code, time.monotonic() - started)
                assert reply.status_code == 504, (what, reply.status_code, reply.text)
                assert reply.text == SLOW + "\n"
                assert seen[what][1] < RPC_TIMEOUT + MARGIN, (what, seen[what])
        finally:
            deployment.resume(victim)

        assert client.get(f"{base}/simple/{project}/", auth=auth).status_code == 200
        body = client.get(f"{base}/files/{project}/{stored.name}", auth=auth)
        assert body.content == stored.read_bytes()
        # The upload that timed out left nothing half-done: it goes through now.
        again = upload(client, base, token, during)
        assert again.status_code == 200, again.text
        body = client.get(f"{base}/files/{project}/{during.name}", auth=auth)
        assert body.content == during.read_bytes()
    print(
        f"\nSIGSTOP {victim}: "
        + ", ".join(f"{what} {code} in {secs:.1f} s" for what, (code, secs) in seen.items())
    )

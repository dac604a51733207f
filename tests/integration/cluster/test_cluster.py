"""The scale-out proof: 2 gateways, 2 auth, 2 index and 2 storage processes on one PostgreSQL,
one Redis and one S3 server, configured as docker-compose.yml configures its containers."""

from __future__ import annotations

import random
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from vestry.auth.v1 import auth_pb2

from tests.factories import make_sdist, make_wheel
from tests.integration.cluster.cluster import (
    BIN,
    SERVICES,
    Cluster,
    Proc,
    create_user_token,
    rpc,
    sha256,
    upload,
)
from tests.support.clients import pip_install, twine_upload
from tests.support.warm_reads import prove_changes_are_refused_at_once
from vestry.services.auth.tokens import attenuate

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

JSON = "application/vnd.pypi.simple.v1+json"


def start_replicas(cluster: Cluster) -> dict[str, list[Proc]]:
    # Two `vestry migrate` at once, as two replicas' init steps would: both must succeed.
    for result in cluster.migrate(times=2):
        assert result.returncode == 0, result.stderr
    return {svc: [cluster.start_service(svc, i) for i in (1, 2)] for svc in SERVICES}


def healthcheck(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "vestry"), "healthcheck", target, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def metric(page: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` with these labels on a /metrics page."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def index_url(gateway: Proc, token: str) -> str:
    return gateway.address.replace("http://", f"http://__token__:{token}@") + "/simple/"


def page(gateway: Proc, project: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{gateway.address}/simple/{project}/",
        auth=("__token__", token),
        headers={"Accept": JSON},
        timeout=30,
    )


def two_gateways(cluster: Cluster) -> tuple[dict[str, list[Proc]], Proc, Proc, str]:
    """Two replicas of each service, gateway A talking only to replicas 1 and gateway B only
    to replicas 2 (all they share is PostgreSQL, Redis and S3), and the internal secret."""
    replicas = start_replicas(cluster)
    a = cluster.start_gateway("gateway-a", {s: replicas[s][:1] for s in SERVICES})
    b = cluster.start_gateway("gateway-b", {s: replicas[s][1:] for s in SERVICES})
    return replicas, a, b, cluster.values["VESTRY_INTERNAL_SECRET"]


def test_upload_via_one_gateway_installs_via_the_other_and_revocation_is_immediate(
    cluster: Cluster, tmp_path: Path
) -> None:
    replicas, a, b, secret = two_gateways(cluster)
    token = create_user_token(replicas["auth"][0].address, secret, "alice")

    dist = tmp_path / "dist"
    dist.mkdir()
    files = [make_wheel(dist, "shared-lib", "1.0"), make_sdist(dist, "shared-lib", "1.0")]
    result = twine_upload(a.address + "/legacy/", token, *files)
    assert result.returncode == 0, result.stdout + result.stderr
    # At once: no waiting, no retrying.
    target = tmp_path / "target"
    result = pip_install(index_url(b, token), target, "shared-lib==1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "shared_lib" / "__init__.py").read_text() == '__version__ = "1.0"\n'
    listed = {
        f["filename"]: f["hashes"]["sha256"] for f in page(b, "shared-lib", token).json()["files"]
    }
    assert listed == {p.name: sha256(p.read_bytes()) for p in files}

    # A second token of alice's, and one narrowed from it offline.
    second = rpc(
        replicas["auth"][1].address,
        secret,
        lambda stub: stub.MintToken(auth_pb2.MintTokenRequest(for_user="alice", name="second")),
    ).token
    narrowed = attenuate(second, projects=["shared-lib"], permissions=["read"], expires_in=None)
    for tok in (second, narrowed):
        for gw in (a, b):
            assert page(gw, "shared-lib", tok).status_code == 200
    # Both auth replicas now answer these tokens from the shared Redis cache.
    r = redis.Redis.from_url(cluster.values["VESTRY_REDIS_URL"])
    assert list(r.scan_iter(match=cluster.values["VESTRY_REDIS_PREFIX"] + "*", count=1000))
    r.close()

    # Revoked through A's auth replica; refused through B at once, narrowed copy included.
    rpc(
        replicas["auth"][0].address,
        secret,
        lambda stub: stub.RevokeToken(
            auth_pb2.RevokeTokenRequest(caller_token=second, token_or_id=second)
        ),
    )
    for tok in (second, narrowed):
        for gw in (b, a):
            refused = page(gw, "shared-lib", tok)
            assert refused.status_code == 401, (gw.name, refused.text)
    assert page(b, "shared-lib", token).status_code == 200  # alice's first token lives on

    # Each process exports what it did, on the port compose and Kubernetes scrape.
    gateway_a = a.scrape()
    http = "vestry_http_requests_total"
    assert metric(gateway_a, http, method="POST", route="/legacy/", status="200") == 2
    # The revoked token and its narrowed copy:
    assert metric(b.scrape(), http, route="/simple/{project}/", status="401") == 2
    index_1 = replicas["index"][0].scrape()
    handled = "grpc_server_handled_total"
    assert metric(index_1, handled, grpc_method="CommitFile", grpc_code="OK") == 2
    assert metric(replicas["auth"][1].scrape(), "vestry_token_verification_failures_total") == 2
    assert metric(replicas["storage"][0].scrape(), "vestry_storage_stored_bytes_total") > 0
    assert "shared-lib" not in gateway_a  # labels are templates and codes, never a project


@dataclass
class Outcome:
    kind: str
    started: float
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    ok: bool = False
    seconds: float = 0.0


def _download(client: httpx.Client, gateway: str, token: str, project: str, wheel: Path) -> str:
    """What pip does: the project page (PEP 691), then the file it names. "" when all is well."""
    listing = client.get(
        f"{gateway}/simple/{project}/", auth=("__token__", token), headers={"Accept": JSON}
    )
    if listing.status_code != 200:
        return f"page HTTP {listing.status_code}: {listing.text.strip()[:200]}"
    entry = next(f for f in listing.json()["files"] if f["filename"] == wheel.name)
    body = client.get(
        urljoin(f"{gateway}/simple/{project}/", entry["url"]), auth=("__token__", token)
    )
    if body.status_code != 200:
        return f"file HTTP {body.status_code}: {body.text.strip()[:200]}"
    if sha256(body.content) != sha256(wheel.read_bytes()):
        return "corrupt download"  # never retried away: a wrong answer is a failure
    return ""


def test_killing_one_replica_of_each_service_under_load_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    replicas = start_replicas(cluster)
    # Each gateway knows both replicas of each service (comma-separated VESTRY_*_ADDRESS).
    gateways = [
        cluster.start_gateway("gateway-a", {s: replicas[s] for s in SERVICES}),
        cluster.start_gateway("gateway-b", {s: replicas[s][::-1] for s in SERVICES}),
    ]
    token = create_user_token(
        replicas["auth"][0].address, cluster.values["VESTRY_INTERNAL_SECRET"], "loader"
    )
    dist = tmp_path / "dist"
    dist.mkdir()
    seeds = [make_wheel(dist, f"seed-{i}", "1.0") for i in range(10)]
    with httpx.Client(timeout=30) as client:
        for wheel in seeds:
            assert upload(client, gateways[0].address, token, wheel).status_code == 200

    # Bounded: 40 uploads and 60 downloads, 8 at a time, each tried at most 6 times.
    rng = random.Random(7)
    ops: list[tuple[str, Path]] = [
        ("upload", make_wheel(dist, f"load-{i % 8}", f"1.{i}")) for i in range(40)
    ] + [("download", rng.choice(seeds)) for _ in range(60)]
    rng.shuffle(ops)
    kill_after, max_attempts = 30, 6
    done = 0
    done_lock = threading.Lock()
    halfway = threading.Event()
    outcomes: list[Outcome] = []

    def run(i: int, kind: str, wheel: Path) -> Outcome:
        nonlocal done
        gateway = gateways[i % 2].address
        outcome = Outcome(kind, time.monotonic())
        with httpx.Client(timeout=30) as client:
            while outcome.attempts < max_attempts and not outcome.ok:
                outcome.attempts += 1
                try:
                    if kind == "upload":
                        reply = upload(client, gateway, token, wheel)
                        problem = (
                            ""
                            if reply.status_code == 200
                            else (f"HTTP {reply.status_code}: {reply.text.strip()[:200]}")
                        )
                        retry = reply.status_code >= 500
                    else:
                        project = wheel.name.split("-")[0].replace("_", "-")
                        problem = _download(client, gateway, token, project, wheel)
                        retry = problem.startswith(("page HTTP 5", "file HTTP 5"))
                except httpx.TransportError as exc:
                    problem, retry = f"{type(exc).__name__}: {exc}", True
                if not problem:
                    outcome.ok = True
                    break
                outcome.errors.append(problem)
                if not retry:
                    break
                time.sleep(0.2 * outcome.attempts)  # a client's backoff, not synchronisation
        outcome.seconds = time.monotonic() - outcome.started
        with done_lock:
            done += 1
            if done == kill_after:
                halfway.set()
        return outcome

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(run, i, kind, wheel) for i, (kind, wheel) in enumerate(ops)]
        assert halfway.wait(180), "the load did not reach the kill point"
        killed_at = time.monotonic()
        killed = {s: replicas[s][0].kill() for s in SERVICES}
        _finished, pending = wait_all(futures, timeout=300)
        assert not pending, f"{len(pending)} operations still running after 300 s"
        outcomes = [f.result() for f in futures]
    elapsed = time.monotonic() - started

    assert killed == {s: -9 for s in SERVICES}
    # What compose's health checks run: the survivors serve, the killed replicas do not.
    for svc in SERVICES:
        assert healthcheck(replicas[svc][1].address).returncode == 0
        dead = healthcheck(replicas[svc][0].address)
        assert dead.returncode == 1
        assert dead.stderr.startswith(f"vestry healthcheck {replicas[svc][0].address}: ")
    assert healthcheck(gateways[0].address + "/healthz").returncode == 0
    failed = [(o.kind, o.errors) for o in outcomes if not o.ok]
    assert not failed, failed
    after_kill = [o for o in outcomes if o.started >= killed_at]
    assert after_kill, "no operation ran after the kill"

    # Every acknowledged upload is there, intact, through either gateway.
    uploaded = [wheel for kind, wheel in ops if kind == "upload"]
    with httpx.Client(timeout=30) as client:
        for wheel in uploaded:
            project = wheel.name.split("-")[0].replace("_", "-")
            for gw in gateways:
                assert _download(client, gw.address, token, project, wheel) == "", wheel.name

    retried = [o for o in outcomes if o.attempts > 1]
    latencies = sorted(o.seconds for o in outcomes)
    print(
        f"\ncluster load: {len(outcomes)} ops in {elapsed:.1f}s "
        f"({len(outcomes) / elapsed:.1f} ops/s), {len(after_kill)} started after the kill; "
        f"{len(retried)} needed a client retry (max attempts "
        f"{max(o.attempts for o in outcomes)}); latency p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
        f"{latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms"
    )
    for o in retried:
        print(f"  retried {o.kind}: {o.errors}")


def test_changes_through_one_gateway_are_refused_through_the_other_under_load(
    cluster: Cluster, tmp_path: Path
) -> None:
    # Gateway B reads through its own replicas while A's replicas make the changes: the
    # change epochs reach B through Redis only.
    replicas, a, b, secret = two_gateways(cluster)
    owner = create_user_token(replicas["auth"][0].address, secret, "alice")
    member = create_user_token(replicas["auth"][1].address, secret, "bob")
    dist = tmp_path / "dist"
    dist.mkdir()
    prove_changes_are_refused_at_once(a.address, b.address, owner, ("bob", member), dist, b.scrape)

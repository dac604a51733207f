"""The backing stores failing under a running deployment, seen through the gateway: Redis
flushed and stopped (nothing fails open), PostgreSQL restarted (503 + Retry-After, never 500).
Each store is a throwaway of this test's own, started and stopped by its PID."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import redis
from vestry.auth.v1 import auth_pb2

from tests.factories import make_wheel
from tests.integration.cluster.cluster import rpc, upload
from tests.integration.faults.deployment import Deployment, start_deployment
from tests.support.redis import ThrowawayRedis
from tests.support.tools import tool
from tests.support.vestry_up import free_port
from vestry.gateway.errors import RETRY_AFTER_SECONDS

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def revoke(deployment: Deployment, token: str) -> None:
    rpc(
        deployment.data.socket("auth"),
        deployment.secret,
        lambda stub: stub.RevokeToken(
            auth_pb2.RevokeTokenRequest(caller_token=token, token_or_id=token)
        ),
    )


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# ---- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    tool("redis-server")
    server = ThrowawayRedis(free_port())
    server.start()
    yield server
    server.stop()


def test_redis_flushed_or_stopped_never_fails_open(
    throwaway_redis: ThrowawayRedis, tmp_path: Path
) -> None:
    deployment = start_deployment(
        tmp_path / "vestry", VESTRY_REDIS_URL=throwaway_redis.url, VESTRY_REDIS_PREFIX="faults:"
    )
    try:
        kept, doomed = deployment.user_token("alice"), deployment.user_token("bob")
        base = deployment.base
        wheel = make_wheel(tmp_path, "cached-lib", "1.0")

        def status(token: str) -> int:
            return httpx.get(f"{base}/simple/", auth=("__token__", token), timeout=30).status_code

        with httpx.Client(timeout=30) as client:
            assert upload(client, base, kept, wheel).status_code == 200
        assert status(kept) == status(doomed) == 200  # both verified, both cached in Redis
        cache = redis.Redis.from_url(throwaway_redis.url)
        assert list(cache.scan_iter(match="faults:*"))
        revoke(deployment, doomed)
        seen = {"revoked, Redis up": (status(kept), status(doomed))}

        cache.flushall()  # every cached verification gone at once
        seen["Redis flushed"] = (status(kept), status(doomed))
        cache.close()

        throwaway_redis.stop()
        seen["Redis stopped"] = (status(kept), status(doomed))
        # A revocation cannot reach every replica's cache now: refused, nothing changed.
        with pytest.raises(grpc.RpcError) as refused:
            revoke(deployment, kept)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        seen["Redis stopped, after a refused revocation"] = (status(kept), status(doomed))

        throwaway_redis.start()  # empty, as after a restart
        seen["Redis back, empty"] = (status(kept), status(doomed))
        revoke(deployment, kept)
        seen["kept token revoked too"] = (status(kept), status(doomed))
    finally:
        deployment.stop()
    assert seen == {
        "revoked, Redis up": (200, 401),
        "Redis flushed": (200, 401),
        "Redis stopped": (200, 401),
        "Redis stopped, after a refused revocation": (200, 401),
        "Redis back, empty": (200, 401),
        "kept token revoked too": (401, 401),
    }
    print("\nRedis faults (kept token, revoked token):", seen)


# ---- PostgreSQL -----------------------------------------------------------------------------


class ThrowawayPostgres:
    """initdb + pg_ctl as the postgres user, in a directory of this test's own."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 directories.
        workdir = Path(tempfile.mkdtemp(prefix="vestry-faults-pg-"))
        self.dir = workdir
        self.port = free_port()
        subprocess.run(["chown", "postgres", str(workdir)], check=True)
        self._as_postgres(f"{PG_BIN}/initdb -D {workdir}/data -U postgres -A trust -E UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command: str) -> None:
        subprocess.run(
            ["su", "postgres", "-c", command], check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            f"{PG_BIN}/pg_ctl -D {self.dir}/data -l {self.dir}/log -o '{options}' -w start"
        )

    def stop(self) -> None:
        self._as_postgres(f"{PG_BIN}/pg_ctl -D {self.dir}/data -m fast -w stop")


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip("PostgreSQL 15 server binaries not installed")
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        subprocess.run(
            ["su", "postgres", "-c", f"{PG_BIN}/pg_ctl -D {server.dir}/data -m immediate stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(server.dir, ignore_errors=True)


def test_postgres_restarted_answers_503_with_retry_after_and_recovers(
    throwaway_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    url = throwaway_postgres.url
    deployment = start_deployment(
        tmp_path / "vestry", VESTRY_AUTH_DATABASE_URL=url, VESTRY_INDEX_DATABASE_URL=url
    )
    try:
        token = deployment.user_token("alice")
        base = deployment.base
        auth = ("__token__", token)
        before = make_wheel(tmp_path, "pg-lib", "1.0")
        during = make_wheel(tmp_path, "pg-lib", "2.0")
        fresh = deployment.user_token("carol")  # never verified: needs the database
        with httpx.Client(timeout=30) as client:
            assert upload(client, base, token, before).status_code == 200
            requests: dict[str, Callable[[], httpx.Response]] = {
                "simple page": lambda: client.get(f"{base}/simple/pg-lib/", auth=auth),
                "root listing": lambda: client.get(f"{base}/simple/", auth=auth),
                "JSON API": lambda: client.get(f"{base}/pypi/pg-lib/json", auth=auth),
                "file": lambda: client.get(f"{base}/files/pg-lib/{before.name}", auth=auth),
                "upload": lambda: upload(client, base, token, during),
                "new token": lambda: client.get(f"{base}/simple/", auth=("__token__", fresh)),
            }
            assert all(r().status_code == 200 for what, r in requests.items() if what != "upload")

            deployment.forget_warm_answers()
            throwaway_postgres.stop()
            seen = {}
            for what, request in requests.items():
                reply = request()
                seen[what] = reply.status_code
                assert reply.status_code == 503, (what, reply.status_code, reply.text)
                assert reply.headers["Retry-After"] == str(RETRY_AFTER_SECONDS), what

            throwaway_postgres.start()
            # The pools' pre-ping replaces the dead connections; a client retrying as told
            # gets through within a few Retry-After periods.
            until(lambda: requests["simple page"]().status_code == 200, "the index to recover")
            for what, request in requests.items():
                reply = request()
                assert reply.status_code == 200, (what, reply.status_code, reply.text)
            body = client.get(f"{base}/files/pg-lib/{during.name}", auth=auth)
            assert body.content == during.read_bytes()
    finally:
        deployment.stop()
    print("\nPostgreSQL down, answers:", seen)

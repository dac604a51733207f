"""Index at scale: a 10,000-release x 3-file project among 100,000 projects.

Fills an index database with bulk inserts, then prints the latency of
  - the files page (IndexService.pages.project_page, in process),
  - the visible-projects listing (IndexService.pages.list_projects, anonymous and for a user),
  - both end to end through the gateway (GET /simple/<big>/ as JSON and HTML, GET /simple/),
    with the real four processes (auth, index, storage, gateway) on unix sockets,
and the query plans of the two queries, on SQLite and/or PostgreSQL.

    .venv/bin/python bench/index_scale.py                       # full scale, both databases
    .venv/bin/python bench/index_scale.py --releases 2000 --projects 20000 --backend sqlite
PostgreSQL comes from VESTRY_TEST_POSTGRES_URL (a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vestry.common.db import make_engine  # noqa: E402
from vestry.services.auth.backends.memory import MemoryCache  # noqa: E402
from vestry.services.auth.caveats import Scope  # noqa: E402
from vestry.services.auth.server import migrate_database as migrate_auth  # noqa: E402
from vestry.services.auth.service import AuthService  # noqa: E402
from vestry.services.index import models as m  # noqa: E402
from vestry.services.index.access import Caller  # noqa: E402
from vestry.services.index.names import ultranormalize  # noqa: E402
from vestry.services.index.server import migrate_database as migrate_index  # noqa: E402
from vestry.services.index.service import IndexService  # noqa: E402

BIG = "big-project"
OWNER = Caller(authenticated=True, user_id="owner-id", username="owner")
CHUNK = 5000


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(url: str, releases: int, files_per_release: int, projects: int) -> None:
    migrate_index(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    big_id = str(uuid.uuid4())

    def project_rows() -> Iterator[dict[str, Any]]:
        yield {
            "id": big_id,
            "name": BIG,
            "normalized_name": BIG,
            "ultranormalized_name": ultranormalize(BIG),
            "visibility": "private",
            "status": "active",
            "status_reason": "",
            "organization_id": None,
            "last_serial": 1,
            "created": now,
        }
        for i in range(projects - 1):
            name = f"project-{i:06d}"
            yield {
                "id": str(uuid.uuid4()),
                "name": name,
                "normalized_name": name,
                "ultranormalized_name": ultranormalize(name),
                # a mix: every third project public, the owner has a role on every tenth
                "visibility": "public" if i % 3 == 0 else "private",
                "status": "active",
                "status_reason": "",
                "organization_id": None,
                "last_serial": i,
                "created": now,
            }

    release_ids = [str(uuid.uuid4()) for _ in range(releases)]

    def release_rows() -> Iterator[dict[str, Any]]:
        for n, rid in enumerate(release_ids):
            yield {
                "id": rid,
                "project_id": big_id,
                "version": f"{n // 100}.{n % 100}.0",
                "canonical_version": f"{n // 100}.{n % 100}.0",
                "is_prerelease": False,
                "metadata_version": "2.1",
                "summary": "A big project",
                "description": "",
                "description_content_type": "",
                "requires_python": ">=3.9",
                "requires_dist": "[]",
                "extra_metadata": "{}",
                "yanked": n % 50 == 0,
                "yanked_reason": "bad build" if n % 50 == 0 else "",
                "created": now,
            }

    def file_rows() -> Iterator[dict[str, Any]]:
        tags = ("py3-none-any.whl", "cp312-cp312-manylinux_2_17_x86_64.whl", "tar.gz")
        for n, rid in enumerate(release_ids):
            version = f"{n // 100}.{n % 100}.0"
            for k in range(files_per_release):
                tag = tags[k % len(tags)]
                filename = (
                    f"big_project-{version}.{tag}"
                    if tag == "tar.gz"
                    else f"big_project-{version}-{tag}"
                )
                digest = hashlib.sha256(filename.encode()).hexdigest()
                yield {
                    "id": str(uuid.uuid4()),
                    "project_id": big_id,
                    "release_id": rid,
                    "filename": filename,
                    "packagetype": "sdist" if tag == "tar.gz" else "bdist_wheel",
                    "python_version": "source",
                    "requires_python": ">=3.9",
                    "size": 12345,
                    "sha256": digest,
                    "blake2b_256": hashlib.blake2b(filename.encode(), digest_size=32).hexdigest(),
                    "md5": digest[:32],
                    "blob_key": f"sha256/{digest}",
                    "metadata_blob_key": f"sha256/{digest[::-1]}",
                    "metadata_sha256": digest[::-1],
                    "upload_time": now,
                    "uploader": "owner",
                    "yanked": False,
                    "yanked_reason": "",
                }

    started = time.perf_counter()
    with engine.begin() as conn:
        for table, rows in (
            (m.Project.__table__, project_rows()),
            (m.Release.__table__, release_rows()),
            (m.File.__table__, file_rows()),
        ):
            for batch in _chunks(rows):
                conn.execute(sa.insert(table), batch)
        conn.execute(
            sa.insert(m.Role.__table__),
            [
                {
                    "project_id": big_id,
                    "user_id": OWNER.user_id,
                    "username": "owner",
                    "role": "owner",
                }
            ],
        )
        ids = conn.execute(
            sa.select(m.Project.id).where(m.Project.visibility == "private").limit(projects // 10)
        ).scalars()
        for batch in _chunks(
            {"project_id": pid, "user_id": OWNER.user_id, "username": "owner", "role": "reader"}
            for pid in ids
            if pid != big_id
        ):
            conn.execute(sa.insert(m.Role.__table__), batch)
        conn.execute(sa.update(m.Serial).values(value=projects))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    print(f"  filled in {time.perf_counter() - started:.1f}s")
    engine.dispose()


def timed(label: str, fn: Callable[[], object], runs: int) -> None:
    fn()  # warm: connection pool, page cache
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"  {label:<52} p50 {statistics.median(samples):8.1f} ms   p95 {p95:8.1f} ms")


def plans(url: str) -> None:
    engine = make_engine(url)
    service = IndexService(engine)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))  # type: ignore[arg-type]

    sa.event.listen(engine, "before_cursor_execute", capture)
    service.pages.project_page(OWNER, BIG)
    page_statements = list(statements)
    statements.clear()
    service.pages.list_projects(OWNER)
    sa.event.remove(engine, "before_cursor_execute", capture)
    print(f"  statements: files page {len(page_statements)}, listing {len(statements)} (no N+1)")
    statements[:] = page_statements
    files_sql, params = next((st, p) for st, p in statements if "FROM files" in st)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        cur.execute(prefix + files_sql, params)
        print("  files query plan: " + " | ".join(str(r[-1]) for r in cur.fetchall()))
    engine.dispose()


@contextmanager
def running_stack(index_url: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """The four real processes on unix sockets; yields (gateway base URL, owner token)."""
    auth_url = f"sqlite:///{workdir / 'auth.sqlite3'}"
    migrate_auth(auth_url)
    auth = AuthService(make_engine(auth_url), MemoryCache())
    user = auth.create_user("owner")
    token, _ = auth.mint(requested=Scope(), for_user="owner", name="bench")
    # The index knows the owner by the auth id: point the bench's role rows at it.
    engine = make_engine(index_url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(m.Role).where(m.Role.user_id == OWNER.user_id).values(user_id=user.id)
        )
    engine.dispose()
    run = workdir / "run"
    run.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "VESTRY_INTERNAL_SECRET": secrets.token_hex(32),
        "VESTRY_AUTH_LISTEN": f"unix:{run}/auth.sock",
        "VESTRY_AUTH_DATABASE_URL": auth_url,
        "VESTRY_INDEX_LISTEN": f"unix:{run}/index.sock",
        "VESTRY_INDEX_DATABASE_URL": index_url,
        "VESTRY_STORAGE_LISTEN": f"unix:{run}/storage.sock",
        "VESTRY_STORAGE_BACKEND": "local",
        "VESTRY_STORAGE_PATH": str(workdir / "blobs"),
        "VESTRY_AUTH_ADDRESS": f"unix:{run}/auth.sock",
        "VESTRY_INDEX_ADDRESS": f"unix:{run}/index.sock",
        "VESTRY_STORAGE_ADDRESS": f"unix:{run}/storage.sock",
        "VESTRY_GATEWAY_PORT": str(port),
        "VESTRY_LOG_LEVEL": "WARNING",
    }
    procs = [
        subprocess.Popen([sys.executable, "-m", "vestry.cli.main", "serve", name], env=env)
        for name in ("auth", "index", "storage", "gateway")
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Ready when the gateway AND the services behind it answer.
                r = httpx.get(base + "/simple/", auth=("__token__", token), timeout=5)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit("the stack did not start")
            time.sleep(0.1)
        yield base, token
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bench(url: str, args: argparse.Namespace, workdir: Path) -> None:
    fill(url, args.releases, args.files_per_release, args.projects)
    plans(url)
    engine = make_engine(url)
    service = IndexService(engine)
    page = service.pages.project_page(OWNER, BIG)
    print(f"  big project: {len(page.releases)} releases, {len(page.files)} files")
    timed(
        "files page, in process, uncached (project_page)",
        lambda: service.pages.project_page(OWNER, BIG),
        args.runs,
    )
    anon = Caller()
    print(
        f"  visible: anonymous {len(service.pages.list_projects(anon)[0])}, "
        f"user {len(service.pages.list_projects(OWNER)[0])}"
    )
    timed("listing, in process, anonymous", lambda: service.pages.list_projects(anon), args.runs)
    timed(
        "listing, in process, user with roles",
        lambda: service.pages.list_projects(OWNER),
        args.runs,
    )
    engine.dispose()
    with (
        running_stack(url, workdir) as (base, token),
        httpx.Client(base_url=base, auth=("__token__", token), timeout=120) as client,
    ):

        def get(path: str, accept: str, coding: str = "identity") -> None:
            r = client.get(path, headers={"Accept": accept, "Accept-Encoding": coding})
            assert r.status_code == 200, (r.status_code, r.text[:200])

        json_media = "application/vnd.pypi.simple.v1+json"
        page = f"/simple/{BIG}/"
        size = len(client.get(page, headers={"Accept": json_media}).content)
        with client.stream(
            "GET", page, headers={"Accept": json_media, "Accept-Encoding": "gzip"}
        ) as r:
            packed = sum(len(chunk) for chunk in r.iter_raw())
        print(f"  files page JSON body: {size / 1e6:.1f} MB, gzipped {packed / 1e6:.1f} MB")
        for media, label in ((json_media, "JSON"), ("text/html", "HTML")):
            timed(
                f"files page through the gateway ({label})", lambda m=media: get(page, m), args.runs
            )
            # gzip: what pip and uv ask for; the time includes the client's decompression,
            # which a loopback cannot repay but any real network does.
            timed(
                f"files page through the gateway ({label}, gzip)",
                lambda m=media: get(page, m, "gzip"),
                args.runs,
            )
        timed("JSON API, whole project", lambda: get(f"/pypi/{BIG}/json", "*/*"), args.runs)
        middle = args.releases // 2  # a release that exists at any --releases
        release = f"/pypi/{BIG}/{middle // 100}.{middle % 100}.0/json"
        timed("JSON API, one release", lambda: get(release, "*/*"), args.runs)
        timed(
            "listing through the gateway (JSON, user)",
            lambda: get("/simple/", json_media),
            max(3, args.runs // 3),
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--releases", type=int, default=10_000)
    p.add_argument("--files-per-release", type=int, default=3)
    p.add_argument("--projects", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = p.parse_args()
    print(
        f"{args.projects} projects; '{BIG}' has {args.releases} releases x "
        f"{args.files_per_release} files"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            bench(f"sqlite:///{Path(tmp) / 'index.sqlite3'}", args, Path(tmp))
    if args.backend in ("postgres", "both"):
        admin_url = os.environ.get("VESTRY_TEST_POSTGRES_URL")
        if not admin_url:
            print("PostgreSQL: skipped (set VESTRY_TEST_POSTGRES_URL)")
            return
        name = f"vestry_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                print("PostgreSQL")
                bench(admin_url.rsplit("/", 1)[0] + f"/{name}", args, Path(tmp))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()

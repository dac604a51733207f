"""`vestry fsck` and `vestry gc` as an operator runs them: on a data dir, and against a
deployment's index and storage services."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.factories.index import add_file, index_engine
from tests.integration.storage.harness import ServerThread
from tests.support.storage import backend_settings
from tests.support.vestry_up import free_port
from vestry.common.datadir import DataDir
from vestry.services.index import server as index_server
from vestry.services.index.settings import IndexSettings
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.blobstore import BlobStore, IncomingBlob, blob_path

BIN = Path(sys.executable).parent
DAY = 86400
WHEEL = b"wheel bytes " * 1000
WHEEL_MD = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
SDIST = b"sdist bytes " * 500


def vestry(*args: str, secret: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTRY_")}
    if secret:
        env["VESTRY_INTERNAL_SECRET"] = secret
    return subprocess.run(
        [str(BIN / "vestry"), *args], capture_output=True, text=True, env=env, timeout=120
    )


def put(store: BlobStore, data: bytes) -> str:
    incoming = IncomingBlob(store.tmp_dir(), 1 << 30)
    try:
        incoming.write(data)
        return store.commit(incoming, incoming.finish()).key
    finally:
        incoming.discard()


@dataclass
class Deployment:
    engine: Engine
    store: BlobStore
    blob_root: Path | None  # local backend: where blob files live (to age or damage them)
    wheel: str
    metadata: str
    sdist: str

    def age(self, key: str, seconds: float) -> None:
        assert self.blob_root is not None
        when = time.time() - seconds
        os.utime(self.blob_root / blob_path(key), (when, when))


def populate(engine: Engine, store: BlobStore, blob_root: Path | None) -> Deployment:
    wheel, metadata = add_file(engine, "demo", "demo-1.0-py3-none-any.whl", WHEEL, WHEEL_MD)
    sdist, _ = add_file(engine, "demo", "demo-1.0.tar.gz", SDIST)
    for data in (WHEEL, WHEEL_MD, SDIST):
        put(store, data)
    return Deployment(engine, store, blob_root, wheel, metadata, sdist)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[tuple[Path, Deployment]]:
    dd = DataDir(tmp_path / "data")
    dd.prepare()
    engine = index_engine(dd.database_url("index"))
    store = LocalBlobStore(str(dd.blobs))
    yield dd.root, populate(engine, store, dd.blobs / "blobs")
    engine.dispose()


def test_fsck_data_dir_clean_then_damaged(data_dir: tuple[Path, Deployment]) -> None:
    root, d = data_dir
    ok = vestry("fsck", "--data-dir", str(root))
    assert ok.returncode == 0, ok.stderr
    assert "checked 3 blobs" in ok.stdout and "0 missing, 0 damaged" in ok.stdout

    assert d.blob_root is not None
    path = d.blob_root / blob_path(d.wheel)
    path.write_bytes(path.read_bytes()[:-1] + b"?")
    damaged = path.read_bytes()
    d.store.delete(d.metadata)
    bad = vestry("fsck", "--data-dir", str(root))
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert any(
        line.startswith(f"DAMAGED {d.wheel}") and "demo-1.0-py3-none-any.whl (project demo)" in line
        for line in lines
    ), bad.stdout
    assert any(
        line.startswith(f"MISSING {d.metadata}") and "demo-1.0-py3-none-any.whl.metadata" in line
        for line in lines
    ), bad.stdout
    assert "1 missing, 1 damaged" in bad.stdout
    assert "nothing was changed" in bad.stderr
    assert path.read_bytes() == damaged  # reported, never repaired or removed
    assert not d.store.exists(d.metadata)


def test_gc_data_dir(data_dir: tuple[Path, Deployment]) -> None:
    root, d = data_dir
    old = put(d.store, b"an upload whose index commit failed, long ago")
    recent = put(d.store, b"an upload in flight")
    d.age(old, 3 * DAY)
    d.age(recent, 2 * 3600)
    for key in (d.wheel, d.metadata, d.sdist):
        d.age(key, 30 * DAY)  # referenced blobs are kept however old

    dry = vestry("gc", "--data-dir", str(root), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {old}" in dry.stdout
    assert recent not in dry.stdout
    assert "dry run: nothing deleted" in dry.stdout
    assert d.store.exists(old)

    done = vestry("gc", "--data-dir", str(root))
    assert done.returncode == 0, done.stderr
    assert f"deleted {old}" in done.stdout
    assert "kept 1 unreferenced" in done.stdout
    assert not d.store.exists(old)
    assert all(d.store.exists(k) for k in (d.wheel, d.metadata, d.sdist, recent))

    shorter = vestry("gc", "--data-dir", str(root), "--grace", "1h")
    assert f"deleted {recent}" in shorter.stdout
    assert vestry("fsck", "--data-dir", str(root)).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fsck", "--data-dir", "{missing}"], "no index database"),
        (["gc", "--data-dir", "{root}", "--grace", "soon"], "--grace"),
        (["gc", "--index", "127.0.0.1:1"], "both --index and --storage"),
        (["fsck", "--index", "127.0.0.1:1", "--storage", "127.0.0.1:1"], "VESTRY_INTERNAL_SECRET"),
    ],
)
def test_usage_errors(
    data_dir: tuple[Path, Deployment], tmp_path: Path, args: list[str], message: str
) -> None:
    root, _ = data_dir
    argv = [a.format(missing=tmp_path / "nowhere", root=root) for a in args]
    result = vestry(*argv)
    assert result.returncode == 2
    assert message in result.stderr


# ---- a deployment, through the services' RPCs --------------------------------------------


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, internal_secret: str, backend: str
) -> Iterator[tuple[str, str, Deployment]]:
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    engine = index_engine(url)
    index = ServerThread(
        factory=lambda: index_server.create_server(
            IndexSettings(VESTRY_INTERNAL_SECRET=internal_secret, database_url=url),  # type: ignore[call-arg]
            "127.0.0.1:0",
        )
    )
    storage = ServerThread(backend_settings(request, backend, tmp_path / "store", internal_secret))
    blob_root = tmp_path / "store" / "blobs" if backend == "local" else None
    try:
        yield index.address, storage.address, populate(engine, storage.store, blob_root)
    finally:
        storage.stop()
        index.stop()
        engine.dispose()


def test_fsck_and_gc_against_a_deployment(
    deployment: tuple[str, str, Deployment], internal_secret: str
) -> None:
    index, storage, d = deployment
    target = ["--index", index, "--storage", storage]
    ok = vestry("fsck", *target, secret=internal_secret)
    assert ok.returncode == 0, ok.stderr
    assert "checked 3 blobs" in ok.stdout

    d.store.delete(d.sdist)
    orphan = put(d.store, b"orphan written moments ago")
    bad = vestry("fsck", *target, secret=internal_secret)
    assert bad.returncode == 1
    assert f"MISSING {d.sdist}" in bad.stdout and "demo-1.0.tar.gz (project demo)" in bad.stdout
    assert "1 unreferenced blobs" in bad.stdout

    # The orphan is younger than the grace period: an upload in flight is never collected.
    kept = vestry("gc", *target, secret=internal_secret)
    assert kept.returncode == 0, kept.stderr
    assert "deleted 0" in kept.stdout and "kept 1 unreferenced" in kept.stdout
    assert d.store.exists(orphan)
    if d.blob_root is not None:
        d.age(orphan, 2 * DAY)
        gone = vestry("gc", *target, secret=internal_secret)
        assert f"deleted {orphan}" in gone.stdout
        assert not d.store.exists(orphan)
    assert d.store.exists(d.wheel) and d.store.exists(d.metadata)


def test_deployment_errors_are_clear(
    deployment: tuple[str, str, Deployment], internal_secret: str
) -> None:
    index, storage, _ = deployment
    wrong = vestry("fsck", "--index", index, "--storage", storage, secret="x" * 64)
    assert wrong.returncode == 2
    assert "refused the internal credential" in wrong.stderr
    down = f"127.0.0.1:{free_port()}"
    gone = vestry("gc", "--index", index, "--storage", down, secret=internal_secret)
    assert gone.returncode == 2
    assert f"storage service at {down} is unavailable" in gone.stderr

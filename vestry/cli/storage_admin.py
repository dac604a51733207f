"""`vestry fsck` and `vestry gc`: the index's references against the stored blobs.

Either on an embedded data directory (the index database and the local blob store, opened
directly), or against a deployment through the index and storage services' RPCs
(`--index ADDRESS --storage ADDRESS`, with VESTRY_INTERNAL_SECRET).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from vestry.index.v1 import index_pb2, index_pb2_grpc
from vestry.storage.v1 import storage_pb2, storage_pb2_grpc

from vestry.cli.errors import CliError
from vestry.cli.rpc import TRANSIENT, describe_rpc_error
from vestry.common.datadir import DataDir, default_data_dir
from vestry.common.db import check_migrated, make_engine
from vestry.common.durations import parse_duration
from vestry.common.errors import DomainError, FailedPrecondition, Unavailable
from vestry.common.grpc_options import CLIENT_OPTIONS
from vestry.common.internal_auth import METADATA_KEY, mint_credential
from vestry.services.index.blobrefs import blob_references
from vestry.services.index.server import MIGRATIONS, VERSION_TABLE
from vestry.services.storage.backends.local import LocalBlobStore
from vestry.services.storage.blobstore import BlobInfo, StoredBlob
from vestry.services.storage.errors import BlobNotFound
from vestry.services.storage.maintenance import (
    DEFAULT_GRACE_SECONDS,
    BlobSource,
    Reference,
    StoreBlobs,
    fsck,
    gc,
)

__all__ = ["run"]

_LONG_CALL = 3600.0  # reading back one large blob over a slow link


# ---- where references and blobs come from -------------------------------------------------


def _local(data_dir: Path, prune: bool = False) -> tuple[Iterator[Reference], BlobSource]:
    dd = DataDir(data_dir)
    db = dd.root / "index.sqlite3"
    if not db.is_file():
        raise FailedPrecondition(f"no index database at {db}: is {dd.root} a Vestry data dir?")
    if not dd.blobs.is_dir():
        raise FailedPrecondition(f"no blob store at {dd.blobs}")
    engine = make_engine(dd.database_url("index"))
    check_migrated(engine, MIGRATIONS, VERSION_TABLE)

    def references() -> Iterator[Reference]:
        try:
            for page in blob_references(engine):
                for r in page:
                    if prune and r.upstream_cache:
                        continue  # gc --prune-upstream: the proxy fetches it again if asked
                    yield Reference(
                        r.blob_key,
                        r.kind,
                        r.project_name,
                        r.filename,
                        r.expected_sha256,
                        r.expected_size,
                        r.upstream_cache,
                    )
        finally:
            engine.dispose()

    return references(), StoreBlobs(LocalBlobStore(str(dd.blobs)))


class _Remote:
    def __init__(self, address: str, secret: bytes, service: str) -> None:
        self.address = address
        self.service = service
        self._secret = secret
        self.channel = grpc.insecure_channel(address, options=list(CLIENT_OPTIONS))

    def metadata(self) -> tuple[tuple[str, str], ...]:
        # Minted per call: a credential lives minutes, a full fsck can take hours.
        return ((METADATA_KEY, mint_credential(self._secret)),)

    def error(self, exc: grpc.RpcError) -> DomainError:
        # The maintenance code's own errors: Unavailable is the one worth trying again later.
        message = describe_rpc_error(exc, f"the {self.service} service at {self.address}")
        return Unavailable(message) if exc.code() in TRANSIENT else FailedPrecondition(message)


class RemoteBlobs(_Remote):
    """A `BlobSource` over the storage service's RPCs."""

    def __init__(self, address: str, secret: bytes) -> None:
        super().__init__(address, secret, "storage")
        self._stub = storage_pb2_grpc.StorageServiceStub(self.channel)

    def verify(self, key: str) -> BlobInfo:
        try:
            info = self._stub.VerifyBlob(
                storage_pb2.BlobRef(key=key), metadata=self.metadata(), timeout=_LONG_CALL
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise BlobNotFound(f"no blob {key}") from exc
            raise self.error(exc) from exc
        return BlobInfo(info.key, info.size, info.sha256, info.blake2b_256, info.md5)

    def list_blobs(self) -> Iterator[StoredBlob]:
        try:
            for page in self._stub.ListBlobs(
                storage_pb2.ListBlobsRequest(), metadata=self.metadata(), timeout=_LONG_CALL
            ):
                for b in page.blobs:
                    yield StoredBlob(b.key, b.size, b.modified.ToNanoseconds() / 1e9)
        except grpc.RpcError as exc:
            raise self.error(exc) from exc

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        before = Timestamp()
        before.FromNanoseconds(int(cutoff * 1e9))
        try:
            reply = self._stub.DeleteIfOlder(
                storage_pb2.DeleteIfOlderRequest(key=key, modified_before=before),
                metadata=self.metadata(),
                timeout=60,
            )
        except grpc.RpcError as exc:
            raise self.error(exc) from exc
        return bool(reply.deleted)

    def sweep_spool(self, cutoff: float, dry_run: bool) -> list[tuple[str, int]]:
        return []  # the storage process sweeps its own spool when it starts


_KINDS: dict[int, str] = {
    index_pb2.BlobReference.FILE: "file",
    index_pb2.BlobReference.METADATA: "metadata",
}


def _remote_references(index: _Remote, prune: bool = False) -> Iterator[Reference]:
    stub = index_pb2_grpc.IndexServiceStub(index.channel)
    try:
        for page in stub.ListBlobReferences(
            index_pb2.ListBlobReferencesRequest(), metadata=index.metadata(), timeout=_LONG_CALL
        ):
            for r in page.references:
                if prune and r.upstream_cache:
                    continue
                yield Reference(
                    r.blob_key,
                    "metadata" if _KINDS.get(r.kind) == "metadata" else "file",
                    r.project_name,
                    r.filename,
                    r.expected_sha256,
                    r.expected_size,
                    r.upstream_cache,
                )
    except grpc.RpcError as exc:
        raise index.error(exc) from exc


def _sources(args: argparse.Namespace) -> tuple[Iterator[Reference], BlobSource, list[_Remote]]:
    prune = bool(getattr(args, "prune_upstream", False))
    if args.index or args.storage:
        if not (args.index and args.storage):
            raise FailedPrecondition("a deployment needs both --index and --storage")
        if args.data_dir is not None:
            raise FailedPrecondition("--data-dir or --index/--storage, not both")
        secret = os.environ.get("VESTRY_INTERNAL_SECRET", "")
        if len(secret) < 32:
            raise FailedPrecondition(
                "calling a deployment needs its internal secret in VESTRY_INTERNAL_SECRET"
            )
        index = _Remote(args.index, secret.encode(), "index")
        storage = RemoteBlobs(args.storage, secret.encode())
        return _remote_references(index, prune), storage, [index, storage]
    refs, blobs = _local(args.data_dir or default_data_dir(), prune)
    return refs, blobs, []


def _close(remotes: list[_Remote]) -> None:
    for remote in remotes:
        remote.channel.close()


# ---- the commands -------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fsck(args: argparse.Namespace) -> int:
    refs, blobs, remotes = _sources(args)
    try:
        report = fsck(refs, blobs, on_problem=lambda p: print(p, flush=True))
    finally:
        _close(remotes)
    counts = {
        kind: sum(p.kind == kind for p in report.problems)
        for kind in ("missing", "damaged", "bad-reference")
    }
    print(
        f"fsck: checked {report.checked} blobs ({_size(report.checked_bytes)}): "
        f"{counts['missing']} missing, {counts['damaged']} damaged, "
        f"{counts['bad-reference']} bad index references; "
        f"{report.unreferenced} unreferenced blobs ({_size(report.unreferenced_bytes)}) "
        "for `vestry gc`"
    )
    if not report.ok:
        print(
            "fsck: nothing was changed; restore the listed blobs from backup "
            "(or re-upload the files)",
            file=sys.stderr,
        )
    return 0 if report.ok else 1


def _gc(args: argparse.Namespace) -> int:
    try:
        grace = parse_duration(args.grace) if args.grace else DEFAULT_GRACE_SECONDS
    except ValueError as exc:
        raise FailedPrecondition(f"--grace: {exc}") from exc
    refs, blobs, remotes = _sources(args)
    verb = "would delete" if args.dry_run else "deleted"

    def collected(b: StoredBlob) -> None:
        print(f"{verb} {b.key} ({b.size} bytes, last written {_when(b.modified)})", flush=True)

    try:
        report = gc(
            refs,
            blobs,
            grace_seconds=grace,
            dry_run=args.dry_run,
            allow_empty_index=args.allow_empty_index,
            on_collect=collected,
        )
    finally:
        _close(remotes)
    for path, size in report.spool:
        print(f"{verb} stale spooled upload {path} ({size} bytes)")
    print(
        f"gc: {report.stored} blobs stored, {report.referenced} referenced; {verb} "
        f"{len(report.collected)} ({_size(report.collected_bytes)}); kept "
        f"{len(report.too_young)} unreferenced written within the last {args.grace}"
        + (" (dry run: nothing deleted)" if args.dry_run else "")
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `vestry fsck` or `vestry gc`; 0 ok, 1 fsck found problems; raises CliError with
    status 2 when it could not run."""
    try:
        return _fsck(args) if args.command == "fsck" else _gc(args)
    except DomainError as exc:
        raise CliError(exc.message, command=args.command, status=2) from exc

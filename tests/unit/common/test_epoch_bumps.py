"""Which calls move an epoch: everything but a service's named read-only methods."""

from __future__ import annotations

from pathlib import Path

import pytest
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.epoch_bumps import BumpInterceptor, bump_interceptors
from vestry.common.epochs import AUTH, FileEpochs
from vestry.services.auth import server as auth_server
from vestry.services.index import server as index_server


@pytest.mark.parametrize(
    ("module", "descriptor", "service"),
    [
        (auth_server, auth_pb2.DESCRIPTOR, "AuthService"),
        (index_server, index_pb2.DESCRIPTOR, "IndexService"),
    ],
)
def test_read_only_methods_exist(module: object, descriptor: object, service: str) -> None:
    # A renamed method must not silently become a write, nor a typo a "read".
    methods = {m.name for m in descriptor.services_by_name[service].methods}  # type: ignore[attr-defined]
    read_only = module.READ_ONLY  # type: ignore[attr-defined]
    assert read_only <= methods
    assert methods - read_only  # every service has writes


def test_writes_are_the_default(tmp_path: Path) -> None:
    epochs = FileEpochs(tmp_path / "epochs")
    try:
        bumps = BumpInterceptor(epochs, AUTH, "vestry.auth.v1.AuthService", {"VerifyToken"})
        assert not bumps.writes("/vestry.auth.v1.AuthService/VerifyToken")
        assert bumps.writes("/vestry.auth.v1.AuthService/RevokeToken")
        assert bumps.writes("/vestry.auth.v1.AuthService/SomeMethodAddedLater")
        assert not bumps.writes("/grpc.health.v1.Health/Check")
    finally:
        epochs.close_sync()


def test_index_download_counts_do_not_bump() -> None:
    # The gateway flushes counts every few seconds; a bump each time would empty every cache.
    assert "RecordDownloads" in index_server.READ_ONLY
    for write in ("SetVisibility", "RemoveRole", "RemoveTeamMember", "CommitFile", "Delete"):
        assert write not in index_server.READ_ONLY
    for write in ("RevokeToken", "SetUserActive", "BurnPublisherToken"):
        assert write not in auth_server.READ_ONLY


def test_a_starting_service_bumps_once_before_it_serves(tmp_path: Path) -> None:
    # Its predecessor may have died between a commit and that commit's bump.
    url = f"file://{tmp_path / 'epochs'}"
    epochs = FileEpochs(tmp_path / "epochs")
    try:
        before = epochs.snapshot()
        bump_interceptors(url, "", AUTH, "vestry.auth.v1.AuthService", {"VerifyToken"})
        assert epochs.snapshot().auth == before.auth + 1
        assert epochs.snapshot().index == before.index
    finally:
        epochs.close_sync()

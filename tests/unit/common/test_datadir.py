from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vestry.common.datadir import DataDir


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    dd = DataDir(tmp_path / "data")
    first = dd.internal_secret()
    assert len(first) >= 32
    assert dd.internal_secret() == first  # kept, not regenerated
    assert stat.S_IMODE(dd.secrets_file.stat().st_mode) == 0o600
    for path in (dd.root, dd.run, dd.blobs):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_two_installations_get_different_secrets(tmp_path: Path) -> None:
    assert DataDir(tmp_path / "a").internal_secret() != DataDir(tmp_path / "b").internal_secret()


def test_damaged_secrets_file_is_refused_not_replaced(tmp_path: Path) -> None:
    dd = DataDir(tmp_path / "data")
    dd.prepare()
    dd.secrets_file.write_text('{"internal_secret": "short"}')
    with pytest.raises(SystemExit, match="damaged"):
        dd.internal_secret()
    assert "short" in dd.secrets_file.read_text()


@pytest.mark.parametrize("svc", ["AUTH", "INDEX", "STORAGE"])
def test_service_env_uses_private_unix_sockets(tmp_path: Path, svc: str) -> None:
    env = DataDir(tmp_path / "data").service_env()
    assert env[f"VESTRY_{svc}_LISTEN"].startswith("unix:")
    assert env[f"VESTRY_{svc}_LISTEN"] == env[f"VESTRY_{svc}_ADDRESS"]

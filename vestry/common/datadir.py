"""The embedded deployment's data directory: where `vestry up` keeps everything."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDir", "default_data_dir"]


def default_data_dir() -> Path:
    return Path(os.environ.get("VESTRY_DATA_DIR", "./vestry-data"))


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    def database_url(self, service: str) -> str:
        """The SQLite database of `service` (auth or index)."""
        return f"sqlite:///{(self.root / f'{service}.sqlite3').resolve()}"

    @property
    def blobs(self) -> Path:
        return self.root / "storage"

    @property
    def epochs(self) -> Path:
        """The change epochs the processes of this data directory share (vestry.common.epochs)."""
        return self.run / "epochs"

    @property
    def web_sessions(self) -> Path:
        """The web sign-ins the gateway processes of this data directory share (SQLite)."""
        return self.run / "sessions.sqlite3"

    @property
    def epochs_url(self) -> str:
        return self.epochs.resolve().as_uri()

    def socket(self, service: str) -> str:
        return f"unix:{(self.run / f'{service}.sock').resolve()}"

    def prepare(self) -> None:
        """Create the layout, private to this user."""
        for path in (self.root, self.run, self.blobs):
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def internal_secret(self) -> str:
        """The secret of this installation, generated on first use and kept with mode 0600."""
        self.prepare()
        path = self.secrets_file
        if path.exists():
            data = json.loads(path.read_text())
            secret = data.get("internal_secret", "")
            if not isinstance(secret, str) or len(secret) < 32:
                raise SystemExit(f"{path} is damaged: no internal_secret; restore it from backup")
            return secret
        secret = secrets.token_hex(32)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"internal_secret": secret}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return secret

    def service_env(self) -> dict[str, str]:
        """Environment for the four processes of an embedded deployment."""
        return {
            "VESTRY_INTERNAL_SECRET": self.internal_secret(),
            "VESTRY_AUTH_LISTEN": self.socket("auth"),
            "VESTRY_AUTH_DATABASE_URL": self.database_url("auth"),
            "VESTRY_INDEX_LISTEN": self.socket("index"),
            "VESTRY_INDEX_DATABASE_URL": self.database_url("index"),
            "VESTRY_STORAGE_LISTEN": self.socket("storage"),
            "VESTRY_STORAGE_BACKEND": "local",
            "VESTRY_STORAGE_PATH": str(self.blobs.resolve()),
            "VESTRY_AUTH_ADDRESS": self.socket("auth"),
            "VESTRY_INDEX_ADDRESS": self.socket("index"),
            "VESTRY_STORAGE_ADDRESS": self.socket("storage"),
            # One machine, one data dir: the gateway sends blob files from the shared volume
            # (false in the environment: through the storage service, as a cluster does).
            "VESTRY_GATEWAY_LOCAL_BLOBS": os.environ.get("VESTRY_GATEWAY_LOCAL_BLOBS", "true"),
            "VESTRY_INVALIDATION_URL": self.epochs_url,
        }

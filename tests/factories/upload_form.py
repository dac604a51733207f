"""An upload form as twine builds it, and the gateway's upload checks run over it exactly as the
route runs them."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

from vestry.gateway.upload.checks import after_index, before_index

LIMIT = 1024 * 1024
WHEEL = "demo_pkg-1.0-py3-none-any.whl"
SDIST = "demo_pkg-1.0.tar.gz"


@dataclass
class Upload:
    """One multipart upload as twine builds it: fields, filename and bytes."""

    data: bytes
    filename: str
    filetype: str
    name: str = "demo-pkg"
    version: str = "1.0"
    metadata_version: str = "2.1"
    extra: list[tuple[str, str]] = field(default_factory=list)
    drop: tuple[str, ...] = ()
    override: dict[str, str] = field(default_factory=dict)

    def fields(self) -> list[tuple[str, str]]:
        base = {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": self.name,
            "version": self.version,
            "filetype": self.filetype,
            "pyversion": "py3" if self.filetype == "bdist_wheel" else "source",
            "metadata_version": self.metadata_version,
            "summary": "A test package",
            "md5_digest": hashlib.md5(self.data, usedforsecurity=False).hexdigest(),
            "sha256_digest": hashlib.sha256(self.data).hexdigest(),
            "blake2_256_digest": hashlib.blake2b(self.data, digest_size=32).hexdigest(),
        }
        base.update(self.override)
        return [(k, v) for k, v in base.items() if k not in self.drop] + self.extra


def run_checks(upload: Upload, *, project_exists: bool = False, limit: int = LIMIT) -> bytes | None:
    f = io.BytesIO(upload.data)
    checked = before_index(upload.fields(), upload.filename, f, limit)
    return after_index(checked, f, project_exists).metadata

"""Blobs on local disk: write to a temp file, fsync, rename. A crash never leaves a partial blob
under its final name, because rename is atomic within one filesystem."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from services.storage.blobstore import (
    BlobInfo,
    BlobNotFound,
    IncomingBlob,
    blob_path,
    check_range,
    validate_key,
)
from vestry.common.errors import ResourceExhausted, Unavailable


class LocalBlobStore:
    def __init__(self, root: str) -> None:
        self._root = os.path.abspath(root)
        self._blobs = os.path.join(self._root, "blobs")
        self._tmp = os.path.join(self._root, "tmp")
        os.makedirs(self._blobs, exist_ok=True)
        os.makedirs(self._tmp, exist_ok=True)

    def tmp_dir(self) -> str:
        return self._tmp

    def _path(self, key: str) -> str:
        return os.path.join(self._blobs, blob_path(key))

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        final = self._path(info.key)
        try:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(incoming.path, final)  # same content under the same key: harmless
            dir_fd = os.open(os.path.dirname(final), os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # make the rename itself durable
            finally:
                os.close(dir_fd)
        except OSError as exc:
            incoming.discard()
            if exc.errno == errno.ENOSPC:
                raise ResourceExhausted("the blob store's disk is full") from exc
            raise Unavailable(f"the blob store cannot write: {exc.strerror}") from exc
        return info

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        path = self._path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {key}") from exc
        size = os.fstat(f.fileno()).st_size
        try:
            remaining = check_range(size, offset, length)
        except Exception:
            f.close()
            raise
        f.seek(offset)

        def chunks() -> Iterator[bytes]:
            nonlocal remaining
            with f:
                while remaining > 0:
                    data = f.read(min(chunk_size, remaining))
                    if not data:
                        break
                    remaining -= len(data)
                    yield data

        return BlobInfo(key, size, key), chunks()

    def stat(self, key: str) -> BlobInfo:
        try:
            size = os.stat(self._path(key)).st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {key}") from exc
        return BlobInfo(key, size, key)

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(validate_key(key)))

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return False
        return True

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        return ""

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        for dirpath, _dirs, files in os.walk(self._blobs):
            for name in files:
                if len(name) == 64:
                    yield name, os.stat(os.path.join(dirpath, name)).st_mtime

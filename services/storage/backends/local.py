"""Blobs on local disk: write to a temp file, fsync, rename. A crash never leaves a partial blob
under its final name, because rename is atomic within one filesystem (the temp dir and the blob
tree live under one root for that reason)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from vestry.services.storage.blobstore import (
    BlobInfo,
    IncomingBlob,
    StoredBlob,
    blob_path,
    check_range,
    is_key,
    storage_io_error,
    validate_key,
)
from vestry.services.storage.errors import BlobNotFound

__all__ = ["LocalBlobStore"]


def _fsync_dir(path: str) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _FileChunks:
    """An iterator over part of an open file that closes it when done or when closed early."""

    def __init__(self, f: BinaryIO, remaining: int, chunk_size: int) -> None:
        self._f = f
        self._remaining = remaining
        self._chunk = chunk_size

    def __iter__(self) -> _FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            self.close()
            raise StopIteration
        data = self._f.read(min(self._chunk, self._remaining))
        if not data:  # truncated underneath us: end rather than spin
            self.close()
            raise StopIteration
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


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
        # blob_path validates the key: only [0-9a-f]{64} ever reaches the filesystem.
        return os.path.join(self._blobs, blob_path(key))

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        final = self._path(info.key)
        try:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            # The temp file was fsynced by IncomingBlob.finish; an identical blob already there
            # is replaced by the freshly verified copy, which also renews its mtime for gc.
            os.replace(incoming.path, final)
            _fsync_dir(os.path.dirname(final))  # make the rename itself durable
        except OSError as exc:
            incoming.discard()
            raise storage_io_error(exc, "storing a blob") from exc
        return info

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        path = self._path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by _FileChunks
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {key}") from exc
        except OSError as exc:
            raise storage_io_error(exc, "reading a blob") from exc
        try:
            size = os.fstat(f.fileno()).st_size
            remaining = check_range(size, offset, length)
            f.seek(offset)
        except BaseException:
            f.close()
            raise
        return BlobInfo(key, size, key), _FileChunks(f, remaining, chunk_size)

    def stat(self, key: str) -> BlobInfo:
        try:
            size = os.stat(self._path(key)).st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(f"no blob {key}") from exc
        return BlobInfo(key, size, key)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(validate_key(key)))

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise storage_io_error(exc, "deleting a blob") from exc
        return True

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        path = self._path(key)
        try:
            if os.stat(path).st_mtime >= cutoff:
                return False
            # Move the blob aside first and look again at what was moved: an upload that
            # committed the same key between the stat and the rename left a fresh inode, which
            # goes back. After the rename, a commit creates a new file we never touch.
            aside = os.path.join(self._tmp, f"gc-{key}-{uuid.uuid4().hex}")
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise storage_io_error(exc, "collecting a blob") from exc
        try:
            if os.stat(aside).st_mtime >= cutoff:
                os.replace(aside, path)  # same content under the same key: harmless
                return False
            os.unlink(aside)
        except OSError as exc:
            raise storage_io_error(exc, "collecting a blob") from exc
        with contextlib.suppress(OSError):
            _fsync_dir(os.path.dirname(path))
        return True

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        validate_key(key)
        return ""

    def local_path(self, key: str) -> str:
        path = self._path(key)
        if not os.path.isfile(path):
            raise BlobNotFound(f"no blob {key}")
        return path

    def list_blobs(self) -> Iterator[StoredBlob]:
        for top in sorted(os.listdir(self._blobs)):
            top_dir = os.path.join(self._blobs, top)
            if len(top) != 2 or not os.path.isdir(top_dir):
                continue
            for sub in sorted(os.listdir(top_dir)):
                sub_dir = os.path.join(top_dir, sub)
                if len(sub) != 2 or not os.path.isdir(sub_dir):
                    continue
                for entry in os.scandir(sub_dir):
                    name = entry.name
                    # Only a well-formed key in its own fan-out directory is a blob.
                    if not (is_key(name) and name[0:2] == top and name[2:4] == sub):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if entry.is_file(follow_symlinks=False):
                        yield StoredBlob(name, st.st_size, st.st_mtime)

"""An upload's file written where the storage service takes it over, when the two share a volume.

Under `vestry up` (and wherever the gateway mounts the storage service's volume, which
VESTRY_GATEWAY_LOCAL_BLOBS says, as it does for downloads) the file being uploaded is created in
storage's own spool directory, which storage names (SharedSpool), and
PutBlob then names that file instead of streaming its bytes: no copy of every byte through
gRPC into a second process and a second file. Storage still reads the file through the digests
and checks them, exactly as for streamed bytes.

Where the directory is not on this machine (a deployment that shares no volume), the file is an
anonymous temp file as before; where storage does not see the file after all (the same path on
two different volumes), it says NOT_FOUND and the bytes are streamed (gateway.blobs.put_file).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import BinaryIO

import grpc
from vestry.storage.v1 import storage_pb2

from vestry.gateway.backends import Backends
from vestry.gateway.blobs import put_file, put_shared_file

__all__ = ["SharedSpool", "SpooledFile", "anonymous_file"]

log = logging.getLogger(__name__)
_NOT_HERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS})


@dataclass
class SpooledFile:
    """An upload's temp file; `name` is its name in storage's spool ("" for an anonymous one)."""

    file: BinaryIO
    name: str = ""
    path: str = ""

    def close(self) -> None:
        """Close it and, if it is still in the spool (storage did not take it), remove it."""
        self.file.close()
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def anonymous_file() -> SpooledFile:
    return SpooledFile(tempfile.TemporaryFile())


class SharedSpool:
    """Storage's spool directory as seen from here, asked once per process."""

    def __init__(self, enabled: bool) -> None:
        self._where: tuple[str, str] | None = None
        self._asked = not enabled  # off: never asked, every file anonymous

    async def prepare(self, backends: Backends) -> None:
        """Ask storage where its spool is, once; an older storage (UNIMPLEMENTED) or one that
        offers none means every upload is streamed. Other failures are asked again next time."""
        if self._asked:
            return
        try:
            reply: storage_pb2.SharedSpoolResponse = await backends.storage.SharedSpool(
                storage_pb2.SharedSpoolRequest(), timeout=backends.timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                log.warning("storage did not say where its spool is (%s): streaming", exc.code())
                return
            reply = storage_pb2.SharedSpoolResponse()
        self._asked = True
        # Whether the directory is on this machine is learnt by the first file made in it. A
        # prefix that is not a bare name would put the file elsewhere: none is used then.
        if os.path.isabs(reply.directory) and reply.prefix and os.sep not in reply.prefix:
            self._where = (reply.directory, reply.prefix)
            log.info(
                "storage's spool is %s: uploads are written there if it is here", reply.directory
            )

    async def store(
        self,
        backends: Backends,
        spooled: SpooledFile,
        expected_sha256: str,
        expected_size: int,
        commit: Awaitable[None] | None = None,
    ) -> storage_pb2.BlobInfo:
        """Store the upload's file (gateway.blobs.put_file's contract): named to storage when it
        is in the spool, streamed when it is not or storage does not see it there."""
        if spooled.name:
            try:
                return await put_shared_file(
                    backends, spooled.name, expected_sha256, expected_size, commit
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                # The same directory here and there, but not the same volume: stream from now.
                log.warning("storage does not see this gateway's spool: streaming uploads")
                self._where = None
        return await put_file(backends, spooled.file, expected_sha256, expected_size, commit)

    def temp_file(self) -> SpooledFile:
        """A new temp file: in storage's spool when it is on this machine, else anonymous.

        A spool this process may not write into (gone, read-only, not ours) is given up for
        good; any other failure only for this upload. Either way the upload goes on."""
        if self._where is not None:
            directory, prefix = self._where
            try:
                fd, path = tempfile.mkstemp(dir=directory, prefix=prefix)
            except OSError as exc:
                log.warning("cannot write into storage's spool %s (%s): streaming", directory, exc)
                if exc.errno in _NOT_HERE:
                    self._where = None
            else:
                return SpooledFile(os.fdopen(fd, "w+b"), os.path.basename(path), path)
        return anonymous_file()

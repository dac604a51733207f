"""A shared file this service may not read (the gateway wrote it as another user, on a volume
they share) is as good as not shared: NOT_FOUND, so that the gateway streams the bytes instead
of failing the upload. (The tests run as root, who reads anything: the refusal is simulated.)"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from vestry.services.storage.blobstore import SHARED_PREFIX, start_incoming
from vestry.services.storage.errors import SharedFileNotFound


def test_a_file_that_cannot_be_opened_for_want_of_permission_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = SHARED_PREFIX + "fromanotheruser"
    (tmp_path / name).write_bytes(b"bytes")
    real_open = os.open

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path).endswith(name):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(SharedFileNotFound) as caught:
        start_incoming(str(tmp_path), 1 << 20, "", 0, 0, name)
    assert caught.value.code == "NOT_FOUND"
    assert "not readable" in caught.value.message
    assert (tmp_path / name).exists()  # refused, not taken

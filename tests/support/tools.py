"""Command-line tools the tests run, and what a missing one means: a skip on a developer's
machine, a failure in CI (CI=true or VESTRY_TEST_STRICT=1), where nothing may be skipped."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

STRICT = os.environ.get("VESTRY_TEST_STRICT") == "1" or os.environ.get("CI") == "true"


def tool(name: str) -> str:
    """The path of `name`, on PATH or beside this Python; skip (fail when STRICT) without it."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        message = f"{name} is not installed"
        if STRICT:
            pytest.fail(f"{message}, and CI may skip nothing", pytrace=False)
        pytest.skip(message)
    return found

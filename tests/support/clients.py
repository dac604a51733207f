"""Running real pip, uv and twine against a Vestry under test, and nothing else.

This machine's pip configuration adds find-links and extra indexes; a test that installs from
Vestry must not see them, or it could install from elsewhere and prove nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "POETRY_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def run(
    args: list[str], timeout: float = 120, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(**extra_env),
        check=False,
    )


def twine_upload(upload_url: str, token: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return run(
        [
            str(BIN / "twine"),
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            upload_url,
            "-u",
            "__token__",
            "-p",
            token,
            *map(str, files),
        ]
    )


def pip_install(
    index_url: str, target: Path, *requirements: str
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(target),
            "--index-url",
            index_url,
            *requirements,
        ]
    )

"""Running real pip, uv and twine against a Vestry under test, and nothing else.

This machine's pip configuration adds find-links and extra indexes; a test that installs from
Vestry must not see them, or it could install from elsewhere and prove nothing.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

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


def twine_upload(
    upload_url: str, token: str, *files: Path, verbose: bool = False
) -> subprocess.CompletedProcess[str]:
    """`twine upload`; `verbose` makes it print the index's answer to a refused upload."""
    return run(
        [
            str(BIN / "twine"),
            "upload",
            *(["--verbose"] if verbose else []),
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


def raw_upload(
    upload_url: str,
    token: str,
    path: Path,
    name: str,
    version: str,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Response:
    """A legacy upload without twine, with the fields twine sends (minus the metadata), to read
    the body of an answer twine only shows with --verbose."""
    data = path.read_bytes()
    wheel = path.suffix == ".whl"
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    return httpx.post(
        upload_url,
        data=fields,
        files={"content": (path.name, data, "application/octet-stream")},
        auth=("__token__", token),
        timeout=60,
        verify=verify,
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


def uv_install(
    index_url: str, target: Path, *requirements: str
) -> subprocess.CompletedProcess[str]:
    """`uv pip install` into `target` from `index_url` alone, with no cache; `requirements` may
    carry options too (e.g. `--exclude-newer DATE`)."""
    return run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--no-cache",
            "--python",
            sys.executable,
            "--target",
            str(target),
            "--index-url",
            index_url,
            *requirements,
        ],
        timeout=180,
    )


def manage(
    base: str, token: str, method: str, path: str, body: dict[str, str] | None = None
) -> httpx.Response:
    """One call to the management API (`{base}/api/v1{path}`) as the token's user, asserting
    it succeeded: tests change a running index the way its users do, never behind its back."""
    r = httpx.request(
        method, f"{base}/api/v1{path}", json=body, auth=("__token__", token), timeout=60
    )
    assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
    return r

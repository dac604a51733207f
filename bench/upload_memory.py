"""Peak RSS of the gateway while twine uploads one large wheel through a real `vestry up`.

    .venv/bin/python bench/upload_memory.py [--size-mb 500]

Prints the gateway's resident set before the upload and its peak (VmHWM, kept by the kernel, so
no sampling can miss it) afterwards, with the storage process's for comparison, and the upload
throughput. The body streams to a spooled temporary file and on to storage in 1 MiB chunks, so
the gateway's peak should stay within a few tens of MiB of its idle size, whatever the file size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.clients import twine_upload  # noqa: E402
from tests.support.vestry_up import start_vestry  # noqa: E402

MiB = 1024 * 1024


def make_big_wheel(directory: Path, size: int) -> Path:
    """A valid wheel whose payload is `size` bytes of incompressible data (stored, not deflated,
    so the file really is that large)."""
    name, version = "big_upload", "1.0"
    dist_info = f"{name}-{version}.dist-info"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/__init__.py", b"")
        with zf.open(f"{name}/payload.bin", "w", force_zip64=True) as out:
            for _ in range(size // MiB):
                out.write(os.urandom(MiB))
        zf.writestr(
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: big-upload\nVersion: {version}\n\n",
        )
        zf.writestr(
            f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{dist_info}/RECORD", "")
    return path


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def find(parent: int, role: str) -> int:
    for pid in children(parent):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if role in cmdline.split():
            return pid
    raise SystemExit(f"no {role} process under {parent}")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=500)
    args = parser.parse_args()
    size = args.size_mb * MiB
    with tempfile.TemporaryDirectory(prefix="vestry-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        wheel = make_big_wheel(work, size)
        print(
            f"wheel: {wheel.stat().st_size / MiB:.0f} MiB, "
            f"built in {time.perf_counter() - started:.1f}s"
        )
        vestry = start_vestry(
            work / "data", env={"VESTRY_GATEWAY_MAX_UPLOAD_SIZE": str(size + 64 * MiB)}
        )
        try:
            gateway, storage = find(vestry.proc.pid, "gateway"), find(vestry.proc.pid, "storage")
            token = vestry.create_user("bench")
            idle = status_kib(gateway, "VmRSS")
            print(f"gateway RSS before upload: {idle / 1024:.1f} MiB")
            started = time.perf_counter()
            result = twine_upload(vestry.upload_url, token, wheel)
            elapsed = time.perf_counter() - started
            if result.returncode != 0:
                raise SystemExit(f"upload failed:\n{result.stdout}{result.stderr}")
            peak = status_kib(gateway, "VmHWM")
            print(
                f"upload of {size / MiB:.0f} MiB: {elapsed:.1f}s ({size / MiB / elapsed:.0f} MiB/s)"
            )
            print(
                f"gateway peak RSS (VmHWM): {peak / 1024:.1f} MiB "
                f"(+{(peak - idle) / 1024:.1f} MiB over idle)"
            )
            print(f"storage peak RSS (VmHWM): {status_kib(storage, 'VmHWM') / 1024:.1f} MiB")
            check = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{size_download}",
                    "-u",
                    f"__token__:{token}",
                    f"{vestry.base}/files/big-upload/{wheel.name}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            print(f"downloaded back: {int(check.stdout or 0) / MiB:.0f} MiB")
            print(f"gateway peak RSS after download: {status_kib(gateway, 'VmHWM') / 1024:.1f} MiB")
        finally:
            vestry.stop()


if __name__ == "__main__":
    main()

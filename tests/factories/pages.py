"""ProjectPage messages for rendering tests, built the way the index service fills them."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from vestry.index.v1 import index_pb2

SHA = {n: f"{n:x}" * 64 for n in range(1, 10)}


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


UPLOADED = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def file(
    filename: str,
    version: str,
    n: int,
    *,
    requires_python: str = "",
    yanked: bool = False,
    yanked_reason: str = "",
    metadata: bool = True,
    uploaded: datetime | None = UPLOADED,
) -> index_pb2.FileRecord:
    record = index_pb2.FileRecord(
        project_name="Demo.Pkg",
        filename=filename,
        version=version,
        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
        python_version="py3" if filename.endswith(".whl") else "source",
        requires_python=requires_python,
        size=1000 + n,
        sha256=SHA[n],
        blake2b_256=SHA[n][::-1],
        md5=SHA[n][:32],
        metadata_sha256=SHA[n + 1] if metadata else "",
        metadata_blob_key=SHA[n + 1] if metadata else "",
        yanked=yanked,
        yanked_reason=yanked_reason,
        project_visibility="private",
    )
    if uploaded is not None:
        record.upload_time.CopyFrom(ts(uploaded))
    return record


def release(version: str, **kw: object) -> index_pb2.Release:
    return index_pb2.Release(version=version, summary=f"Demo {version}", **kw)  # type: ignore[arg-type]


def demo_page(status: str = "", status_reason: str = "") -> index_pb2.ProjectPage:
    """Five files over four releases: plain, yanked with and without a reason, a release-level
    yank, a requires-python that needs escaping, a file without metadata or upload time."""
    return index_pb2.ProjectPage(
        project=index_pb2.Project(
            id="p1",
            name="Demo.Pkg",
            normalized_name="demo-pkg",
            visibility="private",
            status=status,
            status_reason=status_reason,
            last_serial=42,
        ),
        releases=[
            release("1.10", requires_python=">=3.9"),
            release("1.2"),
            release("1.0", yanked=True, yanked_reason="broken <build> & bad"),
            release("2.0rc1"),
        ],
        files=[
            file("demo_pkg-1.10-py3-none-any.whl", "1.10", 1, requires_python=">=3.9,<4"),
            file("demo_pkg-1.10.tar.gz", "1.10", 2, metadata=False, uploaded=None),
            file("demo_pkg-1.2-py3-none-any.whl", "1.2", 3, yanked=True),
            file("demo_pkg-1.0-py3-none-any.whl", "1.0", 4),
            file(
                "demo_pkg-2.0rc1-py3-none-any.whl",
                "2.0rc1",
                5,
                yanked=True,
                yanked_reason='CVE "quoted"',
            ),
        ],
        global_serial=99,
    )

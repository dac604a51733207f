"""A 60-second soak of `vestry up`: mixed reads and uploads, no errors, memory flat.

Flat: the average RSS of all five processes over the last third of the run (after a warm-up of
the first sixth) is within MARGIN of the first third's. 20 MB is well above what a healthy run
moves (allocator arenas, SQLite page caches, the gateway's page cache filling with a few small
pages: a few MB) and well below what a leak of a few KB per request adds over the run's
thousands of requests. New files stop after 100 (later uploads resend one), so that memory
sized by the data set is not mistaken for a leak. bench/soak.py runs the same mix for 10 min.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.soak import soak
from tests.support.vestry_up import start_vestry

SECONDS = 60
MAX_OPERATIONS = 20_000
MARGIN_MB = 20.0


def test_soak_mixed_reads_and_uploads_no_errors_memory_flat(tmp_path: Path) -> None:
    vestry = start_vestry(tmp_path / "data")
    try:
        token = vestry.create_user("soaker", admin=True)
        workdir = tmp_path / "dists"
        workdir.mkdir()
        report = soak(vestry.base, token, vestry.proc.pid, workdir, SECONDS, MAX_OPERATIONS)
    finally:
        assert vestry.stop() == 0, vestry.log()
    print("\n" + report.summary())
    assert not report.errors, report.errors[:20]
    assert report.operations["upload"] > 0 and report.operations["file"] > 0
    first, last = report.thirds()
    assert last - first < MARGIN_MB, report.summary()

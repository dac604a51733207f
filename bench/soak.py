"""A long soak of `vestry up` (default 10 minutes): the mix of tests/integration/test_soak.py
(simple pages in HTML and JSON, the root listing, the JSON API, downloads, uploads), with the
RSS of every process sampled. Prints the figures; exits 1 on any error or when the last third's
average RSS exceeds the first third's (after warm-up) by more than --margin MB.

    .venv/bin/python bench/soak.py --seconds 600
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.soak import soak  # noqa: E402
from tests.support.vestry_up import start_vestry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--max-operations", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--margin", type=float, default=20.0, help="MB of RSS growth allowed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vestry-soak-") as tmp:
        vestry = start_vestry(Path(tmp) / "data")
        try:
            token = vestry.create_user("soaker", admin=True)
            (Path(tmp) / "dists").mkdir()
            report = soak(
                vestry.base,
                token,
                vestry.proc.pid,
                Path(tmp) / "dists",
                args.seconds,
                args.max_operations,
                clients=args.clients,
            )
        finally:
            vestry.stop()
    print(report.summary())
    for error in report.errors[:20]:
        print("  error:", error)
    first, last = report.thirds()
    return 0 if not report.errors and last - first < args.margin else 1


if __name__ == "__main__":
    raise SystemExit(main())

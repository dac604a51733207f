"""Memory of a server and every process under it, as one JSON line (for bench/side_by_side.sh).

    .venv/bin/python bench/memory.py LABEL REP PHASE PID... >> RESULTS_DIR/memory.jsonl

Each PID counts with all its descendants (`vestry up`: the supervisor and its four children;
nginx: master and workers). Figures, in MB, summed over those processes:
  rss_mb   VmRSS now
  hwm_mb   VmHWM, each process's own peak RSS, kept by the kernel (no sampling can miss it);
           the sum is an upper bound of the simultaneous peak, since peaks need not coincide
  pss_mb   Pss now (smaps_rollup): shared pages divided among the processes sharing them, so
           several processes of one interpreter are not counted as if each had its own copy
PIDs that are gone are skipped; `processes` says how many were counted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.soak import process_tree


def kib(path: Path, field: str) -> int | None:
    """The `field: N kB` line of a /proc file, None if the process is gone."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def snapshot(pids: list[int]) -> dict[str, float | int]:
    tree = sorted({p for pid in pids if Path(f"/proc/{pid}").exists() for p in process_tree(pid)})
    totals = {"rss_mb": 0, "hwm_mb": 0, "pss_mb": 0}
    counted = 0
    for pid in tree:
        proc = Path(f"/proc/{pid}")
        rss, hwm = kib(proc / "status", "VmRSS"), kib(proc / "status", "VmHWM")
        if rss is None or hwm is None:
            continue  # exited between the walk and the read
        counted += 1
        totals["rss_mb"] += rss
        totals["hwm_mb"] += hwm
        totals["pss_mb"] += kib(proc / "smaps_rollup", "Pss") or 0
    return {**{k: round(v / 1024, 1) for k, v in totals.items()}, "processes": counted}


def main() -> None:
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    label, rep, phase, *pids = sys.argv[1:]
    print(
        json.dumps(
            {
                "label": label,
                "rep": int(rep),
                "phase": phase,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **snapshot([int(p) for p in pids]),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

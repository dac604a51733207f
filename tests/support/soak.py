"""A soak of a running `vestry up`: mixed reads (simple pages in HTML and JSON, the root
listing, the JSON API, file downloads) and uploads by a few clients, bounded by time and by
count, while the RSS of every Vestry process is sampled. Used by tests/integration/test_soak.py
(60 s) and bench/soak.py (10 minutes)."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.factories import make_wheel
from tests.integration.cluster.cluster import upload

JSON = "application/vnd.pypi.simple.v1+json"
PROJECTS = 5
# Weights of the operations: mostly reads, as an index sees them.
MIX = {"page": 30, "page-json": 20, "root": 10, "json-api": 15, "file": 20, "upload": 5}
# New files stop after this many, so the data set (and every cache sized by it) stops growing;
# later uploads send an existing file again (answered "identical file already uploaded").
NEW_UPLOADS = 100


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (vestry up and the four processes it supervises)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@dataclass
class SoakReport:
    seconds: float
    operations: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, total RSS)
    warmup: float = 0.0

    def thirds(self) -> tuple[float, float]:
        """Average RSS (MB) of the first and the last third of the samples after warm-up."""
        rss = [r for t, r in self.samples if t >= self.warmup]
        third = max(len(rss) // 3, 1)
        return statistics.mean(rss[:third]) / 1e6, statistics.mean(rss[-third:]) / 1e6

    def summary(self) -> str:
        first, last = self.thirds()
        total = sum(self.operations.values())
        return (
            f"soak: {total} operations in {self.seconds:.0f} s ({total / self.seconds:.0f}/s): "
            f"{dict(sorted(self.operations.items()))}; {len(self.errors)} errors; RSS of all "
            f"processes: first third {first:.1f} MB, last third {last:.1f} MB "
            f"({last - first:+.1f} MB), {len(self.samples)} samples, warm-up {self.warmup:.0f} s"
        )


def soak(
    base: str,
    token: str,
    root_pid: int,
    workdir: Path,
    seconds: float,
    max_operations: int,
    clients: int = 4,
    seed: int = 11,
) -> SoakReport:
    """Run the mix until `seconds` pass or `max_operations` are done."""
    auth = ("__token__", token)
    wheels: dict[str, list[Path]] = {}
    with httpx.Client(timeout=60) as client:
        for i in range(PROJECTS):
            wheel = make_wheel(workdir, f"soak-{i}", "0.1")
            assert upload(client, base, token, wheel).status_code == 200
            wheels[f"soak-{i}"] = [wheel]
    report = SoakReport(seconds)
    lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + seconds
    versions = iter(range(1, 1_000_000))

    def one(client: httpx.Client, rng: random.Random) -> None:
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        project = f"soak-{rng.randrange(PROJECTS)}"
        if kind == "upload":
            with lock:
                version = next(versions)
                fresh = version <= NEW_UPLOADS
                wheel = rng.choice(wheels[project])
            if fresh:
                wheel = make_wheel(workdir, project, f"1.{version}")
            reply = upload(client, base, token, wheel)
            if reply.status_code == 200 and fresh:
                with lock:
                    wheels[project].append(wheel)
        elif kind == "file":
            with lock:
                wheel = rng.choice(wheels[project])
            reply = client.get(f"{base}/files/{project}/{wheel.name}", auth=auth)
            if reply.status_code == 200 and reply.content != wheel.read_bytes():
                raise AssertionError(f"corrupt download of {wheel.name}")
        elif kind == "root":
            reply = client.get(f"{base}/simple/", auth=auth)
        elif kind == "json-api":
            reply = client.get(f"{base}/pypi/{project}/json", auth=auth)
        else:
            headers = {"Accept": JSON} if kind == "page-json" else {}
            reply = client.get(f"{base}/simple/{project}/", auth=auth, headers=headers)
        with lock:
            report.operations[kind] += 1
            if reply.status_code != 200:
                report.errors.append(f"{kind} {reply.status_code}: {reply.text[:200]}")

    def client_loop(n: int) -> None:
        rng = random.Random(seed + n)
        with httpx.Client(timeout=60) as client:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    if sum(report.operations.values()) >= max_operations:
                        return
                try:
                    one(client, rng)
                except Exception as exc:  # every failure is a finding
                    with lock:
                        report.errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    try:
        pids = process_tree(root_pid)
        while any(t.is_alive() for t in threads):
            report.samples.append((time.monotonic() - started, rss_bytes(pids)))
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    report.seconds = time.monotonic() - started
    report.warmup = report.seconds / 6
    return report

"""kill -9 of each process in turn (auth, index, storage, gateway) during one run of 200 uploads
to the embedded deployment (SQLite, local disk): nothing acknowledged is lost or altered, nothing
refused is lost for good, and `vestry fsck` finds the data directory clean afterwards.

The client retries an upload on 5xx and on connection errors, as a careful CI job would (twine
itself does not). The test decides which answers it may see: 200 (`OK`, or `OK (identical file
already uploaded)` when an earlier attempt was committed but its answer lost), 503 with
Retry-After, and connection errors while the gateway is down. Anything else fails the test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.factories import make_wheel
from tests.integration.cluster.cluster import sha256, upload
from tests.integration.faults.deployment import (
    PROCESSES,
    Deployment,
    fsck,
    listed_files,
    start_deployment,
)
from vestry.gateway.errors import RETRY_AFTER_SECONDS

UPLOADS = 200
CLIENTS = 16
KILL_EVERY = 40  # acknowledged uploads before each kill
PROJECTS = 10
GIVE_UP_AFTER = 120.0  # seconds one upload keeps retrying (a restart takes a few)

IDENTICAL = "OK (identical file already uploaded)"


@dataclass
class Attempts:
    wheel: Path
    answers: list[tuple[str, str]] = field(default_factory=list)  # (fault in effect, answer)
    acknowledged: bool = False


def answer_of(reply: httpx.Response) -> tuple[str, bool]:
    """How the test names an answer, and whether the client may retry after it."""
    body = reply.text.strip()
    if reply.status_code == 200:
        return ("200 identical" if body == IDENTICAL else "200"), False
    if reply.status_code == 503 and reply.headers.get("Retry-After") == str(RETRY_AFTER_SECONDS):
        return "503 + Retry-After", True
    return f"unexpected {reply.status_code}: {body[:200]}", False


@dataclass
class Load:
    """200 uploads by 16 clients, each retried until acknowledged; `fault` names the process
    killed last, so every answer is filed under the fault it was given during."""

    base: str
    token: str
    fault: str = "none"
    acknowledged: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def upload(self, wheel: Path) -> Attempts:
        attempts = Attempts(wheel)
        deadline = time.monotonic() + GIVE_UP_AFTER
        with httpx.Client(timeout=60) as client:
            while True:
                try:
                    answer, retry = answer_of(upload(client, self.base, self.token, wheel))
                except httpx.TransportError as exc:
                    answer, retry = f"connection error ({type(exc).__name__})", True
                attempts.answers.append((self.fault, answer))
                if answer.startswith("200"):
                    attempts.acknowledged = True
                    self.acknowledged.release()
                    return attempts
                if not retry or time.monotonic() > deadline:
                    return attempts
                time.sleep(min(0.05 * 2 ** len(attempts.answers), 1.0))  # a client's backoff


def tracebacks(deployment: Deployment) -> str:
    """Each process's log from its first traceback on: what an unexpected answer came from."""
    found = []
    for name in PROCESSES:
        text = deployment.log_text(name)
        if (at := text.find("Traceback")) >= 0:
            found.append(f"--- {name}.log ---\n{text[at : at + 6000]}")
    return "\n".join(found) or "(no traceback in any process's log)"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    running = start_deployment(tmp_path / "vestry")
    try:
        yield running
    finally:
        running.stop()


def test_kill_9_of_each_process_in_turn_during_200_uploads_loses_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    token = deployment.user_token("uploader")
    wheels = [make_wheel(tmp_path, f"kill-{i % PROJECTS}", f"1.{i}") for i in range(UPLOADS)]
    load = Load(deployment.base, token)
    statuses: dict[str, int] = {}
    down: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(load.upload, wheel) for wheel in wheels]
        for victim in PROCESSES:
            for _ in range(KILL_EVERY):
                assert load.acknowledged.acquire(timeout=120), f"the load stalled before {victim}"
            load.fault = victim
            statuses[victim] = deployment.kill(victim)
            killed_at = time.monotonic()
            deployment.start(victim)  # same socket or port; waits until it serves
            down[victim] = time.monotonic() - killed_at
        results = [f.result(timeout=300) for f in futures]

    assert statuses == dict.fromkeys(PROCESSES, -9)
    unexpected = [(f, a) for r in results for f, a in r.answers if a.startswith("unexpected")]
    assert not unexpected, f"{unexpected} (fault, answer)\n{tracebacks(deployment)}"
    failed = [r.wheel.name for r in results if not r.acknowledged]
    assert not failed, f"never acknowledged: {failed}"
    # Every refused attempt was retryable: its upload's last attempt was acknowledged.

    # Every acknowledged upload is listed once, and downloads byte-identical.
    with httpx.Client(timeout=60) as client:
        for project in (f"kill-{i}" for i in range(PROJECTS)):
            files = listed_files(client, deployment.base, token, project)
            ours = [w for w in wheels if w.name.startswith(project.replace("-", "_") + "-")]
            assert sorted(files) == sorted(w.name for w in ours)
            page = f"{deployment.base}/simple/{project}/"
            for wheel in ours:
                body = client.get(urljoin(page, files[wheel.name]), auth=("__token__", token))
                assert body.status_code == 200, body.text
                assert sha256(body.content) == sha256(wheel.read_bytes()), wheel.name

    checked = fsck(deployment)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert " 0 missing, 0 damaged, 0 bad index references" in checked.stdout, checked.stdout

    print(f"\nkill -9 of each process in turn: {len(results)} uploads acknowledged, 0 lost")
    for victim in PROCESSES:
        seen = Counter(a for r in results for fault, a in r.answers if fault == victim)
        print(f"  {victim}: down {down[victim]:.1f} s; answers until the next kill {dict(seen)}")
    retried = [r for r in results if len(r.answers) > 1]
    print(
        f"  {len(retried)} uploads retried (max {max(len(r.answers) for r in results)} "
        f"attempts); {checked.stdout.strip().splitlines()[-1]}"
    )

"""The promise of the gateway's warm caches, proved against a running deployment: a revoked
token, a removed member and a project made private are refused by the reading gateway on the
very next request after the call that made the change returned, while a loop of reads keeps
every cache hot (docs/performance.md, "Warm reads")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_wheel
from tests.support.clients import twine_upload

JSON = "application/vnd.pypi.simple.v1+json"
PROJECT = "warm-lib"


def warm_hits(metrics: str) -> float:
    """The gateway's warm-cache hits on a /metrics page, every cache together."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "vestry_warm_cache_lookups_total" and sample.labels["result"] == "hit"
    )


@contextmanager
def hot_reads(base: str, tokens: list[str], paths: list[str]) -> Iterator[list[int]]:
    """Read `paths` through `base` with each token (and anonymously), over and over, in a
    thread, until the block ends; yields the list of statuses seen (for the caller to check
    the loop ran)."""
    statuses: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(base_url=base, timeout=30, headers={"Accept": JSON}) as client:
            while not stop.is_set():
                for token in [*tokens, ""]:
                    for path in paths:
                        auth = ("__token__", token) if token else None
                        statuses.append(client.get(path, auth=auth).status_code)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(60)


def _read(base: str, path: str, token: str = "") -> int:
    auth = ("__token__", token) if token else None
    response = httpx.get(base + path, auth=auth, headers={"Accept": JSON}, timeout=30)
    return response.status_code


def prove_changes_are_refused_at_once(
    writer: str,
    reader: str,
    owner: str,
    member: tuple[str, str],
    dist: Path,
    reader_metrics: Callable[[], str],
) -> None:
    """`owner` uploads PROJECT (private) through `writer` and makes `member` (name, token) a
    reader; then each change through `writer` is refused through `reader` at once."""
    wheel = make_wheel(dist, PROJECT, "1.0")
    result = twine_upload(writer + "/legacy/", owner, wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    owner_h = {"Authorization": f"Bearer {owner}"}
    name, member_token = member
    added = httpx.put(
        f"{writer}/api/v1/projects/{PROJECT}/members/{name}",
        json={"role": "reader"},
        headers=owner_h,
        timeout=30,
    )
    assert added.status_code == 200, added.text
    member_h = {"Authorization": f"Bearer {member_token}"}
    minted = httpx.post(
        f"{writer}/api/v1/tokens", json={"name": "to revoke"}, headers=member_h, timeout=30
    )
    assert minted.status_code == 201, minted.text
    second, second_id = minted.json()["token"], minted.json()["id"]
    page, file = f"/simple/{PROJECT}/", f"/files/{PROJECT}/{wheel.name}"
    paths = [page, file, "/simple/"]
    for token in (owner, member_token, second):
        assert [_read(reader, p, token) for p in paths] == [200, 200, 200]

    hits_before = warm_hits(reader_metrics())
    with hot_reads(reader, [owner, member_token, second], paths) as statuses:
        while len(statuses) < 40:  # the caches are hot before each change
            assert [_read(reader, p, second) for p in paths] == [200, 200, 200]

        revoked = httpx.delete(f"{writer}/api/v1/tokens/{second_id}", headers=member_h, timeout=30)
        assert revoked.status_code == 200, revoked.text
        assert [_read(reader, p, second) for p in (page, file)] == [401, 401]

        removed = httpx.delete(
            f"{writer}/api/v1/projects/{PROJECT}/members/{name}", headers=owner_h, timeout=30
        )
        assert removed.status_code == 204, removed.text
        assert [_read(reader, p, member_token) for p in (page, file)] == [404, 404]
        listing = httpx.get(
            reader + "/simple/", auth=("__token__", member_token), headers={"Accept": JSON}
        )
        assert PROJECT not in {p["name"] for p in listing.json()["projects"]}

        for visibility, anonymous in (("public", 200), ("private", 401)):
            changed = httpx.put(
                f"{writer}/api/v1/projects/{PROJECT}/visibility",
                json={"visibility": visibility},
                headers=owner_h,
                timeout=30,
            )
            assert changed.status_code == 200, changed.text
            assert [_read(reader, p) for p in (page, file)] == [anonymous, anonymous]
            count = len(statuses)
            while len(statuses) < count + 10:  # answers of the new state are cached too
                assert _read(reader, page) == anonymous
    # The loop ran throughout and was served from the caches: what was refused above was
    # refused despite entries that said otherwise.
    assert len(statuses) > 40
    assert warm_hits(reader_metrics()) > hits_before + 40
    assert _read(reader, page, owner) == 200  # and the owner still reads it

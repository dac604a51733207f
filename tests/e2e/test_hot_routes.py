"""The hot routes (gateway.hot) answer warm reads exactly as the full routes do.

For each request of a matrix (listing, page, file, metadata; GET and HEAD; pip's, HTML and no
Accept; gzip or not; a matching If-None-Match; the owner, another user, anonymous, a bad
credential), the change epochs are moved first, so the first answer comes from the full route
(which fills the caches); the same request again is then answered by the hot path, and the two
answers must be the same — status, headers, body. Refusals are never answered by the hot path.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_wheel
from tests.support.clients import twine_upload
from tests.support.vestry_up import RunningVestry, free_port, start_vestry
from vestry.common.datadir import DataDir
from vestry.common.epochs import AUTH, INDEX, bump_file_epochs

pytestmark = pytest.mark.e2e

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
PRIVATE, PUBLIC = "hot-private", "hot-public"
# Differ by request, or by the second: never compared.
_UNSTABLE = {"date"}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningVestry, int]]:
    metrics = free_port()
    data = tmp_path_factory.mktemp("hot") / "data"
    running = start_vestry(data, args=("--metrics", f"127.0.0.1:{metrics}"))
    yield running, metrics
    code = running.stop()
    assert code == 0, running.log()


@pytest.fixture(scope="module")
def world(
    up: tuple[RunningVestry, int], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    vestry, _ = up
    owner, other = vestry.create_user("alice"), vestry.create_user("bob")
    dist = tmp_path_factory.mktemp("dists")
    wheels = {}
    for name in (PRIVATE, PUBLIC):
        wheel = make_wheel(dist, name, "1.0")
        result = twine_upload(vestry.upload_url, owner, wheel)
        assert result.returncode == 0, result.stdout + result.stderr
        wheels[name] = wheel.name
    for name, visibility in ((PRIVATE, "private"), (PUBLIC, "public")):
        response = httpx.put(
            f"{vestry.base}/api/v1/projects/{name}/visibility",
            json={"visibility": visibility},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert response.status_code == 200, response.text
    return {"owner": owner, "other": other, "wheels": wheels}


def _hot_answers(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "vestry_hot_route_answers_total"
    )


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in _UNSTABLE}
    return response.status_code, headers, response.content


def _paths(wheels: dict[str, str]) -> list[str]:
    out = ["/simple/"]
    for name, wheel in wheels.items():
        out += [f"/simple/{name}/", f"/files/{name}/{wheel}", f"/files/{name}/{wheel}.metadata"]
    return out


def _ask(
    vestry: RunningVestry,
    metrics: int,
    method: str,
    path: str,
    headers: dict[str, str],
) -> tuple[tuple[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes], float]:
    """The full route's answer, the same request's answer again, and how many of the second
    the hot path gave (0 or 1)."""
    bump_file_epochs(DataDir(vestry.data_dir).epochs, AUTH, INDEX)  # all warm answers stale
    with httpx.Client(base_url=vestry.base, headers=headers) as client:
        cold = client.request(method, path)
        before = _hot_answers(metrics)
        warm = client.request(method, path)
        hot = _hot_answers(metrics) - before
    return _answer(cold), _answer(warm), hot


def test_warm_answers_are_the_full_routes_answers(
    up: tuple[RunningVestry, int], world: dict[str, Any]
) -> None:
    vestry, metrics = up
    credentials = {
        "owner": {"Authorization": f"Bearer {world['owner']}"},
        "other": {"Authorization": f"Bearer {world['other']}"},
        "anonymous": {},
    }
    accepts = {"pip": {"Accept": PIP_ACCEPT}, "html": {"Accept": "text/html"}, "none": {}}
    encodings = {"gzip": {"Accept-Encoding": "gzip"}, "identity": {"Accept-Encoding": "identity"}}
    hot_seen = 0.0
    pages = [p for p in _paths(world["wheels"]) if p.startswith("/simple/")]
    files = [p for p in _paths(world["wheels"]) if p.startswith("/files/")]
    # Files are not negotiated: one Accept and coding for them.
    matrix = [
        *itertools.product(credentials.items(), accepts.items(), encodings.items(), pages),
        *itertools.product(credentials.items(), [("pip", {})], [("identity", {})], files),
    ]
    for ((who, auth), (_, accept), (_, coding), path), method in itertools.product(
        matrix, ("GET", "HEAD")
    ):
        headers = {**auth, **accept, **coding}
        cold, warm, hot = _ask(vestry, metrics, method, path, headers)
        case = f"{who} {method} {path} {headers.get('Accept')} {coding}"
        assert warm == cold, case
        refused = cold[0] >= 400
        if refused:
            assert hot == 0, f"a refusal was answered by the hot path: {case}"
        hot_seen += hot
        # A client holding the answer gets a 304 from both paths, with the same headers.
        etag = cold[1].get("etag")
        if etag and not refused:
            cold304, warm304, _ = _ask(
                vestry, metrics, method, path, {**headers, "If-None-Match": etag}
            )
            assert cold304[0] == 304 and warm304 == cold304, case
    # The owner's and the public reads were warm the second time: most went the hot way.
    assert hot_seen >= 40


def test_the_request_after_a_whole_page_or_listing_is_answered_hot(
    up: tuple[RunningVestry, int], world: dict[str, Any], tmp_path: Path
) -> None:
    """After a change (an upload here) the first read gets the whole page or listing and
    renders it; the one after it needs no call at all, not first one more to be told
    "unchanged"."""
    vestry, metrics = up
    wheel = make_wheel(tmp_path, "hot-fresh", "1.0")
    result = twine_upload(vestry.upload_url, world["owner"], wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    headers = {"Authorization": f"Bearer {world['owner']}", "Accept": PIP_ACCEPT}
    with httpx.Client(base_url=vestry.base, headers=headers) as client:
        for path in ("/simple/hot-fresh/", "/simple/"):
            before = _hot_answers(metrics)
            first = client.get(path)
            assert _hot_answers(metrics) == before, f"{path}: the first read is the route's"
            second = client.get(path)
            assert _hot_answers(metrics) == before + 1, f"{path}: the second read is hot"
            assert _answer(second) == _answer(first)


def test_what_the_hot_path_does_not_hold_goes_to_the_route(
    up: tuple[RunningVestry, int], world: dict[str, Any]
) -> None:
    vestry, metrics = up
    owner = {"Authorization": f"Bearer {world['owner']}", "Accept": PIP_ACCEPT}
    wheel = world["wheels"][PRIVATE]
    cases = [
        ("/simple/Hot_Private/", owner, 301),  # not canonical: the route redirects
        (f"/files/{PRIVATE}/{wheel}", {**owner, "Range": "bytes=0-9"}, 206),
        ("/simple/", {**owner, "Accept": "application/x-unknown"}, 406),
        (f"/simple/{PRIVATE}/", {"Authorization": "Basic !!!"}, 401),  # malformed: route says why
        (f"/simple/{PRIVATE}/", {"Authorization": "Bearer vestry-forged"}, 401),
        ("/simple/no-such-project/", owner, 404),
    ]
    for path, headers, status in cases:
        for _ in range(2):  # the second time too: nothing of these is kept for the hot path
            before = _hot_answers(metrics)
            response = httpx.get(vestry.base + path, headers=headers, follow_redirects=False)
            assert response.status_code == status, (path, response.text)
            assert _hot_answers(metrics) == before, path


def test_a_revoked_token_is_refused_by_the_hot_path_at_once(
    up: tuple[RunningVestry, int], world: dict[str, Any]
) -> None:
    vestry, metrics = up
    token = vestry.create_user("carol")
    headers = {"Authorization": f"Bearer {token}", "Accept": PIP_ACCEPT}
    for _ in range(2):
        assert httpx.get(f"{vestry.base}/simple/{PUBLIC}/", headers=headers).status_code == 200
    before = _hot_answers(metrics)
    assert httpx.get(f"{vestry.base}/simple/{PUBLIC}/", headers=headers).status_code == 200
    assert _hot_answers(metrics) == before + 1  # warm: the hot path answered
    listed = httpx.get(f"{vestry.base}/api/v1/tokens", headers=headers)
    assert listed.status_code == 200, listed.text
    for entry in listed.json()["tokens"]:
        revoked = httpx.delete(f"{vestry.base}/api/v1/tokens/{entry['id']}", headers=headers)
        assert revoked.status_code in (200, 204), revoked.text
    assert httpx.get(f"{vestry.base}/simple/{PUBLIC}/", headers=headers).status_code == 401

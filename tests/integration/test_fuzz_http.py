"""HTTP-level fuzzing of the routes the OpenAPI description does not describe in full: the simple
API, file downloads, the legacy upload and the JSON API, on a running `vestry up`, with
hypothesis-generated paths, headers (Accept, Range, If-Range, If-None-Match, Accept-Encoding,
Authorization) and bodies. Whatever arrives, never a 5xx.

Bounded and deterministic (tests/support/fuzz.py). Digit runs are kept short: absurdly long
ones are the classes the security review found, asserted below.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import make_wheel
from tests.support.clients import manage, raw_upload
from tests.support.fuzz import fuzz, garbage_text, header_text
from tests.support.vestry_up import RunningVestry, module_vestry

PROJECT, VERSION = "fuzz-pub", "1.0"
FILENAME = "fuzz_pub-1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def vestry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningVestry]:
    yield from module_vestry(tmp_path_factory, "fuzz-http")


@pytest.fixture(scope="module")
def site(vestry: RunningVestry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    token = vestry.create_user("fuzzer")
    wheel = make_wheel(tmp_path_factory.mktemp("fuzz-dists"), PROJECT, VERSION)
    assert raw_upload(vestry.upload_url, token, wheel, PROJECT, VERSION).status_code == 200
    manage(vestry.base, token, "PUT", f"/projects/{PROJECT}/visibility", {"visibility": "public"})
    with httpx.Client(base_url=vestry.base, timeout=60) as http:
        yield Site(http, token, wheel, f'"{hashlib.sha256(wheel.read_bytes()).hexdigest()}"')


class Site:
    def __init__(self, http: httpx.Client, token: str, wheel: Path, etag: str) -> None:
        self.http, self.token, self.wheel, self.etag = http, token, wheel, etag


def ok(r: httpx.Response) -> None:
    assert r.status_code < 500, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"


# ---- strategies ------------------------------------------------------------------------------

SEGMENT = st.one_of(
    st.sampled_from([PROJECT, "Fuzz_Pub", "FUZZ.PUB", "nope", VERSION, "1.0.metadata", FILENAME]),
    st.text(max_size=40).map(lambda s: quote(s, safe="")),
    st.from_regex(r"\A[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,40}\Z"),
)
PATHS = st.one_of(
    st.builds("/simple/{}/".format, SEGMENT),
    st.builds("/simple/{}".format, SEGMENT),
    st.just("/simple/"),
    st.builds(f"/files/{PROJECT}/{{}}".format, SEGMENT),
    st.builds("/files/{}/{}".format, SEGMENT, SEGMENT),
    st.sampled_from([f"/files/{PROJECT}/{FILENAME}", f"/files/{PROJECT}/{FILENAME}.metadata"]),
    st.builds("/pypi/{}/json".format, SEGMENT),
    st.builds(f"/pypi/{PROJECT}/{{}}/json".format, SEGMENT),
)
DIGITS = st.text("0123456789", max_size=20)
RANGE = st.one_of(
    header_text,
    st.builds("bytes={}-{}".format, DIGITS, DIGITS),
    st.builds("bytes={}-{},{}-{}".format, DIGITS, DIGITS, DIGITS, DIGITS),
)
ACCEPT = st.one_of(
    header_text,
    st.sampled_from(
        [
            "application/vnd.pypi.simple.v1+json",
            "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            "application/vnd.pypi.simple.latest+json;q=nan",
            "text/html;q=1e999, */*;q=-1",
            "image/png",
        ]
    ),
)


def _basic(s: str) -> str:
    return "Basic " + base64.b64encode(s.encode("utf-8", "surrogatepass")).decode()


def authorization(token: str) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.just(f"Bearer {token}"),
        st.just(_basic(f"__token__:{token}")),
        st.builds(lambda s: _basic(f"__token__:{token}{s}"), garbage_text),
        st.builds(_basic, garbage_text),
        st.builds("Bearer vestry-{}".format, header_text),
        header_text,
    )


def wire(value: str) -> bytes:
    """Latin-1 bytes, as sent (h11 refuses surrounding whitespace, as the RFC does)."""
    return value.strip(" \t").encode("latin-1")


@st.composite
def headers(draw: st.DrawFn, token: str, etag: str) -> dict[str, bytes]:
    """Header values as bytes: any Latin-1 goes on the wire (httpx would refuse non-ASCII str)."""
    out: dict[str, bytes] = {}
    for name, values in (
        ("Accept", ACCEPT),
        ("Range", RANGE),
        ("If-Range", st.one_of(st.just(etag), header_text)),
        ("If-None-Match", st.one_of(st.just(etag), st.just("*"), header_text)),
        ("Accept-Encoding", st.one_of(st.just("gzip;q=0.5, br"), header_text)),
        ("Authorization", authorization(token)),
    ):
        value = draw(st.one_of(st.none(), values))
        if value is not None:
            out[name] = wire(value)
    return out


# ---- read routes -------------------------------------------------------------------------------


@fuzz(600)
@given(data=st.data())
def test_read_routes(site: Site, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(["GET", "HEAD"]))
    path = data.draw(PATHS)
    ok(site.http.request(method, path, headers=data.draw(headers(site.token, site.etag))))


# ---- the upload ----------------------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(
    [":action", "name", "version", "filetype", "pyversion", "metadata_version", "sha256_digest",
     "md5_digest", "summary", "requires_python", "project_urls", "classifiers", "content"]
)  # fmt: skip
FIELD_VALUES = st.one_of(
    garbage_text,
    st.sampled_from(["file_upload", PROJECT, VERSION, "bdist_wheel", "sdist", "py3", "2.1"]),
)


@fuzz(300)
@given(data=st.data())
def test_upload(site: Site, data: st.DataObject) -> None:
    """A twine upload with fields replaced, added or dropped, and the file's name and bytes
    changed; and bodies that are not multipart at all."""
    wheel = site.wheel.read_bytes()
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": PROJECT,
        "version": data.draw(st.sampled_from([VERSION, "2.0"])),
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(wheel).hexdigest(),
    }
    fields.update(data.draw(st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=3)))
    for name in data.draw(st.lists(FIELD_NAMES, max_size=2)):
        fields.pop(name, None)
    filename = data.draw(st.one_of(st.just(FILENAME), garbage_text))
    content = data.draw(st.one_of(st.just(wheel), st.binary(max_size=500)))
    auth = data.draw(authorization(site.token))
    hdrs = {"Authorization": wire(auth)} if auth is not None else {}
    if data.draw(st.booleans()):
        r = site.http.post(
            "/legacy/", data=fields, files={"content": (filename, content)}, headers=hdrs
        )
    else:
        content_type = st.one_of(header_text, st.just("multipart/form-data; boundary=x"))
        hdrs["Content-Type"] = wire(data.draw(content_type))
        r = site.http.post("/legacy/", content=data.draw(st.binary(max_size=500)), headers=hdrs)
    ok(r)


# ---- the classes the security review found -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "hdrs", "body"),
    [
        pytest.param(
            "GET",
            f"/files/{PROJECT}/{FILENAME}",
            {"Range": "bytes=" + "9" * 5000 + "-"},
            None,
            id="range-digits",
        ),
        pytest.param(
            "GET",
            f"/pypi/{PROJECT}/1.{'9' * 5000}/json",
            {},
            None,
            id="url-version-digits",
        ),
        pytest.param(
            "PUT",
            f"/api/v1/projects/{PROJECT}/visibility",
            {"Content-Type": "application/json"},
            b'{"visibility": NaN}',
            id="json-nan",
        ),
        pytest.param(
            "POST",
            "/api/v1/tokens",
            {"Content-Type": "application/json"},
            b'{"expires_in": Infinity}',
            id="json-infinity",
        ),
    ],
)
def test_known_classes(
    site: Site, method: str, path: str, hdrs: dict[str, str], body: bytes | None
) -> None:
    headers = {"Authorization": f"Bearer {site.token}", **hdrs}
    r = site.http.request(method, path, headers=headers, content=body)
    assert r.status_code < 500, f"{r.status_code} {r.text}"

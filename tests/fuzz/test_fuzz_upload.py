"""Fuzzing the upload checks: whatever the form fields, filename and bytes, every failure is an
UploadError (a 4xx with a message), never another exception (a 500).

Two kinds of input: anything at all, and a valid twine form with a few fields replaced by
anything, which reaches the deep checks (metadata, digests, archive) the first kind rarely does.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories.upload_form import SDIST, WHEEL, Upload
from tests.support.fuzz import fuzz, garbage_text
from tests.support.hostile import good_wheel_members, raw_zip
from vestry.gateway.upload.archive import check_filename
from vestry.gateway.upload.checks import Checked, after_index, before_index
from vestry.gateway.upload.digests import digest_file
from vestry.gateway.upload.form import UploadError, parse_form

FIELDS = [
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "pyversion",
    "metadata_version",
    "summary",
    "description",
    "description_content_type",
    "keywords",
    "home_page",
    "download_url",
    "author_email",
    "license",
    "license_expression",
    "classifiers",
    "requires_dist",
    "requires_python",
    "project_urls",
    "provides_extra",
    "dynamic",
    "md5_digest",
    "sha256_digest",
    "blake2_256_digest",
]
VALID = Upload(b"PK\x05\x06" + b"\x00" * 18, WHEEL, "bdist_wheel").fields()
# Values that tend to matter: versions, digits (int() limits), URLs, markers, metadata versions.
VALUES = st.one_of(
    garbage_text,
    st.sampled_from(["1.0", "2.1", "2.4", "bdist_wheel", "sdist", "py3", "source", "file_upload"]),
    st.from_regex(r"\A[0-9]{1,40}(\.[0-9]{1,40}){0,3}([ab]|rc|\.post|\.dev)?[0-9]{0,30}\Z"),
    st.from_regex(r"\A(https?|javascript|data|ftp)://[a-z.]{0,20}[^\n]{0,20}\Z"),
    st.from_regex(r"\A[A-Za-z ]{0,10}, ?[a-z:/.]{0,30}\Z"),
    st.from_regex(
        r"\A[a-z]{1,8}( ?[<>=!~]{1,3} ?[0-9.]{1,10})?( ?; ?[a-z_]{1,15} ?[<>=] ?'\w*')?\Z"
    ),
)
KEYS = st.one_of(st.sampled_from(FIELDS), garbage_text)
REPLACED = st.dictionaries(st.sampled_from(FIELDS), VALUES, min_size=1, max_size=4)
EXTRA = st.lists(st.tuples(KEYS, VALUES), max_size=4)


def _fields(replaced: dict[str, str], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, replaced.get(k, v)) for k, v in VALID] + extra


@fuzz(400)
@given(items=st.lists(st.tuples(KEYS, VALUES), max_size=30))
def test_parse_form_any_fields(items: list[tuple[str, str]]) -> None:
    with contextlib.suppress(UploadError):
        parse_form(items)


@fuzz(400)
@given(replaced=REPLACED, extra=EXTRA)
def test_parse_form_valid_form_with_fields_replaced(
    replaced: dict[str, str], extra: list[tuple[str, str]]
) -> None:
    try:
        form = parse_form(_fields(replaced, extra))
    except UploadError:
        return
    assert form.metadata is not None and form.filetype in ("sdist", "bdist_wheel")


@fuzz(400)
@given(
    replaced=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2),
    filename=st.one_of(garbage_text, st.sampled_from([WHEEL, SDIST, "demo_pkg-1.0.zip"])),
    data=st.binary(max_size=2000),
)
def test_before_index_any_file(replaced: dict[str, str], filename: str, data: bytes) -> None:
    with contextlib.suppress(UploadError):
        before_index(_fields(replaced, []), filename, io.BytesIO(data), 1024 * 1024)


# ---- filenames against the form --------------------------------------------------------------

FILENAMES = st.one_of(
    garbage_text,
    st.from_regex(
        r"\A[A-Za-z0-9_.!+-]{1,30}-[0-9a-z.!+]{1,40}(-[0-9a-z_]{1,10})?-[a-z0-9_.]{1,20}-[a-z0-9_.]{1,20}-[a-zA-Z0-9_.]{1,30}\.whl\Z"
    ),
    st.from_regex(r"\A[A-Za-z0-9_.-]{1,30}-[0-9a-z.!+]{1,40}\.(tar\.gz|zip)\Z"),
    st.builds(lambda n: f"demo_pkg-{'9' * n}-py3-none-any.whl", st.integers(90, 6000)),
)


@fuzz(400)
@given(
    filename=FILENAMES,
    filetype=st.sampled_from(["bdist_wheel", "sdist"]),
    name=st.one_of(st.just("demo-pkg"), garbage_text),
    version=st.one_of(st.just("1.0"), VALUES),
)
def test_check_filename(filename: str, filetype: str, name: str, version: str) -> None:
    try:
        check_filename(filename, filetype, name, version)
    except UploadError:
        return
    # What passes goes into headers and URLs verbatim.
    assert filename.isascii() and not set(filename) & set("\"';/\\ \t")


# ---- archives: a valid wheel, its bytes mutated ------------------------------------------------

GOOD_WHEEL = raw_zip(good_wheel_members())


@fuzz(400)
@given(
    flips=st.lists(st.tuples(st.integers(0, len(GOOD_WHEEL) - 1), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, len(GOOD_WHEEL)),
    filetype=st.sampled_from(["bdist_wheel", "sdist"]),
)
def test_after_index_mutated_archive(flips: list[tuple[int, int]], cut: int, filetype: str) -> None:
    data = bytearray(GOOD_WHEEL)
    for at, byte in flips:
        data[at] = byte
    f = io.BytesIO(bytes(data[: max(cut, 1)]))
    upload = Upload(bytes(f.getvalue()), WHEEL if filetype == "bdist_wheel" else SDIST, filetype)
    form = parse_form(upload.fields())
    checked = Checked(form, upload.filename, digest_file(f))
    with contextlib.suppress(UploadError):
        after_index(checked, f, project_exists=False)


@pytest.mark.parametrize("data", [GOOD_WHEEL])
def test_the_mutated_wheel_is_valid_unmutated(data: bytes) -> None:
    """The fuzzing above starts from a wheel the checks accept."""
    f = io.BytesIO(data)
    form = parse_form(Upload(data, WHEEL, "bdist_wheel").fields())
    assert after_index(Checked(form, WHEEL, digest_file(f)), f, project_exists=False).metadata

"""Fuzzing the gateway's small parsers and the shared name rules: Range, Accept,
Accept-Encoding, versions and filenames. Each either answers or raises its one documented error."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from tests.support.fuzz import fuzz, garbage_text, header_text
from vestry.common.errors import InvalidArgument
from vestry.common.filenames import MAX_FILENAME_LENGTH, check_filename_characters
from vestry.common.versions import MAX_VERSION_LENGTH, parse_version
from vestry.gateway.errors import HTTPError
from vestry.gateway.negotiation import HTML, HTML_V1, JSON, accepts_gzip, choose
from vestry.gateway.routes.files import _parse_range

# Digit runs up to 30 long; longer ones are the known class below.
DIGITS = st.text("0123456789", max_size=30)
RANGES = st.one_of(
    header_text,
    st.builds(lambda a, b: f"bytes={a}-{b}", DIGITS, DIGITS),
    st.builds(lambda a, b, c: f"bytes={a}-{b},{c}-", DIGITS, DIGITS, DIGITS),
    st.builds(lambda p, a, b: f"{p}={a}-{b}", header_text, DIGITS, DIGITS),
)


@fuzz(1000)
@given(header=RANGES, size=st.one_of(st.integers(0, 10), st.integers(0, 10**12)))
def test_parse_range(header: str, size: int) -> None:
    try:
        parsed = _parse_range(header, size)
    except HTTPError as exc:
        assert exc.status == 416 and exc.headers["Content-Range"] == f"bytes */{size}"
        return
    if parsed is not None:
        start, length = parsed
        assert start >= 0 and length >= 1 and start + length <= size


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "1" * 5000])
def test_parse_range_long_digit_strings(header: str) -> None:
    with contextlib.suppress(HTTPError):
        _parse_range(header, 1000)


MEDIA = st.sampled_from(
    [
        JSON,
        HTML_V1,
        HTML,
        "application/vnd.pypi.simple.latest+json",
        "application/vnd.pypi.simple.latest+html",
        "text/*",
        "application/*",
        "*/*",
        "image/png",
        "",
    ]
)
Q = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "1", "0", "0.5", "nan", "-inf", "1e999", "0x1", "1_0"]),
    header_text,
)
ACCEPT = st.one_of(
    header_text,
    st.lists(st.builds(lambda m, q: f"{m};q={q}", MEDIA, Q) | MEDIA, max_size=6).map(", ".join),
)


@fuzz(1000)
@given(accept=st.one_of(st.none(), ACCEPT))
def test_choose(accept: str | None) -> None:
    assert choose(accept) in (JSON, HTML_V1, HTML, None)


@fuzz(300)
@given(value=st.one_of(st.none(), ACCEPT, header_text))
def test_accepts_gzip(value: str | None) -> None:
    assert accepts_gzip(value) in (True, False)


VERSIONS = st.one_of(
    garbage_text,
    st.from_regex(
        r"\A(v|[0-9]+!)?[0-9]{1,40}(\.[0-9]{1,40}){0,4}([-_.]?(a|b|rc|c|post|dev)[0-9]*)*(\+[a-z0-9.]{1,20})?\Z"
    ),
    st.builds(lambda n: "1." + "9" * n, st.integers(90, 6000)),
)


@fuzz(1000)
@given(version=VERSIONS, allow_local=st.booleans())
def test_parse_version(version: str, allow_local: bool) -> None:
    try:
        parsed = parse_version(version, allow_local=allow_local)
    except InvalidArgument:
        return
    assert len(version) <= MAX_VERSION_LENGTH and parsed == Version(version)
    assert allow_local or parsed.local is None


@fuzz(1000)
@given(filename=st.one_of(garbage_text, st.from_regex(r"\A[A-Za-z0-9._+!-]{1,300}\Z")))
def test_check_filename_characters(filename: str) -> None:
    try:
        check_filename_characters(filename)
    except InvalidArgument:
        return
    assert 0 < len(filename) <= MAX_FILENAME_LENGTH and filename.isascii()
    assert not filename.startswith(".") and not set(filename) & set("/\\\"';, \t\r\n")

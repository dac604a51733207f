"""Fields newer than the declared Metadata-Version: accepted (real files carry them)."""

from __future__ import annotations

import pytest

from vestry.gateway.upload.form import UploadError, parse_form

BASE = [
    (":action", "file_upload"),
    ("protocol_version", "1"),
    ("name", "attrs"),
    ("version", "23.2.0"),
    ("filetype", "bdist_wheel"),
    ("pyversion", "py3"),
    ("sha256_digest", "a" * 64),
]


def test_license_expression_under_metadata_2_1_is_accepted() -> None:
    # attrs 23.2.0's wheel on PyPI: Metadata-Version 2.1 with License-Expression.
    form = parse_form([*BASE, ("metadata_version", "2.1"), ("license_expression", "MIT")])
    assert form.metadata is not None
    assert form.metadata.license_expression == "MIT"
    assert form.metadata_version == "2.1"  # what the file says is kept


def test_a_newer_field_does_not_excuse_other_problems() -> None:
    with pytest.raises(UploadError, match="license"):
        parse_form(
            [*BASE, ("metadata_version", "2.1"), ("license_expression", "MIT OR OR nonsense")]
        )


def test_an_invalid_field_of_the_declared_version_is_still_refused() -> None:
    with pytest.raises(UploadError, match="requires"):
        parse_form([*BASE, ("metadata_version", "2.1"), ("requires_dist", "not a requirement!!")])

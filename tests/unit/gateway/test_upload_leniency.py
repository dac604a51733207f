"""What private builds need of the upload form: local versions (unless the operator follows
PyPI's rule), and a wheel's `pyversion` taken from its filename when the client sends none."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.factories import make_sdist, make_wheel
from tests.factories.upload_form import LIMIT, SDIST, WHEEL, Upload
from vestry.gateway.upload.checks import before_index
from vestry.gateway.upload.form import UploadError

LOCAL_WHEEL = "demo_pkg-1.2.3+cu121-py3-none-any.whl"
PYPI_TEXT = (
    "'1.2.3+cu121' is an invalid value for Version. Error: Can't use PEP 440 local versions. "
    "See https://packaging.python.org/specifications/core-metadata for more information."
)


def wheel(tmp: Path, version: str = "1.0") -> bytes:
    return make_wheel(tmp, "demo-pkg", version).read_bytes()


def _local(tmp_path: Path) -> Upload:
    data = wheel(tmp_path, version="1.2.3+cu121")
    return Upload(data, LOCAL_WHEEL, "bdist_wheel", version="1.2.3+cu121")


def test_local_versions_are_accepted_by_default(tmp_path: Path) -> None:
    upload = _local(tmp_path)
    checked = before_index(upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT)
    assert checked.form.version == "1.2.3+cu121"


def test_without_local_versions_pypi_rule_and_text(tmp_path: Path) -> None:
    upload = _local(tmp_path)
    with pytest.raises(UploadError) as caught:
        before_index(
            upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT, allow_local=False
        )
    assert caught.value.message == PYPI_TEXT


@pytest.mark.parametrize(
    ("filename", "form", "expected"),
    [
        (WHEEL, None, "py3"),
        (WHEEL, "", "py3"),
        ("demo_pkg-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", "", "cp313"),
        ("demo_pkg-1.0-py2.py3-none-any.whl", None, "py2.py3"),
        ("demo_pkg-1.0-py2.py3-none-any.whl", "py3", "py3"),
        (WHEEL, "py3", "py3"),
    ],
)
def test_wheel_pyversion_comes_from_the_filename(
    tmp_path: Path, filename: str, form: str | None, expected: str
) -> None:
    upload = Upload(wheel(tmp_path), filename, "bdist_wheel")
    if form is None:
        upload.drop = ("pyversion",)
    else:
        upload.override = {"pyversion": form}
    checked = before_index(upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT)
    assert checked.form.pyversion == expected


def test_a_pyversion_contradicting_the_file_is_refused(tmp_path: Path) -> None:
    upload = Upload(wheel(tmp_path), WHEEL, "bdist_wheel", override={"pyversion": "cp27"})
    with pytest.raises(UploadError, match="contradicts the wheel's Python tag 'py3'"):
        before_index(upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT)


@pytest.mark.parametrize(("filename", "filetype"), [(WHEEL, "bdist_wheel"), (SDIST, "sdist")])
def test_a_missing_filetype_comes_from_the_extension(
    tmp_path: Path, filename: str, filetype: str
) -> None:
    data = (
        wheel(tmp_path)
        if filetype == "bdist_wheel"
        else make_sdist(tmp_path, "demo-pkg", "1.0").read_bytes()
    )
    upload = Upload(data, filename, filetype, drop=("filetype", "pyversion"))
    checked = before_index(upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT)
    assert checked.form.filetype == filetype


def test_a_filetype_contradicting_the_file_is_refused(tmp_path: Path) -> None:
    upload = Upload(wheel(tmp_path), WHEEL, "sdist")
    with pytest.raises(UploadError, match="an sdist must end in"):
        before_index(upload.fields(), upload.filename, io.BytesIO(upload.data), LIMIT)

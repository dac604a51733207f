"""Every upload rejection the gateway decides, in one table, each with a crafted file or field;
and the real-world files that must be accepted. Runs exactly the code the route runs."""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import make_sdist, make_wheel, metadata_text, tar_bytes, zip_bytes
from tests.factories.upload_form import LIMIT, SDIST, WHEEL, Upload, run_checks
from vestry.gateway.upload.checks import before_index
from vestry.gateway.upload.form import UploadError

# ---- crafted files ------------------------------------------------------------------------


def wheel(tmp: Path, **kw: object) -> bytes:
    return make_wheel(tmp, "demo-pkg", str(kw.pop("version", "1.0")), **kw).read_bytes()  # type: ignore[arg-type]


def sdist_members(top: str = "demo_pkg-1.0") -> dict[str, bytes]:
    return {
        f"{top}/PKG-INFO": metadata_text("demo-pkg", "1.0").encode(),
        f"{top}/setup.py": b"from setuptools import setup\nsetup()\n",
    }


DI = "demo_pkg-1.0.dist-info"
GOOD_WHEEL_MEMBERS = {
    "demo_pkg/__init__.py": b"",
    f"{DI}/METADATA": metadata_text("demo-pkg", "1.0").encode(),
    f"{DI}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{DI}/RECORD": b"",
}


def wheel_without(member: str) -> bytes:
    return zip_bytes({k: v for k, v in GOOD_WHEEL_MEMBERS.items() if not k.endswith(member)})


def wheel_with(**replace: bytes) -> bytes:
    members = dict(GOOD_WHEEL_MEMBERS)
    for key, value in replace.items():
        members[f"{DI}/{key}"] = value
    return zip_bytes(members)


ZEROS = bytes(8 * 1024 * 1024)  # deflates ~1000:1, far beyond the 50:1 limit

# (id, build(tmp) -> Upload, expected text in the message, expected status)
Case = tuple[str, Callable[[Path], Upload], str, int]
REJECTIONS: list[Case] = [
    # -- form and metadata
    (
        "wrong-action",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", override={":action": "submit"}),
        "only 'file_upload'",
        400,
    ),
    (
        "duplicated-field",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", extra=[("version", "2.0")]),
        "version: the field was sent more than once",
        400,
    ),
    (
        "missing-name",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", drop=("name",)),
        "name: this field is required",
        400,
    ),
    (
        "bad-filetype",
        lambda t: Upload(wheel(t), WHEEL, "bdist_egg"),
        "is not one of sdist, bdist_wheel",
        400,
    ),
    (
        "no-digest",
        lambda t: Upload(
            wheel(t),
            WHEEL,
            "bdist_wheel",
            drop=("md5_digest", "sha256_digest", "blake2_256_digest"),
        ),
        "include at least one message digest",
        400,
    ),
    (
        "digest-not-hex",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", override={"sha256_digest": "zz" * 32}),
        "not a hex digest",
        400,
    ),
    (
        "metadata-version-3.0",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", metadata_version="3.0"),
        "not a supported metadata version",
        400,
    ),
    (
        "invalid-version",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", version="one point oh"),
        "is not a valid version (PEP 440)",
        400,
    ),
    (
        "local-version",
        lambda t: Upload(
            wheel(t, version="1.0+corp"),
            "demo_pkg-1.0+corp-py3-none-any.whl",
            "bdist_wheel",
            version="1.0+corp",
        ),
        "local versions",
        400,
    ),
    (
        "invalid-requires-dist",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", extra=[("requires_dist", "foo >>> 1")]),
        "requires-dist",
        400,
    ),
    # -- content
    (
        "no-content",
        lambda t: Upload(b"", "", "bdist_wheel"),
        "Upload payload does not have a file.",
        400,
    ),
    # -- filename
    ("dotdot-filename", lambda t: Upload(wheel(t), f"../{WHEEL}", "bdist_wheel"), "'/'", 400),
    (
        "backslash-filename",
        lambda t: Upload(wheel(t), f"..\\{WHEEL}", "bdist_wheel"),
        "may not contain",
        400,
    ),
    (
        "control-char-filename",
        lambda t: Upload(wheel(t), "demo_pkg-1.0-py3-none-any\n.whl", "bdist_wheel"),
        "control characters",
        400,
    ),
    (
        "unparsable-wheel-filename",
        lambda t: Upload(wheel(t), "demo_pkg.whl", "bdist_wheel"),
        "invalid wheel filename",
        400,
    ),
    (
        "wheel-sent-as-sdist",
        lambda t: Upload(wheel(t), WHEEL, "sdist"),
        "an sdist must end in .tar.gz",
        400,
    ),
    (
        "sdist-sent-as-wheel",
        lambda t: Upload(make_sdist(t, "demo-pkg", "1.0").read_bytes(), SDIST, "bdist_wheel"),
        "a bdist_wheel must end in .whl",
        400,
    ),
    (
        "filename-project-mismatch",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", name="other-pkg"),
        "does not match the project",
        400,
    ),
    (
        "filename-version-mismatch",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", version="2.0"),
        "version in filename (1.0) does not match the metadata version (2.0)",
        400,
    ),
    # -- size and digests
    (
        "oversized-file",
        lambda t: Upload(
            wheel(t, extra_files={"demo_pkg/blob.bin": random.Random(0).randbytes(2 * LIMIT)}),
            WHEEL,
            "bdist_wheel",
        ),
        "File too large. Limit is 1 MiB",
        413,
    ),
    ("empty-file", lambda t: Upload(b"", WHEEL, "bdist_wheel"), "the file is empty", 400),
    (
        "wrong-sha256",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", override={"sha256_digest": "0" * 64}),
        "The digest supplied does not match",
        400,
    ),
    (
        "wrong-md5",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", override={"md5_digest": "0" * 32}),
        "The digest supplied does not match",
        400,
    ),
    (
        "wrong-blake2",
        lambda t: Upload(wheel(t), WHEEL, "bdist_wheel", override={"blake2_256_digest": "0" * 64}),
        "The digest supplied does not match",
        400,
    ),
    # -- archives: wheels
    ("not-a-zip", lambda t: Upload(b"PK\x03\x04garbage" * 10, WHEEL, "bdist_wheel"), "zip", 400),
    (
        "zip-bomb",
        lambda t: Upload(
            zip_bytes({**GOOD_WHEEL_MEMBERS, "demo_pkg/z": ZEROS}), WHEEL, "bdist_wheel"
        ),
        "compression ratio",
        400,
    ),
    (
        "zip-dotdot-member",
        lambda t: Upload(
            zip_bytes({**GOOD_WHEEL_MEMBERS, "../../etc/evil": b"x"}), WHEEL, "bdist_wheel"
        ),
        "unsafe member path",
        400,
    ),
    (
        "wheel-missing-metadata",
        lambda t: Upload(wheel_without("/METADATA"), WHEEL, "bdist_wheel"),
        f"missing {DI}/METADATA",
        400,
    ),
    (
        "wheel-missing-wheel-file",
        lambda t: Upload(wheel_without("/WHEEL"), WHEEL, "bdist_wheel"),
        f"missing {DI}/WHEEL",
        400,
    ),
    (
        "wheel-missing-dist-info",
        lambda t: Upload(zip_bytes({"demo_pkg/__init__.py": b""}), WHEEL, "bdist_wheel"),
        "missing .dist-info directory",
        400,
    ),
    (
        "wheel-metadata-version-mismatch",
        lambda t: Upload(
            wheel_with(METADATA=metadata_text("demo-pkg", "1.1").encode()), WHEEL, "bdist_wheel"
        ),
        "its METADATA says 'demo-pkg' version '1.1'",
        400,
    ),
    (
        "wheel-metadata-name-mismatch",
        lambda t: Upload(
            wheel_with(METADATA=metadata_text("evil-pkg", "1.0").encode()), WHEEL, "bdist_wheel"
        ),
        "its METADATA says 'evil-pkg'",
        400,
    ),
    # -- archives: sdists
    ("not-a-tar", lambda t: Upload(b"\x1f\x8bnot gzip at all", SDIST, "sdist"), ".tar.gz", 400),
    (
        "tar-dotdot-member",
        lambda t: Upload(
            tar_bytes({**sdist_members(), "demo_pkg-1.0/../../evil.py": b"x"}), SDIST, "sdist"
        ),
        "unsafe member path",
        400,
    ),
    (
        "tar-absolute-member",
        lambda t: Upload(tar_bytes({**sdist_members(), "/etc/passwd": b"x"}), SDIST, "sdist"),
        "unsafe member path",
        400,
    ),
    (
        "tar-symlink-outside",
        lambda t: Upload(
            tar_bytes(sdist_members(), links={"demo_pkg-1.0/up": "../../etc"}), SDIST, "sdist"
        ),
        "link points outside",
        400,
    ),
    (
        "tar-bomb",
        lambda t: Upload(tar_bytes({**sdist_members(), "demo_pkg-1.0/z": ZEROS}), SDIST, "sdist"),
        "compression ratio",
        400,
    ),
    (
        "sdist-two-top-level-dirs",
        lambda t: Upload(tar_bytes({**sdist_members(), "other/x.py": b""}), SDIST, "sdist"),
        "exactly one top-level directory",
        400,
    ),
    (
        "sdist-missing-pkg-info",
        lambda t: Upload(
            make_sdist(t, "demo-pkg", "1.0", pkg_info=False).read_bytes(), SDIST, "sdist"
        ),
        "PKG-INFO is missing",
        400,
    ),
    # -- PEP 625, for sdists of projects that do not exist yet
    (
        "pep625-legacy-sdist-name-new-project",
        lambda t: Upload(
            make_sdist(t, "Demo.Pkg", "1.0", filename_stem="Demo.Pkg-1.0").read_bytes(),
            "Demo.Pkg-1.0.tar.gz",
            "sdist",
            name="Demo.Pkg",
        ),
        "it must be 'demo_pkg-1.0.tar.gz' (PEP 625)",
        400,
    ),
    (
        "pep625-zip-sdist-new-project",
        lambda t: Upload(zip_bytes(sdist_members()), "demo_pkg-1.0.zip", "sdist"),
        "(PEP 625)",
        400,
    ),
]


@pytest.mark.parametrize(
    ("build", "message", "status"),
    [pytest.param(b, m, s, id=i) for i, b, m, s in REJECTIONS],
)
def test_rejected(
    tmp_path: Path, build: Callable[[Path], Upload], message: str, status: int
) -> None:
    upload = build(tmp_path)
    with pytest.raises(UploadError) as caught:
        if upload.filename:
            run_checks(upload)
        else:
            before_index(upload.fields(), None, None, LIMIT)
    assert message in caught.value.message
    assert caught.value.status == status
    assert "Traceback" not in caught.value.message


@pytest.mark.parametrize(
    "metadata_version", ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5"]
)
def test_every_metadata_version_is_accepted(tmp_path: Path, metadata_version: str) -> None:
    data = wheel(tmp_path, metadata_version=metadata_version)
    metadata = run_checks(Upload(data, WHEEL, "bdist_wheel", metadata_version=metadata_version))
    assert metadata is not None
    assert metadata.startswith(f"Metadata-Version: {metadata_version}\n".encode())


def test_metadata_2_0_with_2_1_fields_is_accepted(tmp_path: Path) -> None:
    # Old bdist_wheel wrote Metadata-Version 2.0 next to Provides-Extra and a content type.
    extra = [("provides_extra", "test"), ("description_content_type", "text/markdown")]
    upload = Upload(wheel(tmp_path), WHEEL, "bdist_wheel", metadata_version="2.0", extra=extra)
    assert run_checks(upload) is not None


def test_wheel_metadata_is_returned_byte_for_byte(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo-pkg", "1.0", requires_dist=("attrs>=23",))
    with zipfile.ZipFile(path) as zf:
        expected = zf.read(f"{DI}/METADATA")
    assert run_checks(Upload(path.read_bytes(), WHEEL, "bdist_wheel")) == expected


@pytest.mark.parametrize(
    ("name", "dist_name", "module"),
    [
        ("MarkupSafe", "MarkupSafe", "markupsafe"),
        ("PyYAML", "PyYAML", "yaml"),
        ("zope.interface", "zope.interface", "zope"),
    ],
)
def test_legacy_unnormalised_wheel_names_are_accepted(
    tmp_path: Path, name: str, dist_name: str, module: str
) -> None:
    path = make_wheel(tmp_path, name, "1.0", dist_name=dist_name, module=module)
    assert run_checks(Upload(path.read_bytes(), path.name, "bdist_wheel", name=name)) is not None


@pytest.mark.parametrize(
    ("filename", "build"),
    [
        (
            "Demo.Pkg-1.0.tar.gz",
            lambda t: make_sdist(t, "Demo.Pkg", "1.0", filename_stem="Demo.Pkg-1.0").read_bytes(),
        ),
        ("demo-pkg-1.0.zip", lambda t: zip_bytes(sdist_members("demo-pkg-1.0"))),
    ],
)
def test_legacy_sdists_of_existing_projects_are_accepted(
    tmp_path: Path, filename: str, build: Callable[[Path], bytes]
) -> None:
    upload = Upload(build(tmp_path), filename, "sdist", name="Demo.Pkg")
    assert run_checks(upload, project_exists=True) is None


def test_pep625_sdist_of_new_project_is_accepted(tmp_path: Path) -> None:
    data = make_sdist(tmp_path, "Demo.Pkg", "1.0").read_bytes()
    assert run_checks(Upload(data, SDIST, "sdist", name="Demo.Pkg")) is None


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    extra = [("comment", "hi"), ("gpg_signature", ""), ("some_future_field", "x")]
    assert run_checks(Upload(wheel(tmp_path), WHEEL, "bdist_wheel", extra=extra)) is not None

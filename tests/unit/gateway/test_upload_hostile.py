"""Hostile uploads: bombs of every compression method, lying headers, unsafe paths and member
types, PKG-INFO that names another release, oversized or dangerous metadata, filenames that
would break a header. Each must end in a clean UploadError (400), never another exception.

The slow-to-build bombs are kept in tests/data/hostile/ (`python -m tests.support.hostile`
rewrites them); the rest are built here, byte by byte where a library would refuse to lie."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import metadata_text
from tests.factories.upload_form import SDIST, WHEEL, Upload, run_checks
from tests.support.hostile import (
    CORPUS,
    DI,
    METADATA,
    Member,
    MiB,
    compress,
    good_wheel_members,
    raw_zip,
    tar_header,
    wheel_with,
)
from vestry.gateway.upload import archive
from vestry.gateway.upload.archive import inspect_archive
from vestry.gateway.upload.form import UploadError

ROOT = Path(__file__).resolve().parents[3]
TOP = "demo_pkg-1.0"
PKG = f"{TOP}/PKG-INFO"
SDIST_ZIP = "demo_pkg-1.0.zip"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def sdist(*extra: Callable[[tarfile.TarFile], None], pkg_info: bytes = METADATA) -> bytes:
    """A .tar.gz sdist with a good PKG-INFO, then whatever `extra` adds."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        add_file(tf, PKG, pkg_info)
        add_file(tf, f"{TOP}/setup.py", b"")
        for build in extra:
            build(tf)
    return buf.getvalue()


def add_file(tf: tarfile.TarFile, name: str, data: bytes = b"x", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tf.addfile(info, io.BytesIO(data))


def member(name: str, kind: bytes, link: str = "", mode: int = 0o644) -> Callable[..., None]:
    def build(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = kind, link, mode
        tf.addfile(info)

    return build


def raw_tar_gz(*blocks: bytes) -> bytes:
    """A .tar.gz of raw 512-byte blocks: names tarfile's writer would never produce."""
    import gzip

    return gzip.compress(b"".join(blocks) + bytes(1024))


def zip_sdist(*extra: Member, pkg_info: Member | None = None) -> bytes:
    return raw_zip([pkg_info or Member(PKG, METADATA), Member(f"{TOP}/setup.py", b""), *extra])


def wheel_upload(data: bytes, **kw: object) -> Upload:
    return Upload(data, WHEEL, "bdist_wheel", **kw)  # type: ignore[arg-type]


def sdist_upload(data: bytes, filename: str = SDIST, **kw: object) -> Upload:
    return Upload(data, filename, "sdist", **kw)  # type: ignore[arg-type]


def lzma_member(name: str, data: bytes) -> Member:
    return Member(name, data, method=zipfile.ZIP_LZMA)


# (id, build() -> Upload, expected text in the message)
Case = tuple[str, Callable[[], Upload], str]
BOMB = "looks like a"
REJECTED: list[Case] = [
    # -- 1. decompression bombs: what comes out is counted, whatever the headers claim
    ("bomb-bzip2-metadata", lambda: wheel_upload(corpus("metadata-bomb-bzip2.whl")), BOMB),
    ("bomb-lzma-metadata", lambda: wheel_upload(corpus("metadata-bomb-lzma.whl")), BOMB),
    ("bomb-deflate-metadata", lambda: wheel_upload(corpus("metadata-bomb-deflate.whl")), BOMB),
    (
        "bomb-stored-member-longer-than-claimed",
        lambda: wheel_upload(
            wheel_with(Member("demo_pkg/a", b"x" * 5000, zipfile.ZIP_STORED, claimed_size=10))
        ),
        BOMB,
    ),
    (
        "bomb-bzip2-pkg-info-in-zip-sdist",
        lambda: sdist_upload(
            zip_sdist(
                pkg_info=Member(
                    PKG,
                    METADATA,
                    zipfile.ZIP_BZIP2,
                    raw=compress(zipfile.ZIP_BZIP2, METADATA + bytes(8 * MiB)),
                )
            ),
            SDIST_ZIP,
        ),
        BOMB,
    ),
    ("bomb-gnu-longname", lambda: sdist_upload(corpus("gnu-longname-bomb.tar.gz")), "extension"),
    ("bomb-pax-header", lambda: sdist_upload(corpus("pax-header-bomb.tar.gz")), "extension"),
    ("bomb-gzip-member", lambda: sdist_upload(corpus("gzip-bomb.tar.gz")), "compression ratio"),
    (
        "bomb-gzip-lying-size",  # a header claims 0 bytes, 8 MiB of zeros follow: all counted
        lambda: sdist_upload(raw_tar_gz(tar_header(f"{TOP}/z".encode(), 0, b"0"), bytes(8 * MiB))),
        "",
    ),
    (
        "local-header-other-method",
        lambda: wheel_upload(
            wheel_with(
                Member("demo_pkg/a", b"abc", zipfile.ZIP_STORED, local_method=zipfile.ZIP_BZIP2)
            )
        ),
        "disagrees with the central directory",
    ),
    (
        "local-header-other-name",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/a", b"abc", local_name="../../evil"))),
        "disagrees with the central directory",
    ),
    (
        "local-header-other-size",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/a", b"abc", local_size=10**9))),
        "disagrees with the central directory",
    ),
    (
        "zip-method-deflate64",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/a", b"", method=9, raw=b""))),
        "only stored, deflate, bzip2 and lzma",
    ),
    (
        "zip-bad-crc-of-metadata",
        lambda: wheel_upload(
            wheel_with(replace_metadata=Member(f"{DI}/METADATA", METADATA, claimed_crc=1))
        ),
        "bad CRC",
    ),
    (
        "zip-truncated",
        lambda: wheel_upload(raw_zip(good_wheel_members(), truncate=150)),
        "not a readable zip",
    ),
    (
        "zip-member-data-cut",  # the central directory is intact, a member's bytes are not
        lambda: wheel_upload(
            wheel_with(Member("demo_pkg/a", b"x" * 100, zipfile.ZIP_STORED, raw=b"x" * 10))
        ),
        "",
    ),
    ("tar-truncated", lambda: sdist_upload(sdist()[:-40]), "not a readable .tar.gz"),
    (
        "zip-metadata-too-large",
        lambda: wheel_upload(
            wheel_with(
                replace_metadata=Member(
                    f"{DI}/METADATA", METADATA + bytes(11 * MiB), zipfile.ZIP_STORED
                )
            )
        ),
        "METADATA is too large",
    ),
    (
        "zip-duplicate-metadata",
        lambda: wheel_upload(
            wheel_with(Member(f"{DI}/METADATA", metadata_text("evil-pkg", "1.0").encode()))
        ),
        "duplicate member",
    ),
    # -- 2. member paths and types
    *[
        (
            f"zip-path-{label}",
            lambda name=name: wheel_upload(wheel_with(Member(name, b"x"))),
            "unsafe member path",
        )
        for label, name in [
            ("dotdot", "demo_pkg/../../evil"),
            ("absolute", "/etc/passwd"),
            ("backslash", "demo_pkg\\..\\..\\evil"),
            ("drive", "C:/Windows/evil.dll"),
            ("control", "demo_pkg/a\nb"),
        ]
    ],
    (
        "zip-path-nul",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/a", b"x", raw_name=b"demo_pkg/a\0.py"))),
        "NUL",
    ),
    (
        "zip-symlink",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/l", b"/etc/passwd", unix_mode=0o120777))),
        "not a regular file",
    ),
    (
        "zip-setuid",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/s", b"x", unix_mode=0o104755))),
        "setuid",
    ),
    (
        "zip-sdist-dotdot",
        lambda: sdist_upload(zip_sdist(Member(f"{TOP}/../evil", b"x")), SDIST_ZIP),
        "unsafe member path",
    ),
    *[
        (
            f"tar-path-{label}",
            lambda name=name: sdist_upload(sdist(lambda tf: add_file(tf, name))),
            "unsafe member path",
        )
        for label, name in [
            ("backslash", f"{TOP}\\..\\evil"),
            ("drive", "C:/evil"),
            ("control", f"{TOP}/a\x1bb"),
        ]
    ],
    (
        "tar-path-invalid-utf8",
        lambda: sdist_upload(
            raw_tar_gz(
                tar_header(PKG.encode(), len(METADATA), b"0"),
                METADATA.ljust(512, b"\0"),
                tar_header(f"{TOP}/\xff\xfe".encode("latin-1"), 0, b"0"),
            )
        ),
        "not UTF-8",
    ),
    *[
        (
            f"tar-{label}",
            lambda kind=kind: sdist_upload(sdist(member(f"{TOP}/dev", kind))),
            "devices and FIFOs",
        )
        for label, kind in [
            ("chardev", tarfile.CHRTYPE),
            ("blockdev", tarfile.BLKTYPE),
            ("fifo", tarfile.FIFOTYPE),
        ]
    ],
    *[
        (
            f"tar-{label}",
            lambda mode=mode: sdist_upload(sdist(lambda tf: add_file(tf, f"{TOP}/run", mode=mode))),
            "setuid/setgid",
        )
        for label, mode in [("setuid", 0o4755), ("setgid", 0o2755)]
    ],
    *[
        (
            f"tar-{label}",
            lambda kind=kind, link=link: sdist_upload(sdist(member(f"{TOP}/l", kind, link))),
            message,
        )
        for label, kind, link, message in [
            ("symlink-absolute", tarfile.SYMTYPE, "/etc/passwd", "link points outside"),
            ("symlink-up", tarfile.SYMTYPE, "../../etc", "link points outside"),
            ("symlink-other-top", tarfile.SYMTYPE, "../other/x", "link points outside"),
            ("symlink-backslash", tarfile.SYMTYPE, "..\\..\\etc", "link points outside"),
            ("hardlink-absolute", tarfile.LNKTYPE, "/etc/passwd", "link points outside"),
            ("hardlink-up", tarfile.LNKTYPE, "../etc/passwd", "link points outside"),
            ("hardlink-missing", tarfile.LNKTYPE, f"{TOP}/nothing", "to a missing member"),
        ]
    ],
    # -- 3. the sdist's PKG-INFO must be the release it is uploaded as
    (
        "pkg-info-other-name",
        lambda: sdist_upload(sdist(pkg_info=metadata_text("evil-pkg", "1.0").encode())),
        "its PKG-INFO says 'evil-pkg'",
    ),
    (
        "pkg-info-other-version",
        lambda: sdist_upload(sdist(pkg_info=metadata_text("demo-pkg", "6.6").encode())),
        "its PKG-INFO says 'demo-pkg' version '6.6'",
    ),
    (
        "pkg-info-zip-sdist-other-name",
        lambda: sdist_upload(
            zip_sdist(pkg_info=Member(PKG, metadata_text("evil-pkg", "1.0").encode())), SDIST_ZIP
        ),
        "its PKG-INFO says 'evil-pkg'",
    ),
    (
        "pkg-info-invalid-utf8",
        lambda: sdist_upload(sdist(pkg_info=b"Metadata-Version: 2.1\nName: \xff\xfe\n\n")),
        "sdist is invalid",
    ),
    (
        "pkg-info-huge-version",
        lambda: sdist_upload(
            sdist(pkg_info=b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: " + b"1" * 5000)
        ),
        "sdist is invalid",
    ),
    (
        "pkg-info-too-large",
        lambda: sdist_upload(sdist(pkg_info=METADATA + b" " * (11 * MiB))),
        "PKG-INFO is too large",
    ),
    (
        "pkg-info-two",
        lambda: sdist_upload(sdist(lambda tf: add_file(tf, PKG, METADATA))),
        "more than one PKG-INFO",
    ),
    # -- 4. metadata sizes
    *[
        (
            f"field-{key}-too-long",
            lambda key=key, size=size: wheel_upload(b"", override={key: "x" * size}),
            f"{key}: the field must be",
        )
        for key, size in [
            ("summary", 513),
            ("description", 4 * MiB + 1),
            ("license", 128 * 1024 + 1),
            ("author", 8 * 1024 + 1),
            ("keywords", 8 * 1024 + 1),
            ("requires_python", 8 * 1024 + 1),
        ]
    ],
    ("summary-two-lines", lambda: wheel_upload(b"", override={"summary": "a\nb"}), "multiple"),
    (
        "classifier-too-long",
        lambda: wheel_upload(b"", extra=[("classifiers", "x" * 9000)]),
        "classifiers: the field must be",
    ),
    (
        "too-many-values",
        lambda: wheel_upload(b"", extra=[("requires_dist", "attrs")] * 1001),
        "requires_dist: at most 1000 values",
    ),
    (
        "form-too-large",
        lambda: wheel_upload(b"", extra=[("comment", "x" * (9 * MiB))]),
        "the upload form is too large",
    ),
    (
        "project-url-label-too-long",
        lambda: wheel_upload(b"", extra=[("project_urls", f"{'L' * 33}, https://example.com")]),
        "must be 1-32 characters",
    ),
    # -- 5. URLs: http(s) only
    *[
        (
            f"url-{label}",
            lambda key=key, value=value: wheel_upload(b"", extra=[(key, value)]),
            f"{key}: ",
        )
        for label, key, value in [
            ("home-page-javascript", "home_page", "javascript:alert(document.cookie)"),
            ("home-page-no-host", "home_page", "https://"),
            ("download-url-data", "download_url", "data:text/html,<script>x</script>"),
            ("project-url-javascript", "project_urls", "Docs, javascript:alert(1)"),
            ("project-url-javascript-caps", "project_urls", "Docs, JavaScript:alert(1)"),
            ("project-url-file", "project_urls", "Docs, file:///etc/passwd"),
            ("project-url-space", "project_urls", "Docs, https://a.example/ x"),
        ]
    ],
    # -- 6. filenames that would reach a header
    *[
        (
            f"filename-{label}",
            lambda filename=filename: Upload(b"x", filename, "bdist_wheel"),
            message,
        )
        for label, filename, message in [
            ("quote-semicolon-tag", 'demo_pkg-1.0-py3-none-any";x=y.whl', "only ASCII"),
            ("space", "demo_pkg-1.0-py3-none-any x.whl", "only ASCII"),
            ("latin1", "demo_pkg-1.0-py3-none-añy.whl", "only ASCII"),
            ("non-latin1", "demo_pkg-1.0-py3-none-\u6587.whl", "only ASCII"),
            ("plus-in-tag", "demo_pkg-1.0-py3-none-any+x.whl", "bad tag"),
            ("bang-in-tag", "demo_pkg-1.0-py3-none!-any.whl", "bad tag"),
        ]
    ],
    (
        "filename-sdist-semicolon",
        lambda: Upload(b"x", "demo_pkg-1.0;.tar.gz", "sdist"),
        "only ASCII",
    ),
    # -- 7. versions: long digit strings cost no CPU and no 500
    (
        "version-5000-digits",
        lambda: wheel_upload(b"", version="1" * 5000),
        "version: version must be 1-100 characters",
    ),
    (
        "version-101-chars",
        lambda: wheel_upload(b"", version="1." * 50 + "1"),
        "version: version must be 1-100 characters",
    ),
]


@pytest.fixture(autouse=True)
def _small_member_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 50)


@pytest.mark.parametrize(("build", "message"), [pytest.param(b, m, id=i) for i, b, m in REJECTED])
def test_hostile_upload_is_refused(build: Callable[[], Upload], message: str) -> None:
    upload = build()
    if not upload.data:  # a form problem: no archive needed
        upload.data = b"x"
    with pytest.raises(UploadError) as caught:
        run_checks(upload, limit=64 * MiB)
    assert message in caught.value.message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("data", "filename", "filetype"),
    [
        pytest.param(
            raw_zip([Member(f"demo_pkg/{i}", b"") for i in range(51)]),
            WHEEL,
            "bdist_wheel",
            id="zip",
        ),
        pytest.param(
            sdist(*(lambda tf, i=i: add_file(tf, f"{TOP}/{i}") for i in range(51))),
            SDIST,
            "sdist",
            id="tar",
        ),
    ],
)
def test_too_many_members(data: bytes, filename: str, filetype: str) -> None:
    with pytest.raises(UploadError, match="too many members"):
        inspect_archive(io.BytesIO(data), filename, filetype)


def _wheel_by_zipfile(method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for m in good_wheel_members():
            zf.writestr(m.name, m.data)
    return buf.getvalue()


ACCEPTED: list[tuple[str, Callable[[], Upload]]] = [
    *[
        (
            f"wheel-{label}",
            lambda method=method: wheel_upload(
                raw_zip([Member(m.name, m.data, method) for m in good_wheel_members()])
            ),
        )
        for label, method in [
            ("stored", zipfile.ZIP_STORED),
            ("deflate", zipfile.ZIP_DEFLATED),
            ("bzip2", zipfile.ZIP_BZIP2),
            ("lzma", zipfile.ZIP_LZMA),
        ]
    ],
    *[
        (f"wheel-zipfile-{label}", lambda method=method: wheel_upload(_wheel_by_zipfile(method)))
        for label, method in [
            ("stored", zipfile.ZIP_STORED),
            ("deflate", zipfile.ZIP_DEFLATED),
            ("bzip2", zipfile.ZIP_BZIP2),
            ("lzma", zipfile.ZIP_LZMA),
        ]
    ],
    (
        "wheel-big-lzma-member",  # more than one read of raw data, several of output
        lambda: wheel_upload(wheel_with(lzma_member("demo_pkg/data", os.urandom(300_000)))),
    ),
    (
        "wheel-compressible-member",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/z", bytes(900_000), zipfile.ZIP_BZIP2))),
    ),
    ("sdist-internal-symlink", lambda: sdist_upload(sdist(member(f"{TOP}/R", b"2", "setup.py")))),
    (
        "sdist-symlink-up-and-back",
        lambda: sdist_upload(sdist(member(f"{TOP}/docs/R", b"2", "../setup.py"))),
    ),
    (
        "sdist-hardlink",
        lambda: sdist_upload(sdist(member(f"{TOP}/copy.py", b"1", f"{TOP}/setup.py"))),
    ),
    ("sdist-long-name", lambda: sdist_upload(sdist(lambda tf: add_file(tf, f"{TOP}/{'a' * 300}")))),
    (
        "sdist-executable",
        lambda: sdist_upload(sdist(lambda tf: add_file(tf, f"{TOP}/x", mode=0o755))),
    ),
    ("zip-sdist", lambda: sdist_upload(zip_sdist(), SDIST_ZIP, name="demo-pkg")),
    (
        "metadata-at-the-limits",
        lambda: wheel_upload(
            zip_bytes_ok(),
            override={"summary": "s" * 512, "home_page": "https://example.com/x?y=1"},
            extra=[
                ("project_urls", f"{'L' * 32}, HTTPS://example.com"),
                ("download_url", "http://example.com/d"),
            ],
        ),
    ),
]


# Members Vestry never reads are not decompressed at upload (that would cost seconds on a large
# wheel, for bytes only the installer looks at): their headers are checked, their contents are
# the installer's to verify, as on PyPI. METADATA, WHEEL and PKG-INFO are read, and checked.
UNREAD: list[tuple[str, Callable[[], Upload]]] = [
    (
        "bzip2-bomb-in-an-unread-member",
        lambda: wheel_upload(
            wheel_with(
                Member(
                    "demo_pkg/z",
                    b"ok",
                    zipfile.ZIP_BZIP2,
                    raw=compress(zipfile.ZIP_BZIP2, b"ok" + bytes(8 * MiB)),
                )
            )
        ),
    ),
    (
        "bad-crc-of-an-unread-member",
        lambda: wheel_upload(wheel_with(Member("demo_pkg/a", b"abc", claimed_crc=1))),
    ),
]


@pytest.mark.parametrize("build", [pytest.param(b, id=i) for i, b in UNREAD])
def test_members_vestry_does_not_read_are_not_decompressed(build: Callable[[], Upload]) -> None:
    assert run_checks(build(), project_exists=False) == METADATA


def zip_bytes_ok() -> bytes:
    return raw_zip(good_wheel_members())


@pytest.mark.parametrize("build", [pytest.param(b, id=i) for i, b in ACCEPTED])
def test_legitimate_upload_is_accepted(build: Callable[[], Upload]) -> None:
    upload = build()
    project_exists = upload.filename.endswith(".zip")
    metadata = run_checks(upload, project_exists=project_exists)
    if upload.filetype == "bdist_wheel":
        assert metadata == METADATA


_PEAK = textwrap.dedent(
    """
    import resource, sys
    from vestry.gateway.upload.archive import inspect_archive
    from vestry.gateway.upload.form import UploadError
    with open(sys.argv[1], "rb") as f:
        try:
            inspect_archive(f, sys.argv[2], sys.argv[3])
            print("accepted", end=" ")
        except UploadError:
            print("refused", end=" ")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def _peak_kib(path: Path, filename: str, filetype: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path), filename, filetype],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.parametrize(
    ("bomb", "filename", "filetype", "normal"),
    [
        ("metadata-bomb-bzip2.whl", WHEEL, "bdist_wheel", zip_bytes_ok),
        ("gnu-longname-bomb.tar.gz", SDIST, "sdist", sdist),
    ],
)
def test_bomb_costs_no_memory(
    tmp_path: Path, bomb: str, filename: str, filetype: str, normal: Callable[[], bytes]
) -> None:
    """The bzip2 bomb's METADATA expands to 500 MiB (the old check peaked near 1 GiB and
    accepted it); now the peak stays within a few MB of checking a normal file."""
    good = tmp_path / filename
    good.write_bytes(normal())
    assert _peak_kib(good, filename, filetype)[0] == "accepted"
    outcome, peak = _peak_kib(CORPUS / bomb, filename, filetype)
    assert outcome == "refused"
    assert peak - _peak_kib(good, filename, filetype)[1] < 20 * 1024

"""Which version strings an index accepts: one rule, for the gateway's upload checks and the
index alike (they must never disagree, or an upload passes one and fails the other)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from vestry.common.errors import InvalidArgument

__all__ = ["MAX_VERSION_LENGTH", "LocalVersionRefused", "local_version_refused", "parse_version"]

# packaging parses any number of digits, and some of its steps are quadratic in them: the length
# is bounded before it sees the string.
MAX_VERSION_LENGTH = 100


def local_version_refused(version: str) -> str:
    """PyPI's text for a local version, word for word: clients and people search for it."""
    return (
        f"{version!r} is an invalid value for Version. Error: Can't use PEP 440 local versions. "
        "See https://packaging.python.org/specifications/core-metadata for more information."
    )


class LocalVersionRefused(InvalidArgument):
    """A local version where they are not allowed; its message is PyPI's, shown as it is."""


def parse_version(version: str, *, allow_local: bool = False) -> Version:
    """The PEP 440 version of an upload or a release named in a request.

    Raises InvalidArgument, whose message names the problem, for an empty or over-long string,
    surrounding whitespace (packaging tolerates it, but the string is stored and shown as sent),
    anything PEP 440 does not define, and, unless `allow_local`, a local version (`1.0+cu121`),
    which PyPI refuses (LocalVersionRefused, with PyPI's text).
    """
    if not version or len(version) > MAX_VERSION_LENGTH:
        raise InvalidArgument(f"version must be 1-{MAX_VERSION_LENGTH} characters")
    if version != version.strip():
        raise InvalidArgument(f"version {version!r} has leading or trailing whitespace")
    try:
        parsed = Version(version)
    except InvalidVersion as exc:
        raise InvalidArgument(f"{version!r} is not a valid version (PEP 440)") from exc
    if parsed.local is not None and not allow_local:
        raise LocalVersionRefused(local_version_refused(version))
    return parsed

"""Which distribution filenames an index accepts, as characters: one rule for the gateway's
upload checks and the index alike. (Whether the name fits its project, version and file type is
the upload checks' business: packaging parses it there.)"""

from __future__ import annotations

import re

from vestry.common.errors import InvalidArgument

__all__ = ["MAX_FILENAME_LENGTH", "check_filename_characters"]

MAX_FILENAME_LENGTH = 255
# Filenames go verbatim into URLs, file paths and Content-Disposition headers: only what the
# wheel and sdist specs can produce, ASCII, with no quote or ';' to carry anything into a header.
_FILENAME_CHARS = re.compile(r"[A-Za-z0-9._+!-]+\Z")
_SEPARATOR_OR_CONTROL = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_filename_characters(filename: str) -> None:
    """Raise InvalidArgument, saying why, unless `filename` is 1-255 characters from the
    wheel/sdist alphabet, without path separators or control characters, not hidden."""
    if not filename or len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidArgument(f"invalid filename: it must be 1-{MAX_FILENAME_LENGTH} characters")
    if _SEPARATOR_OR_CONTROL.search(filename):
        raise InvalidArgument(
            "invalid filename: it may not contain '/', '\\' or control characters"
        )
    if filename.startswith("."):
        raise InvalidArgument("invalid filename")
    if not _FILENAME_CHARS.match(filename):
        raise InvalidArgument(
            f"invalid filename {filename[:100]!r}: only ASCII letters, digits and '._+!-' "
            "are allowed"
        )

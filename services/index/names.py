"""Project names: validity, PEP 503 normalisation and look-alike detection."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

from vestry.common.errors import InvalidArgument

__all__ = ["MAX_NAME_LENGTH", "normalize", "ultranormalize", "validate_project_name"]

MAX_NAME_LENGTH = 200
# The core metadata spec's rule for valid names (ASCII letters, digits, . _ -, alphanumeric ends).
_VALID = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE)
_CONFUSABLE = str.maketrans({"l": "1", "i": "1", "o": "0"})


def validate_project_name(name: str) -> str:
    """Return the PEP 503 normalised form of `name`, or raise InvalidArgument."""
    if not name or len(name) > MAX_NAME_LENGTH or not _VALID.match(name):
        raise InvalidArgument(
            f"{name[:MAX_NAME_LENGTH]!r} is not a valid project name: use ASCII letters, digits, "
            "'.', '_' and '-', starting and ending with a letter or digit "
            f"(at most {MAX_NAME_LENGTH} characters)"
        )
    return canonicalize_name(name)


def normalize(name: str) -> str:
    return canonicalize_name(name)


def ultranormalize(name: str) -> str:
    """Fold names that look alike: drop separators, l/i -> 1, o -> 0 (as PyPI does)."""
    return re.sub(r"[._-]", "", name.lower()).translate(_CONFUSABLE)

"""HTTP header values that more than one process writes."""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["content_disposition"]

# What a Content-Disposition may carry verbatim in a quoted string; anything else is %-encoded.
_PLAIN_FILENAME = re.compile(r"^[A-Za-z0-9._+\-]{1,255}\Z")


def content_disposition(filename: str) -> str:
    """`attachment` with the filename (RFC 6266), quoted so it can never break out of the header:
    `filename="…"` for a plain name (every valid wheel and sdist), else `filename*=UTF-8''…`
    (RFC 8187) with everything but letters and digits %-encoded."""
    if _PLAIN_FILENAME.match(filename):
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
